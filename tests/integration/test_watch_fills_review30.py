"""watch_fills on the simulator: each execution of the account once, as get_fills reports it, across a reconnect.

Binance spot, Bybit spot and Bybit linear, with fees charged (maker 0.1 %, taker 0.2 %), so a
fee the stream and the REST list disagree on shows.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import Credentials, Fill, NewOrder
from lotusx.sim import Sim, SimConfig, serve

SYMBOL = "BTCUSDT"
FEES = SimConfig(maker_fee=Decimal("0.001"), taker_fee=Decimal("0.002"))
VENUES = [("binance", "binance"), ("bybit", "bybit"), ("bybit-linear", "bybit")]
pytestmark = [pytest.mark.timeout(90), pytest.mark.parametrize(("spec", "venue"), VENUES)]
_ids = itertools.count()


async def until(done: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    """Poll ``done`` every 20 ms, ``limit`` seconds at most."""
    for _ in range(int(limit / 0.02)):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


def market() -> NewOrder:
    return NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.001"),
                    client_order_id=f"fills-{next(_ids)}")


class Watcher:
    """``watch_fills()`` read in a task into ``got``."""

    def __init__(self, ex: Any) -> None:
        self.got: list[Fill] = []
        self.task = asyncio.create_task(self._run(ex))

    async def _run(self, ex: Any) -> None:
        async for fill in ex.watch_fills():
            self.got.append(fill)

    def filled(self, order_id: str) -> Decimal:
        if self.task.done():
            self.task.result()  # the watch failed: its error, now
            raise AssertionError("the watch ended")
        return sum((f.quantity for f in self.got if f.order_id == order_id), Decimal(0))


@asynccontextmanager
async def watching(spec: str, venue: str) -> AsyncIterator[tuple[Sim, Any, Watcher]]:
    """A connector on a fee-charging sim whose fill watch is live: a market order placed now will be streamed."""
    async with serve(venues=(venue,), seed=1, config=FEES) as sim:
        keys = sim.api_keys(venue)
        async with lotusx.connect(spec, credentials=Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)) as ex:
            watcher = Watcher(ex)
            for attempt in itertools.count():  # placed before the subscription is acked, it is never streamed
                probe = await ex.place_order(market())
                try:
                    await until(lambda probe=probe: bool(watcher.filled(probe.order_id)), "a probe fill",  # type: ignore[misc]
                                limit=1.0)
                    break
                except AssertionError:
                    assert attempt < 15, "the fill stream never went live"
            yield sim, ex, watcher
            assert not watcher.task.done()
            # Read from the stream, not recovered by REST from a push that failed its schema.
            assert unreadable(ex, venue) == 0
        await asyncio.wait_for(watcher.task, 10)  # closing the connector ended the watch, without an error


def unreadable(ex: Any, venue: str) -> float:
    """The stream messages the connector could not read (each one makes it ask REST instead)."""
    return sum(ex.metrics.registry.get_sample_value("lotusx_ws_malformed_frames_total",
                                                     {"exchange": venue, "reason": reason}) or 0.0
               for reason in ("schema", "json"))


def told(fill: Fill) -> tuple[object, ...]:
    """What the stream and the REST list must agree on (myTrades gives no client order id)."""
    return (fill.trade_id, fill.order_id, fill.symbol, fill.side, fill.price, fill.quantity, fill.fee,
            fill.fee_asset, fill.maker, fill.timestamp)


async def test_a_fill_arrives_on_the_stream_as_get_fills_reports_it(spec: str, venue: str) -> None:
    """A market order's executions are streamed with the price, quantity, fee and maker flag the REST list gives."""
    async with watching(spec, venue) as (_, ex, watcher):
        order = await ex.place_order(market())
        await until(lambda: watcher.filled(order.order_id) == Decimal("0.001"), "the order's fills streamed")
        streamed = [f for f in watcher.got if f.order_id == order.order_id]
        listed = [f for f in await ex.get_fills(SYMBOL, since=streamed[0].timestamp - 1000)
                  if f.order_id == order.order_id]
        assert sorted(map(told, streamed)) == sorted(map(told, listed))
        assert all(f.fee > 0 and not f.maker for f in streamed)  # a taker, charged
        assert all(type(v) is Decimal for f in streamed for v in (f.price, f.quantity, f.fee))


async def test_fills_made_while_the_stream_is_down_come_once_after_the_reconnect(spec: str, venue: str) -> None:
    """Orders filled while the stream's reconnects are refused are reported after it is back, each fill once."""
    async with watching(spec, venue) as (sim, ex, watcher):
        chaos, stream = sim.chaos(venue), next(iter(ex.parts.streams))
        reconnects = stream.stats.reconnects
        chaos.refuse_ws, chaos.drop_ws_once = True, 1  # the next account event is the socket's last
        try:
            dropped = await ex.place_order(market())
            await until(lambda: stream.stats.reconnects > reconnects, "the stream dropped")
            missed = [await ex.place_order(market()) for _ in range(3)]  # filled with no stream to tell
            await asyncio.sleep(0.3)
            assert not any(watcher.filled(o.order_id) for o in missed)
        finally:
            chaos.refuse_ws = False
        for order in (dropped, *missed):
            await until(lambda order=order: watcher.filled(order.order_id) == Decimal("0.001"),  # type: ignore[misc]
                        f"order {order.order_id}'s fills reported")
        after = await ex.place_order(market())  # the stream is live again: what follows is streamed
        await until(lambda: watcher.filled(after.order_id) == Decimal("0.001"), "a fill after the reconnect")
        keys = [(f.trade_id, f.order_id) for f in watcher.got]
        assert len(keys) == len(set(keys)), "a fill was yielded twice"
        ours = {o.order_id for o in (dropped, *missed, after)}
        listed = [f for f in await ex.get_fills(SYMBOL, since=watcher.got[0].timestamp - 1000) if f.order_id in ours]
        assert sorted(map(told, (f for f in watcher.got if f.order_id in ours))) == sorted(map(told, listed))


async def test_closing_the_connector_ends_the_watch(spec: str, venue: str) -> None:
    """The watcher's `async for` ends without an error when the connector's `async with` ends."""
    async with watching(spec, venue) as (_, _, watcher):
        assert not watcher.task.done()
    # watching() waited for the task after the connector's close: it is over, and ended without an error.
    assert watcher.task.done() and watcher.task.exception() is None

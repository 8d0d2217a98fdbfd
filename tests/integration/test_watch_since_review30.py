"""The account watches' since=: what the account did from a venue time on, made before the stream is live, is
yielded once each (reconciled by REST once the subscription is acked), and nothing older; without it, no REST.

On the simulator, Binance spot, Bybit spot and Bybit linear.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import ConfigError, Credentials, Fill, NewOrder, Order
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.sim import Sim, serve
from tests.integration.test_watch_fills_review30 import VENUES, until

SYMBOL = "BTCUSDT"
pytestmark = [pytest.mark.timeout(90), pytest.mark.parametrize(("spec", "venue"), VENUES)]
_ids = itertools.count()


def market() -> NewOrder:
    return NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.001"),
                    client_order_id=f"since-m-{next(_ids)}")


def resting() -> NewOrder:
    return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.001"),
                    price=Decimal(40_000), client_order_id=f"since-l-{next(_ids)}")


class Wire:
    """The endpoint of every REST request the connector sends (a user ``inner`` layer)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    async def record(self, request: Request, call_next: Service) -> Response:
        self.names.append(request.endpoint.name)
        return await call_next(request)


@asynccontextmanager
async def connected(spec: str, venue: str) -> AsyncIterator[tuple[Sim, Any, Wire]]:
    async with serve(venues=(venue,), seed=1) as sim:
        keys, wire = sim.api_keys(venue), Wire()
        async with lotusx.connect(spec, credentials=Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue),
                                  inner=[lotusx.around(wire.record)]) as ex:
            yield sim, ex, wire


class Reader:
    """An account watch read in a task into ``got``."""

    def __init__(self, updates: AsyncIterator[Any]) -> None:
        self.got: list[Any] = []
        self.task = asyncio.create_task(self._run(updates))

    async def _run(self, updates: AsyncIterator[Any]) -> None:
        async for update in updates:
            self.got.append(update)

    def of(self, order_id: str) -> list[Any]:
        if self.task.done():
            self.task.result()  # the watch failed: its error, now
            raise AssertionError("the watch ended")
        return [u for u in self.got if u.order_id == order_id]


async def past(ex: Any) -> int:
    """The venue's time now, a moment after everything done so far (its times are in ms)."""
    await asyncio.sleep(0.01)
    since: int = await ex.get_server_time()
    await asyncio.sleep(0.01)
    return since


def keys(fills: list[Fill]) -> list[tuple[str, str]]:
    return sorted((f.trade_id, f.order_id) for f in fills)


async def test_fills_since_a_time_made_before_the_stream_is_live_come_once(spec: str, venue: str) -> None:
    """Fills made after since, before the watch starts and while its stream is held down, are each yielded once;
    one made before since is not."""
    async with connected(spec, venue) as (sim, ex, _):
        before = await ex.place_order(market())
        since = await past(ex)
        early = await ex.place_order(market())
        sim.chaos(venue).refuse_ws = True
        reader = Reader(ex.watch_fills([SYMBOL], since=since))
        await asyncio.sleep(0.3)
        down = await ex.place_order(market())  # the watch is started, its stream not up
        sim.chaos(venue).refuse_ws = False
        await until(lambda: bool(reader.of(early.order_id)) and bool(reader.of(down.order_id)), "the fills")
        later = await ex.place_order(market())
        await until(lambda: bool(reader.of(later.order_id)), "a fill after the stream is live")
        await asyncio.sleep(0.3)
        assert not reader.of(before.order_id)
        listed = await ex.get_fills(SYMBOL, since=since)
        assert keys(reader.got) == keys(listed)  # each once, none older than since
        assert {f.order_id for f in reader.got} == {early.order_id, down.order_id, later.order_id}


async def test_order_changes_since_a_time_made_before_the_watch_starts_come_once(spec: str, venue: str) -> None:
    """An order placed and cancelled after since, and one left open, are yielded (once, in their last state)
    by a watch started after; one placed and cancelled before since is not."""
    async with connected(spec, venue) as (_, ex, _):
        old = await ex.place_order(resting())
        await ex.cancel_order(SYMBOL, order_id=old.order_id)
        since = await past(ex)
        pulled = await ex.place_order(resting())
        await ex.cancel_order(SYMBOL, order_id=pulled.order_id)
        left = await ex.place_order(resting())
        reader = Reader(ex.watch_orders([SYMBOL], since=since))
        await until(lambda: bool(reader.of(pulled.order_id)) and bool(reader.of(left.order_id)), "the orders")
        await ex.cancel_order(SYMBOL, order_id=left.order_id)
        await until(lambda: len(reader.of(left.order_id)) == 2, "the cancel after the stream is live")
        await asyncio.sleep(0.3)
        assert not reader.of(old.order_id)
        assert [o.status for o in reader.of(pulled.order_id)] == ["CANCELED"]
        assert [o.status for o in reader.of(left.order_id)] == ["NEW", "CANCELED"]


async def test_without_since_a_watch_asks_nothing_by_rest(spec: str, venue: str) -> None:
    """A fill watch without since, live and streaming a fill, has sent no REST request but the order."""
    async with connected(spec, venue) as (_, ex, wire):
        reader = Reader(ex.watch_fills([SYMBOL]))
        await until(lambda: bool(ex.parts.streams), "the stream opened")
        await asyncio.wait_for(next(iter(ex.parts.streams)).live(), 10)
        placed = wire.names[:]
        order: Order = await ex.place_order(market())
        await until(lambda: bool(reader.of(order.order_id)), "the fill streamed")
        await asyncio.sleep(0.3)
        assert len(wire.names) == len(placed) + 1  # the placement's request only
        assert not [name for name in placed + wire.names if "fill" in name or "trade" in name or "exec" in name]


async def test_with_since_the_reconcile_is_asked(spec: str, venue: str) -> None:
    """The same watch with since asks the venue's fills once it is live (the test above can fail)."""
    async with connected(spec, venue) as (_, ex, wire):
        since = await past(ex)
        reader = Reader(ex.watch_fills([SYMBOL], since=since))
        order: Order = await ex.place_order(market())
        await until(lambda: bool(reader.of(order.order_id)), "the fill")
        assert len(wire.names) > 2  # time, placement, and the reconcile's query


@pytest.mark.parametrize("watch", ["watch_fills", "watch_orders"])
@pytest.mark.parametrize("ahead", [3_600_000, None])
async def test_a_since_in_the_future_or_negative_is_refused_before_anything_is_sent(
        spec: str, venue: str, watch: str, ahead: int | None) -> None:
    """since an hour ahead of the venue, or negative, is a ConfigError: no request, no stream."""
    async with connected(spec, venue) as (_, ex, wire):
        now = await ex.get_server_time()
        asked = len(wire.names)
        since = -1 if ahead is None else now + ahead
        with pytest.raises(ConfigError, match="since"):
            await anext(getattr(ex, watch)([SYMBOL], since=since))
        assert (len(wire.names), len(ex.parts.streams)) == (asked, 0)


async def test_a_market_maker_trading_at_once_is_told_exactly_the_venues_fills(spec: str, venue: str) -> None:
    """t = get_server_time(); watch_fills(since=t) in a task; trade at once: the stream yields get_fills(since=t)."""
    async with connected(spec, venue) as (_, ex, _):
        t = await ex.get_server_time()
        reader = Reader(ex.watch_fills([SYMBOL], since=t))
        placed = [await ex.place_order(market()) for _ in range(3)]
        await until(lambda: all(reader.of(o.order_id) for o in placed), "every order's fills")
        await asyncio.sleep(0.5)  # a repeat would show by now
        assert keys(reader.got) == keys(await ex.get_fills(SYMBOL, since=t))

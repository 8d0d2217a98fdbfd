"""Closing a connector while its account watch reconciles by REST after a reconnect ends the watch quietly."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import Credentials, NewOrder
from lotusx.sim import serve

SYMBOL = "BTCUSDT"
pytestmark = pytest.mark.timeout(60)


async def until(done: Callable[[], bool]) -> None:
    """Poll ``done`` (a stream's stats have no event to wait on)."""
    for _ in range(500):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in 10 s")


def probe(n: int) -> NewOrder:
    return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.001"),
                    price=Decimal(40_000), client_order_id=f"close-probe-{n}")


def market(n: int) -> NewOrder:
    return NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.001"),
                    client_order_id=f"close-market-{n}")


async def closed_while_reconciling(venue: str, watch: str, trade: Callable[[Any, int], Awaitable[object]]) -> None:
    """Watch with ``watch`` until ``trade`` shows on it, force a reconnect, slow REST, close mid-reconcile;
    returns once the watcher has ended, or raises what it raised."""
    dialect = venue.split("-")[0]
    async with serve(venues=(dialect,)) as sim:
        keys, chaos = sim.api_keys(dialect), sim.chaos(dialect)
        async with lotusx.connect(venue, credentials=Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(dialect), ws_url=sim.ws_url(dialect)) as ex:
            live = asyncio.Event()

            async def watching() -> None:
                async for _ in getattr(ex, watch)():
                    live.set()

            watcher = asyncio.create_task(watching())
            for n in itertools.count():  # until a trade shows on the stream: it is live
                await trade(ex, n)
                try:
                    await asyncio.wait_for(asyncio.shield(live.wait()), 0.2)
                    break
                except TimeoutError:
                    assert n < 50, f"{watch} never went live"
            stream = next(iter(ex.parts.streams))
            reconnects = stream.stats.reconnects
            chaos.drop_ws_once = 1  # the next update on the stream is its last: a reconnect, then a reconcile
            await trade(ex, 100)
            chaos.latency_ms = 5000  # the reconcile's REST queries now wait
            await until(lambda: stream.stats.reconnects > reconnects and stream.stats.connections > 0)
            await asyncio.sleep(0.3)  # the Resumed is read and the reconcile's first query is on the wire
            assert not watcher.done()
        await asyncio.wait_for(watcher, 10)


async def rest_and_pull(ex: Any, n: int) -> None:
    await ex.cancel_order(SYMBOL, order_id=(await ex.place_order(probe(n))).order_id)


async def buy_at_market(ex: Any, n: int) -> None:
    await ex.place_order(market(n))


@pytest.mark.parametrize("venue", ["binance", "bybit"])
@pytest.mark.parametrize("watch", ["watch_orders", "watch_balances"])
async def test_a_watch_reconciling_when_the_connector_closes_ends_without_an_error(venue: str, watch: str) -> None:
    """The watcher's `async for` finishes when the `async with` ends while its reconcile waits on a slow REST answer."""
    await closed_while_reconciling(venue, watch, rest_and_pull)


async def test_a_position_watch_reconciling_when_the_connector_closes_ends_without_an_error() -> None:
    """Bybit linear's watch_positions, reconciling after a reconnect on a slow REST answer, ends at the close."""
    await closed_while_reconciling("bybit-linear", "watch_positions", buy_at_market)

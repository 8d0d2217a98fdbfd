"""A Bybit book that a delta leaves crossed is resynced from a new snapshot, never yielded."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from lotusx.exchanges.bybit import Bybit
from lotusx.sim import Sim
from lotusx.sim.book import DepthChange
from lotusx.sim.venue import Event

BTC = "BTCUSDT"


async def test_a_delta_that_crosses_the_book_resubscribes_and_is_never_yielded(bybit: Bybit, sim: Sim) -> None:
    """A crossing delta counts a 'crossed book' resync; the next book is the engine's own, uncrossed."""
    books = aiter(bybit.watch_order_book(BTC, depth=None))
    try:
        first = await asyncio.wait_for(anext(books), 5)
        engine = sim.engine("bybit").books[BTC]
        engine.flushes += 1  # the delta's u: the next in sequence, so only the crossing is wrong
        crossing = {first.asks[0][0] + 1: Decimal(1)}
        sim.venue("bybit").hub.publish(Event("depth", "spot", BTC, DepthChange(
            engine.update_id, engine.update_id, engine.flushes, crossing, {})))
        second = await asyncio.wait_for(anext(books), 5)
    finally:
        await books.aclose()
    assert bybit.metrics.book_resyncs.labels("bybit", BTC, "crossed book")._value.get() == 1
    assert second.bids[0][0] < second.asks[0][0]
    assert (second.bids, second.asks) == (engine.levels("BUY", 50), engine.levels("SELL", 50))

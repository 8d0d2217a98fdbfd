"""A symbol delisted while its book is watched: after the next reconnect it is lost alone, the other book goes on."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.kernel.errors import SubscriptionRejected
from lotusx.metrics import Metrics
from lotusx.models import OrderBook
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import MAKER
from tests.conftest import eventually

pytestmark = pytest.mark.timeout(60)

QUIET = SimConfig(driver_rate=0, depth_interval=0.02)
BOOK_STREAM = {"binance": "ethusdt@depth@100ms", "bybit": "orderbook.50.ETHUSDT"}


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_a_delisted_symbol_is_lost_alone_and_the_other_book_goes_on(venue: str) -> None:
    """ETH refused after a reconnect: lost("ETHUSDT", SubscriptionRejected) is called once, BTC keeps updating."""
    async with serve((venue,), seed=1, config=QUIET) as sim:
        metrics, told = Metrics(), []
        engine = sim.engine(venue)
        async with lotusx.connect(venue, rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue),
                                  metrics=metrics) as ex:
            source = ex.watch_order_books(["BTCUSDT", "ETHUSDT"], depth=20,
                                          lost=lambda symbol, error: told.append((symbol, error)))
            books: list[OrderBook] = []
            task = asyncio.create_task(_drain(source, books))
            try:
                await eventually(lambda: {b.symbol for b in books} == {"BTCUSDT", "ETHUSDT"}, "both books")
                del engine.books["ETHUSDT"]  # delisted: the venue refuses its stream from now on
                await _reconnect(sim, venue, engine, _best_bid(engine) + Decimal("0.01"))
                await eventually(lambda: told, "the loss of ETHUSDT")
                [(symbol, error)] = told
                assert symbol == "ETHUSDT" and isinstance(error, SubscriptionRejected)
                assert repr(BOOK_STREAM[venue]) in str(error)
                price = _best_bid(engine) + Decimal("0.01")  # inside the spread: the top of the book
                engine.place(MAKER, "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"), price=price)
                await eventually(lambda: any(b.symbol == "BTCUSDT" and b.bids and b.bids[0][0] == price
                                             for b in books), "BTCUSDT showing the order placed after the loss")
                assert not task.done()
                assert metrics.registry.get_sample_value("lotusx_ws_lost_streams_total", {"exchange": venue}) == 1
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def _reconnect(sim: Sim, venue: str, engine: Any, price: Decimal) -> None:
    """Drop the book socket at its next message (a BTC order makes one)."""
    chaos = sim.chaos(venue)
    chaos.drop_ws_after = 1
    try:
        engine.place(MAKER, "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"), price=price)
        await asyncio.sleep(0.2)
    finally:
        chaos.drop_ws_after = None


def _best_bid(engine: Any) -> Decimal:
    best: Decimal = engine.books["BTCUSDT"].prices("BUY")[0]
    return best


async def _drain(source: Any, into: list[OrderBook]) -> None:
    async for book in source:
        into.append(book)


"""watch_order_book(conflate=True): a book waiting for a slow reader when its stream drops is not handed over after."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

import lotusx
from lotusx.sim import Sim, serve
from lotusx.sim.venue import MAKER, SimConfig
from tests.conftest import eventually
from tests.integration.test_mm_soak_review15 import total

BTC = "BTCUSDT"


def move(sim: Sim, venue: str, category: str, steps: int) -> None:
    """The market maker bids ``steps`` ticks under the mid: the book changes, nothing trades."""
    book = sim.engine(venue, category).books[BTC]
    sim.engine(venue, category).place(MAKER, BTC, "BUY", "LIMIT", quantity=book.market.step * 100,
                                      price=book.market.mid - book.market.tick * steps)


@pytest.mark.parametrize("connector", ["binance", "bybit", "bybit-linear"])
async def test_a_book_from_before_a_drop_is_not_read_once_the_stream_is_down(connector: str) -> None:
    """The book the reader gets after an outage is the venue's book of after it, not the one held from before."""
    venue, category = ("bybit", "linear") if connector == "bybit-linear" else (connector, "spot")
    async with serve((venue,), config=SimConfig(driver_rate=0, depth_interval=0.01)) as sim, \
            lotusx.connect(connector, rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)) as ex, \
            contextlib.aclosing(ex.watch_order_book(BTC, conflate=True)) as books:
        await asyncio.wait_for(anext(books), 10)  # live
        chaos = sim.chaos(venue)
        chaos.update({"refuse_ws": True, "drop_ws_once": 1})
        move(sim, venue, category, 3)  # its diff is sent, then the connection closes: held for the reader
        await eventually(lambda: total(ex.metrics.ws_connect_failures) >= 1, "a refused reconnect")
        move(sim, venue, category, 4)  # while the stream is down
        await asyncio.sleep(0.05)  # published (every 10 ms)
        now = await ex.get_order_book(BTC, depth=20)
        chaos.refuse_ws = False
        book = await asyncio.wait_for(anext(books), 10)
        assert book.sequence >= now.sequence
        assert (book.bids, book.asks) == (now.bids, now.asks)

"""``watch_order_book(conflate=True)`` on the sim: a consumer that looked away gets the newest book."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.models import OrderBook
from lotusx.sim import SimConfig, serve
from lotusx.sim.venue import MAKER

pytestmark = pytest.mark.timeout(60)

QUIET = SimConfig(driver_rate=0, depth_interval=0.02)
VENUES = pytest.mark.parametrize(("name", "venue", "category"), [
    ("binance", "binance", "spot"), ("bybit", "bybit", "spot"), ("bybit-linear", "bybit", "linear")])
ORDERS = 8


async def reads_to_the_last_order(name: str, venue: str, category: str, *, conflate: bool) -> int:
    """Read a book, place ORDERS bids at its best bid (each its own diff) without reading, then count
    the reads it takes to see the last one."""
    async with serve((venue,), seed=1, config=QUIET) as sim:
        engine = sim.engine(venue, category)
        async with lotusx.connect(name, rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)) as ex, aclosing(
                ex.watch_order_book("BTCUSDT", conflate=conflate)) as books:
            first = await asyncio.wait_for(anext(books), 10)
            price, quantity = first.bids[0]
            for _ in range(ORDERS):
                engine.place(MAKER, "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"), price=price)
                await asyncio.sleep(QUIET.depth_interval * 3)  # a diff each
            await asyncio.sleep(0.2)  # the last diff sent and read
            last = (price, quantity + ORDERS * Decimal("0.01"))
            for reads in range(1, 3 * ORDERS):
                book = await asyncio.wait_for(anext(books), 5)
                if book.bids[0] == last:
                    return reads
            raise AssertionError("the last order never showed")


@VENUES
async def test_a_consumer_that_looked_away_gets_the_newest_book_not_the_next(name: str, venue: str,
                                                                            category: str) -> None:
    """conflate=True: after 8 updates unread, the next read (or the one after) shows the last of them."""
    assert await reads_to_the_last_order(name, venue, category, conflate=True) <= 2


@VENUES
async def test_without_conflate_every_book_comes_in_order(name: str, venue: str, category: str) -> None:
    """conflate=False (the default): the consumer gets the books in between too, oldest first."""
    assert await reads_to_the_last_order(name, venue, category, conflate=False) > 2


@VENUES
async def test_closing_a_conflated_watch_leaves_no_task(name: str, venue: str, category: str) -> None:
    """Leaving the aclosing block ends the reader and the stream's tasks at once."""
    async with serve((venue,), seed=1, config=QUIET) as sim, lotusx.connect(
            name, rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)) as ex:
        async with aclosing(ex.watch_order_books(["BTCUSDT", "ETHUSDT"], conflate=True)) as books:
            await asyncio.wait_for(_two(books), 10)
        assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("lotusx")] == []


async def _two(books: AsyncIterator[OrderBook]) -> list[Any]:
    return [await anext(books), await anext(books)]

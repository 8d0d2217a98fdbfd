"""Bybit books: a delta reaching a book that waits for its snapshot brings a fresh subscription."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import ServeApp
from tests.exchanges.bybit.test_bybit_streams import BTC, ScriptedBook, first, level, watched


async def test_a_delta_before_any_snapshot_resubscribes_for_one(serve_app: ServeApp) -> None:
    """Deltas with no snapshot since the book was reset would stall it (Bybit sends one only on subscribe)."""
    venue = ScriptedBook([("delta", level("101", 6), False), ("delta", level("102", 7), False)],
                         [("snapshot", level("100", 9), False)])
    async with watched(venue, serve_app) as (ex, books):
        book = await first(books, lambda b: True, limit=3.0)
        resyncs = ex.metrics.book_resyncs.labels("bybit", BTC, "no snapshot")._value.get()
    assert (book.sequence, book.bids, venue.subscribes, resyncs) == (9, [(Decimal(100), Decimal(1))], 2, 1)

"""A maintained book that ends up crossed (best bid >= best ask) is wrong: it is resynced, never yielded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from lotusx.book import BookEvent, DiffSync, Gap, SnapshotDeltaSync, follow_books
from lotusx.book.follow import Snapshot
from lotusx.book.sync import CROSSED

BIDS, ASKS = [("100", "1")], [("101", "1")]


def crossing_bid(first: int, last: int) -> BookEvent:
    """A diff that adds a bid above the best ask of BIDS/ASKS."""
    return BookEvent(first, last, [("102", "1")], [])


def test_a_diff_that_crosses_the_book_is_a_gap() -> None:
    """DiffSync answers a Gap with reason CROSSED and discards the book."""
    sync = DiffSync("X")
    assert sync.on_snapshot(BIDS, ASKS, 10) == "snapshot"
    outcome = sync.on_event(crossing_bid(11, 11))
    assert isinstance(outcome, Gap) and outcome.reason == CROSSED
    assert not sync.synced and not sync.book.bids


def test_a_snapshot_whose_buffered_diffs_cross_it_is_a_gap() -> None:
    """Replaying the buffer onto a snapshot into a crossed book answers a Gap, not a book."""
    sync = DiffSync("X")
    sync.on_event(crossing_bid(11, 11))
    outcome = sync.on_snapshot(BIDS, ASKS, 10)
    assert isinstance(outcome, Gap) and outcome.reason == CROSSED
    assert not sync.synced


def test_a_delta_that_crosses_a_bybit_book_is_a_gap() -> None:
    """SnapshotDeltaSync answers a Gap with reason CROSSED and waits for a new snapshot."""
    sync = SnapshotDeltaSync("X")
    assert sync.on_message("snapshot", 5, BIDS, ASKS) == "snapshot"
    outcome = sync.on_message("delta", 6, [], [("99", "1")])
    assert isinstance(outcome, Gap) and outcome.reason == CROSSED
    assert not sync.synced


async def test_follow_books_never_yields_a_crossed_book_and_resyncs_it() -> None:
    """The crossed book is counted as a CROSSED resync; the next book comes from a new snapshot."""
    resyncs: list[tuple[str, str]] = []
    snapshots: list[Snapshot] = [(BIDS, ASKS, 10), ([("102", "1")], [("103", "1")], 20)]
    diffs: asyncio.Queue[Any] = asyncio.Queue()

    async def stream() -> AsyncIterator[Any]:
        while True:
            yield await diffs.get()

    async def snapshot(_: str) -> Snapshot:
        return snapshots.pop(0)

    books = follow_books([DiffSync("X")], stream(), event=lambda m: ("X", m), reconnected=lambda _: False,
                         snapshot=snapshot, resynced=lambda symbol, reason: resyncs.append((symbol, reason)))
    try:
        first = await asyncio.wait_for(anext(books), 1)
        assert first.sequence == 10
        diffs.put_nowait(crossing_bid(11, 11))
        second = await asyncio.wait_for(anext(books), 1)
    finally:
        await books.aclose()
    assert resyncs == [("X", CROSSED)]
    assert (second.sequence, second.bids[0][0], second.asks[0][0]) == (20, Decimal(102), Decimal(103))

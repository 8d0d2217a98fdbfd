"""A maintained book that ends up crossed (best bid >= best ask) is wrong: it is resynced, never yielded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from lotusx.book import BookEvent, DiffSync, Gap, SnapshotDeltaSync, follow_books, readable
from lotusx.book.follow import Snapshot
from lotusx.book.sync import CROSSED
from lotusx.models import OrderBook

BIDS, ASKS = [("100", "1")], [("101", "1")]


def crossing_bid(first: int, last: int) -> BookEvent:
    """A diff that adds a bid above the best ask of BIDS/ASKS."""
    return BookEvent(first, last, [("102", "1")], [])


def test_a_diff_that_crosses_the_book_is_a_gap() -> None:
    """Asked at the read, readable() answers a Gap with reason CROSSED and discards the book."""
    sync = DiffSync("X")
    assert sync.on_snapshot(BIDS, ASKS, 10) == "snapshot"
    assert sync.on_event(crossing_bid(11, 11)) == "applied"
    outcome = readable(sync)
    assert isinstance(outcome, Gap) and outcome.reason == CROSSED
    assert not sync.synced and not sync.book.bids


def test_a_book_that_is_not_crossed_is_left_as_it_is() -> None:
    """readable() answers the book's view and keeps the book."""
    sync = DiffSync("X")
    sync.on_snapshot(BIDS, ASKS, 10)
    assert readable(sync).bids == [(Decimal(100), Decimal(1))]  # type: ignore[union-attr]
    assert sync.synced


def test_a_snapshot_whose_buffered_diffs_cross_it_is_a_gap() -> None:
    """A snapshot whose replayed buffer crosses it: readable() answers a Gap, not a book."""
    sync = DiffSync("X")
    sync.on_event(crossing_bid(11, 11))
    assert sync.on_snapshot(BIDS, ASKS, 10) == "snapshot"
    outcome = readable(sync)
    assert isinstance(outcome, Gap) and outcome.reason == CROSSED
    assert not sync.synced


def test_a_delta_that_crosses_a_bybit_book_is_a_gap() -> None:
    """After a crossing Bybit delta, readable() answers a CROSSED Gap and the book waits for a snapshot."""
    sync = SnapshotDeltaSync("X")
    assert sync.on_message("snapshot", 5, BIDS, ASKS) == "snapshot"
    assert sync.on_message("delta", 6, [], [("99", "1")]) == "applied"
    outcome = readable(sync)
    assert isinstance(outcome, Gap) and outcome.reason == CROSSED
    assert not sync.synced


async def after_one_diff(snapshots: list[Snapshot], diff: BookEvent, depth: int | None = None
                         ) -> tuple[OrderBook, OrderBook, list[tuple[str, str]]]:
    """follow_books on one symbol: the first snapshot's book, the next book yielded after ``diff``, the resyncs."""
    resyncs: list[tuple[str, str]] = []
    diffs: asyncio.Queue[Any] = asyncio.Queue()

    async def stream() -> AsyncIterator[Any]:
        while True:
            yield await diffs.get()

    async def snapshot(_: str) -> Snapshot:
        return snapshots.pop(0)

    books = follow_books([DiffSync("X")], stream(), event=lambda m: ("X", m), reconnected=lambda _: False,
                         snapshot=snapshot, resynced=lambda symbol, reason: resyncs.append((symbol, reason)),
                         depth=depth)
    try:
        first = await asyncio.wait_for(anext(books), 1)
        diffs.put_nowait(diff)
        second = await asyncio.wait_for(anext(books), 1)
    finally:
        await books.aclose()
    return first, second, resyncs


async def test_follow_books_never_yields_a_crossed_book_and_resyncs_it() -> None:
    """The crossed book is counted as a CROSSED resync; the next book comes from a new snapshot."""
    first, second, resyncs = await after_one_diff([(BIDS, ASKS, 10), ([("102", "1")], [("103", "1")], 20)],
                                                  crossing_bid(11, 11))
    assert first.sequence == 10
    assert resyncs == [("X", CROSSED)]
    assert (second.sequence, second.bids[0][0], second.asks[0][0]) == (20, Decimal(102), Decimal(103))


async def test_follow_books_never_yields_a_snapshot_its_buffered_diffs_crossed() -> None:
    """A snapshot whose replayed diffs cross it counts a CROSSED resync; the next snapshot is yielded."""
    resyncs: list[tuple[str, str]] = []
    snapshots: list[Snapshot] = [(BIDS, ASKS, 10), ([("102", "1")], [("103", "1")], 20)]
    diff_seen = asyncio.Event()

    async def stream() -> AsyncIterator[Any]:
        yield crossing_bid(11, 11)  # buffered: the first snapshot is still on its way
        await asyncio.Event().wait()

    def event(message: Any) -> tuple[str, Any]:
        diff_seen.set()
        return "X", message

    async def snapshot(_: str) -> Snapshot:
        await diff_seen.wait()
        return snapshots.pop(0)

    books = follow_books([DiffSync("X")], stream(), event=event, reconnected=lambda _: False,
                         snapshot=snapshot, resynced=lambda symbol, reason: resyncs.append((symbol, reason)))
    try:
        book = await asyncio.wait_for(anext(books), 1)
    finally:
        await books.aclose()
    assert resyncs == [("X", CROSSED)]
    assert (book.sequence, book.bids[0][0], book.asks[0][0]) == (20, Decimal(102), Decimal(103))

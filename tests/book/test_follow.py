"""follow_diffs: the stream/snapshot driver of a DiffSync, without a network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from lotusx import ProtocolError
from lotusx.book import BookEvent, DiffSync, Gap, follow_books, follow_diffs
from lotusx.book.follow import UNREADABLE_IN_A_ROW, Snapshot
from lotusx.testing import FakeClock
from lotusx.ws.backoff import Backoff

RECONNECT = object()
RESUMED = object()  # what a ReconnectWs puts once resubscribed; follow_diffs needs no predicate for it


class Feed:
    """Messages pushed by the test; an async iterator that waits when empty."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self.queue.get()

    def push(self, *messages: Any) -> None:
        for message in messages:
            self.queue.put_nowait(message)


def diff(first: int, last: int, price: str) -> BookEvent:
    return BookEvent(first, last, [(price, "1")], [])


def follow(feed: Feed, snapshots: list[Snapshot], resyncs: list[str]) -> AsyncIterator[Any]:
    async def snapshot() -> Snapshot:
        return snapshots.pop(0)

    return follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent) else None,
                        reconnected=lambda m: m is RECONNECT, snapshot=snapshot, resynced=resyncs.append)


async def test_a_quiet_symbol_still_gets_its_snapshot_book() -> None:
    """With no diff at all, the snapshot alone is yielded as the book."""
    books = follow(Feed(), [([("10", "1")], [], 5)], [])
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.sequence, book.bids) == (5, [(Decimal(10), Decimal(1))])
    await books.aclose()


async def test_diffs_apply_in_order_and_unrelated_messages_are_ignored() -> None:
    """After the snapshot, each continuing diff yields a book; other messages change nothing."""
    feed = Feed()
    books = follow(feed, [([], [], 5)], [])
    assert (await anext(books)).sequence == 5
    feed.queue.put_nowait("a trade, not a diff")
    feed.queue.put_nowait(diff(6, 7, "11"))
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.sequence, book.bids) == (7, [(Decimal(11), Decimal(1))])
    await books.aclose()


async def test_a_gap_resyncs_from_a_new_snapshot() -> None:
    """A skipped update id reports a resync and the next snapshot rebuilds the book."""
    feed, resyncs = Feed(), []
    books = follow(feed, [([], [], 5), ([("20", "2")], [], 12)], resyncs)
    await anext(books)
    feed.queue.put_nowait(diff(9, 10, "13"))  # 6..8 lost
    book = await asyncio.wait_for(anext(books), 1)
    assert resyncs == ["sequence gap"]
    assert (book.sequence, book.bids) == (12, [(Decimal(20), Decimal(2))])
    await books.aclose()


async def test_a_diff_that_could_not_be_read_resyncs_a_synced_book() -> None:
    """A lost diff (event gives a Gap) discards the synced book: the next snapshot rebuilds it."""
    feed, resyncs = Feed(), []
    snapshots = _snapshots([([], [], 5), ([("20", "2")], [], 9)])
    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent | Gap) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshots, resynced=resyncs.append)
    await anext(books)
    feed.push(Gap("X", "unreadable message"))
    book = await asyncio.wait_for(anext(books), 1)
    assert resyncs == ["unreadable message"]
    assert (book.sequence, book.bids) == (9, [(Decimal(20), Decimal(2))])
    await books.aclose()


async def test_a_diff_lost_while_the_snapshot_is_on_its_way_asks_for_another() -> None:
    """The snapshot asked for before the loss may not hold the lost diff: a new one is asked for
    and is the book, though no later diff would ever show the hole."""
    feed, resyncs, gate, asked = Feed(), [], asyncio.Event(), []

    async def snapshot() -> Snapshot:
        asked.append(1)
        if len(asked) == 1:
            await gate.wait()
            return [("10", "1")], [], 5  # taken before diff 6, the one lost
        return [("10", "1"), ("11", "1")], [], 6

    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent | Gap) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshot, resynced=resyncs.append)
    first = asyncio.ensure_future(anext(books))
    await asyncio.sleep(0.01)
    feed.push(Gap("X", "unreadable message"))
    await asyncio.sleep(0.01)
    gate.set()
    book = await asyncio.wait_for(first, 1)
    assert (book.sequence, len(asked), resyncs) == (6, 2, ["unreadable message"])
    await books.aclose()


async def test_diffs_lost_again_and_again_end_the_follower_with_a_protocol_error() -> None:
    """Every diff failing its schema is the venue's format: after UNREADABLE_IN_A_ROW losses with
    nothing applied between, a typed error, not a snapshot per diff forever."""
    feed, resyncs = Feed(), []
    snapshots = _snapshots([([], [], 5)] * UNREADABLE_IN_A_ROW)
    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent | Gap) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshots, resynced=resyncs.append)
    for _ in range(UNREADABLE_IN_A_ROW - 1):
        await asyncio.wait_for(anext(books), 1)  # the snapshot book
        feed.push(Gap("X", "unreadable message"))
    await asyncio.wait_for(anext(books), 1)
    feed.push(Gap("X", "unreadable message"))
    with pytest.raises(ProtocolError, match="could not be read"):
        await asyncio.wait_for(anext(books), 1)
    assert resyncs == ["unreadable message"] * (UNREADABLE_IN_A_ROW - 1)


async def test_a_diff_applied_between_two_losses_starts_the_count_again() -> None:
    """Losses apart, each with a diff applied since the last, resync every time and never end it."""
    feed, resyncs = Feed(), []
    count = UNREADABLE_IN_A_ROW + 1
    snapshots = _snapshots([([], [], 10 * n) for n in range(1, count + 2)])
    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent | Gap) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshots, resynced=resyncs.append)
    for n in range(1, count + 1):
        assert (await asyncio.wait_for(anext(books), 1)).sequence == 10 * n  # the snapshot book
        feed.push(diff(10 * n + 1, 10 * n + 1, "12"), Gap("X", "unreadable message"))
        assert (await asyncio.wait_for(anext(books), 1)).sequence == 10 * n + 1  # the diff applied
    assert (await asyncio.wait_for(anext(books), 1)).sequence == 10 * (count + 1)
    assert resyncs == ["unreadable message"] * count
    await books.aclose()


def _snapshots(queue: list[Snapshot]) -> Any:
    async def snapshot() -> Snapshot:
        return queue.pop(0)

    return snapshot


async def test_a_reconnect_discards_the_book_and_resyncs_once_live() -> None:
    """A reconnect marker resets the book; once the stream is live again the fresh snapshot is the book."""
    feed, resyncs = Feed(), []
    books = follow(feed, [([("1", "1")], [], 5), ([("2", "1")], [], 30)], resyncs)
    await anext(books)
    feed.queue.put_nowait(RECONNECT)
    feed.queue.put_nowait(RESUMED)
    book = await asyncio.wait_for(anext(books), 1)
    assert resyncs == ["reconnect"]
    assert (book.sequence, book.bids) == (30, [(Decimal(2), Decimal(1))])
    await books.aclose()


async def test_after_a_reconnect_no_snapshot_is_fetched_until_the_stream_is_live() -> None:
    """Between the reconnect marker and the stream's next message (its Resumed) nothing is fetched."""
    feed, fetched = Feed(), []

    async def snapshot() -> Snapshot:
        fetched.append(len(fetched))
        return [], [], 5 if len(fetched) == 1 else 40

    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshot, resynced=lambda reason: None)
    await anext(books)
    pending = asyncio.ensure_future(anext(books))
    feed.queue.put_nowait(RECONNECT)
    await asyncio.sleep(0.01)
    assert fetched == [0]  # the quiet symbol's book is gone, and no snapshot races the resubscription
    feed.queue.put_nowait(RESUMED)
    assert (await asyncio.wait_for(pending, 1)).sequence == 40
    assert fetched == [0, 1]
    await books.aclose()


async def test_a_snapshot_in_flight_at_a_reconnect_is_dropped() -> None:
    """A snapshot asked for before the reconnect cannot bridge it: it is cancelled, and a new one asked once live."""
    feed, gate, calls = Feed(), asyncio.Event(), []

    async def snapshot() -> Snapshot:
        calls.append(len(calls))
        if len(calls) == 1:
            await gate.wait()  # the first answer never comes before the reconnect
            raise AssertionError("a cancelled snapshot was awaited to the end")
        return [("9", "1")], [], 50

    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshot, resynced=lambda reason: None)
    first = asyncio.ensure_future(anext(books))
    await asyncio.sleep(0.01)
    feed.queue.put_nowait(RECONNECT)
    feed.queue.put_nowait(RESUMED)
    book = await asyncio.wait_for(first, 1)
    assert (book.sequence, calls) == (50, [0, 1])
    gate.set()
    await books.aclose()


async def test_a_gap_among_buffered_diffs_is_found_on_replay() -> None:
    """Diffs buffered while the snapshot was in flight are replayed; a gap among them resyncs."""
    feed, resyncs, gate = Feed(), [], asyncio.Event()
    answers: list[Snapshot] = [([], [], 5), ([("7", "1")], [], 10)]

    async def snapshot() -> Snapshot:
        await gate.wait()
        return answers.pop(0)

    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent) else None,
                         reconnected=lambda m: False, snapshot=snapshot, resynced=resyncs.append)
    first = asyncio.ensure_future(anext(books))
    feed.queue.put_nowait(diff(6, 7, "3"))
    feed.queue.put_nowait(diff(9, 10, "4"))  # 8 lost
    await asyncio.sleep(0.01)
    gate.set()
    book = await asyncio.wait_for(first, 1)
    assert resyncs == ["sequence gap"]
    assert (book.sequence, book.bids) == (10, [(Decimal(7), Decimal(1))])
    await books.aclose()


# ===== several symbols on one stream =====

def both(feed: Feed, snapshots: dict[str, list[Snapshot]], resyncs: list[tuple[str, str]],
         asked: list[str]) -> AsyncIterator[Any]:
    async def snapshot(symbol: str) -> Snapshot:
        asked.append(symbol)
        return snapshots[symbol].pop(0)

    return follow_books([DiffSync("A"), DiffSync("B")], aiter(feed),
                        event=lambda m: m if isinstance(m, tuple) else None, reconnected=lambda m: m is RECONNECT,
                        snapshot=snapshot, resynced=lambda symbol, reason: resyncs.append((symbol, reason)))


async def test_each_symbol_gets_its_own_snapshot_and_diffs() -> None:
    """Two books on one stream: each starts from its own snapshot; a diff changes only its symbol's book."""
    feed, asked = Feed(), []
    books = both(feed, {"A": [([("1", "1")], [], 5)], "B": [([("2", "1")], [], 9)]}, [], asked)
    first = [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    assert sorted((b.symbol, b.sequence) for b in first) == [("A", 5), ("B", 9)]
    feed.queue.put_nowait(("B", diff(10, 10, "3")))
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.symbol, book.sequence, book.bids[0][0]) == ("B", 10, Decimal(3))
    assert sorted(asked) == ["A", "B"]
    await books.aclose()


async def test_a_sequence_gap_resyncs_only_its_own_symbol() -> None:
    """A skipped update id on B refetches B alone; A is neither reset nor asked again."""
    feed, resyncs, asked = Feed(), [], []
    books = both(feed, {"A": [([], [], 5)], "B": [([], [], 9), ([("4", "1")], [], 20)]}, resyncs, asked)
    [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    feed.queue.put_nowait(("B", diff(15, 16, "3")))  # 10..14 lost
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.symbol, book.sequence) == ("B", 20)
    assert resyncs == [("B", "sequence gap")] and sorted(asked) == ["A", "B", "B"]
    feed.queue.put_nowait(("A", diff(6, 6, "7")))
    assert (await asyncio.wait_for(anext(books), 1)).sequence == 6  # A kept its book throughout
    await books.aclose()


async def test_a_reconnect_resets_every_symbol_and_resnapshots_them_once_live() -> None:
    """The marker discards both books; the next message (the Resumed) brings a snapshot of each."""
    feed, resyncs, asked = Feed(), [], []
    books = both(feed, {"A": [([], [], 5), ([], [], 30)], "B": [([], [], 9), ([], [], 40)]}, resyncs, asked)
    [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    feed.queue.put_nowait(RECONNECT)
    feed.queue.put_nowait(RESUMED)
    again = [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    assert sorted((b.symbol, b.sequence) for b in again) == [("A", 30), ("B", 40)]
    assert sorted(resyncs) == [("A", "reconnect"), ("B", "reconnect")]
    await books.aclose()


async def test_snapshots_older_than_the_stream_are_asked_for_again_at_a_growing_pace() -> None:
    """The first unusable snapshot is asked for again at once, the next ones after the back-off (0.5, 1, 2 s)."""
    feed, asked = Feed(), []
    clock = FakeClock()

    async def snapshot() -> Snapshot:
        asked.append(clock.monotonic())
        await asyncio.sleep(0.001)  # on the wire: the diff below is read (buffered) meanwhile
        return ([("10", "1")], [], 5) if len(asked) < 5 else ([("10", "1")], [], 100)  # lags, then catches up

    feed.push(diff(100, 101, "11"))  # buffered: every snapshot before id 99 is older than it
    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshot, resynced=lambda _: None,
                         backoff=Backoff(base=0.5, cap=10.0, random=lambda: 1.0), clock=clock)
    book = await asyncio.wait_for(anext(books), 1)
    assert book.sequence == 101
    assert asked == [0.0, 0.0, 0.5, 1.5, 3.5]
    await books.aclose()


async def test_a_diff_read_between_two_losses_starts_the_count_again_while_resyncing() -> None:
    """Losses each followed by a readable diff, all while the resync's snapshot is on its way: the
    venue's format is fine (its diffs read), so the follower waits for the snapshot instead of ending."""
    feed, resyncs, gate = Feed(), [], asyncio.Event()
    served: list[Snapshot] = [([], [], 5), ([], [], 20)]

    async def snapshot() -> Snapshot:
        if len(served) < 2:  # the resync's: slow, as a REST snapshot under load is
            await gate.wait()
        return served.pop(0)

    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent | Gap) else None,
                         reconnected=lambda m: m is RECONNECT, snapshot=snapshot, resynced=resyncs.append)
    assert (await asyncio.wait_for(anext(books), 1)).sequence == 5
    for n in range(UNREADABLE_IN_A_ROW):
        feed.push(Gap("X", "unreadable message"), diff(6 + n, 6 + n, "12"))
    pending = asyncio.ensure_future(anext(books))
    await asyncio.sleep(0.05)
    assert not pending.done(), pending.exception() if pending.done() else None
    gate.set()
    assert (await asyncio.wait_for(pending, 1)).sequence == 20
    await books.aclose()

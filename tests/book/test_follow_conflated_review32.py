"""follow_books read through ``conflate``: every diff kept, only the newest book handed over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from decimal import Decimal

import pytest

from lotusx import ProtocolError
from lotusx.book import DiffSync, Gap, follow_books
from lotusx.book.follow import UNREADABLE_IN_A_ROW, Snapshot
from lotusx.models import OrderBook
from lotusx.ws import conflate
from tests.book.test_follow import Feed, diff


def conflated(feed: Feed, snapshots: dict[str, list[Snapshot]], resyncs: list[tuple[str, str]]
              ) -> AsyncGenerator[OrderBook, None]:
    async def snapshot(symbol: str) -> Snapshot:
        if not snapshots[symbol]:
            await asyncio.Event().wait()  # the venue never answers: the book waits, unsynced
        return snapshots[symbol].pop(0)

    books = follow_books([DiffSync("A"), DiffSync("B")], aiter(feed),
                         event=lambda m: m if isinstance(m, tuple) else None, reconnected=lambda m: False,
                         snapshot=snapshot, resynced=lambda symbol, reason: resyncs.append((symbol, reason)))
    return conflate(books, key=lambda book: book.symbol)


async def settled(feed: Feed) -> None:
    """Wait (a bounded number of loop turns) until the follower has read every message pushed."""
    for _ in range(1000):
        if feed.queue.empty():
            for _ in range(10):  # the follower's turn after its read
                await asyncio.sleep(0)
            return
        await asyncio.sleep(0)
    raise AssertionError("the follower did not read the feed")


async def first_books(books: AsyncGenerator[OrderBook, None]) -> list[OrderBook]:
    return [await asyncio.wait_for(anext(books), 1) for _ in range(2)]


async def test_a_book_read_after_many_diffs_is_the_newest_one() -> None:
    """A consumer that did not read while 30 diffs came gets A at its last update id, then nothing stale."""
    feed = Feed()
    books = conflated(feed, {"A": [([("1", "1")], [], 5)], "B": [([], [], 9)]}, [])
    await first_books(books)
    feed.push(*(("A", diff(n, n, str(100 + n))) for n in range(6, 36)))
    await settled(feed)
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.symbol, book.sequence) == ("A", 35)
    assert len(book.bids) == 31 and book.bids[0] == (Decimal(135), Decimal(1))  # every diff applied
    pending = asyncio.ensure_future(anext(books))
    await settled(feed)
    assert not pending.done()  # no older book of A waits behind it
    pending.cancel()  # which closes the books
    await asyncio.wait({pending})


async def test_each_symbol_changed_comes_once_with_its_newest_book() -> None:
    """Diffs of A, B, A: the consumer gets A at its newest, then B; one book per symbol."""
    feed = Feed()
    books = conflated(feed, {"A": [([], [], 5)], "B": [([], [], 9)]}, [])
    await first_books(books)
    feed.push(("A", diff(6, 6, "1")), ("B", diff(10, 10, "2")), ("A", diff(7, 7, "3")))
    await settled(feed)
    got = [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    assert [(b.symbol, b.sequence) for b in got] == [("A", 7), ("B", 10)]
    await books.aclose()


async def test_a_gap_while_the_consumer_looked_away_still_gives_the_resynced_book() -> None:
    """A sequence gap among unread books resyncs A from its snapshot: the book read is that one, correct."""
    feed, resyncs = Feed(), []
    books = conflated(feed, {"A": [([], [], 5), ([("20", "2")], [], 12)], "B": [([], [], 9)]}, resyncs)
    await first_books(books)
    feed.push(("A", diff(6, 6, "7")), ("A", diff(9, 10, "13")))  # 7..8 lost
    await settled(feed)
    book = await asyncio.wait_for(anext(books), 1)
    assert resyncs == [("A", "sequence gap")]
    assert (book.symbol, book.sequence, book.bids) == ("A", 12, [(Decimal(20), Decimal(2))])
    await books.aclose()


async def test_the_follower_failing_is_raised_before_the_books_not_yet_read() -> None:
    """Diffs that cannot be read again and again end the books: the consumer gets the error, not a stale B."""
    feed = Feed()
    books = conflated(feed, {"A": [([], [], 5)], "B": [([], [], 9)]}, [])
    await first_books(books)
    feed.push(("B", diff(10, 10, "2")), *(("A", Gap("A", "unreadable")) for _ in range(UNREADABLE_IN_A_ROW)))
    await settled(feed)
    with pytest.raises(ProtocolError, match="could not be read"):
        await asyncio.wait_for(anext(books), 1)
    await books.aclose()


async def test_closing_the_books_leaves_no_task() -> None:
    """aclose ends the reader, the follower and its reads of the stream."""
    feed = Feed()
    books = conflated(feed, {"A": [([], [], 5)], "B": [([], [], 9)]}, [])
    await first_books(books)
    await books.aclose()
    assert asyncio.all_tasks() == {asyncio.current_task()}

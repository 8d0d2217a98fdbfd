"""follow_books / follow_diffs and a Lost marker: the lost symbol's consumer is told, the other books go on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lotusx.book import DiffSync, follow_books, follow_diffs
from lotusx.book.follow import Snapshot
from lotusx.kernel.errors import SubscriptionRejected
from lotusx.ws import Gap, Lost, Resumed
from tests.book.test_follow import Feed, diff

STREAMS = {"A": "a@depth", "B": "b@depth"}


def follow(feed: Feed, snapshots: dict[str, list[Snapshot]],
           lost: list[tuple[str, SubscriptionRejected]] | None) -> AsyncIterator[Any]:
    async def snapshot(symbol: str) -> Snapshot:
        return snapshots[symbol].pop(0)

    return follow_books([DiffSync("A"), DiffSync("B")], aiter(feed),
                        event=lambda m: m if isinstance(m, tuple) else None,
                        reconnected=lambda m: isinstance(m, Gap), snapshot=snapshot, resynced=lambda *_: None,
                        stream=STREAMS.__getitem__,
                        lost=None if lost is None else lambda symbol, error: lost.append((symbol, error)))


def lost_b(time: float = 1.0) -> Lost:
    return Lost("b@depth", "Invalid symbol", time, 0)


async def started(feed: Feed, snapshots: dict[str, list[Snapshot]],
                  lost: list[tuple[str, SubscriptionRejected]] | None) -> AsyncIterator[Any]:
    books = follow(feed, snapshots, lost)
    assert sorted([(await asyncio.wait_for(anext(books), 1)).symbol for _ in range(2)]) == ["A", "B"]
    return books


async def test_the_lost_symbols_consumer_gets_subscription_rejected_and_the_other_book_goes_on() -> None:
    """Gap, Lost(B), Resumed: lost() is called with B's SubscriptionRejected; A re-snapshots and keeps updating."""
    feed, told = Feed(), []
    books = await started(feed, {"A": [([], [], 5), ([], [], 30)], "B": [([], [], 9)]}, told)
    feed.push(Gap("test", 1.0, 0), lost_b(), Resumed(2.0, 0))
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.symbol, book.sequence) == ("A", 30)
    assert [(symbol, type(error)) for symbol, error in told] == [("B", SubscriptionRejected)]
    assert "'b@depth'" in str(told[0][1]) and "Invalid symbol" in str(told[0][1])
    feed.push(("B", diff(10, 10, "1")), ("A", diff(31, 31, "2")))  # a stray diff of the lost stream is ignored
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.symbol, book.sequence) == ("A", 31)
    await books.aclose()


async def test_without_a_lost_callback_the_loss_ends_the_books() -> None:
    """No one to tell but the iterating caller: SubscriptionRejected naming the stream ends the generator."""
    feed = Feed()
    books = await started(feed, {"A": [([], [], 5)], "B": [([], [], 9)]}, None)
    feed.push(lost_b())
    with pytest.raises(SubscriptionRejected, match="'b@depth'"):
        await asyncio.wait_for(anext(books), 1)


async def test_the_last_book_lost_ends_the_books_even_with_a_callback() -> None:
    """Nothing left to follow: the generator ends with the last loss, it does not wait forever."""
    feed, told = Feed(), []
    books = await started(feed, {"A": [([], [], 5)], "B": [([], [], 9)]}, told)
    feed.push(lost_b(), Lost("a@depth", "Invalid symbol", 1.0, 0))
    with pytest.raises(SubscriptionRejected, match="'a@depth'"):
        await asyncio.wait_for(anext(books), 1)
    assert [symbol for symbol, _ in told] == ["B"]


async def test_a_lost_stream_of_no_book_here_changes_nothing() -> None:
    """Another consumer's stream lost on a shared connection: these books go on untouched."""
    feed, told = Feed(), []
    books = await started(feed, {"A": [([], [], 5)], "B": [([], [], 9)]}, told)
    feed.push(Lost("c@trade", "Invalid symbol", 1.0, 0), ("B", diff(10, 10, "1")))
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.symbol, book.sequence, told) == ("B", 10, [])
    await books.aclose()


async def test_a_lost_symbol_waiting_for_its_snapshot_stops_waiting() -> None:
    """B's snapshot still on the wire when B is lost: it is cancelled, and lost() says why B never comes."""
    feed, told, gate = Feed(), [], asyncio.Event()

    async def snapshot(symbol: str) -> Snapshot:
        if symbol == "B":
            await gate.wait()
        return [], [], 5

    books = follow_books([DiffSync("A"), DiffSync("B")], aiter(feed), event=lambda m: None,
                         reconnected=lambda m: isinstance(m, Gap), snapshot=snapshot, resynced=lambda *_: None,
                         stream=STREAMS.__getitem__, lost=lambda symbol, error: told.append(symbol))
    assert (await asyncio.wait_for(anext(books), 1)).symbol == "A"
    feed.push(lost_b())
    follower = asyncio.ensure_future(anext(books))
    for _ in range(20):
        await asyncio.sleep(0)
    gate.set()
    await asyncio.sleep(0.01)
    assert told == ["B"] and not follower.done()  # B's snapshot, had it been kept, would have yielded a book
    follower.cancel()
    await asyncio.wait({follower})
    await books.aclose()


async def test_follow_diffs_ends_with_subscription_rejected_on_a_lost_marker() -> None:
    """One book, its stream unnamed: a Lost ends it with the marker's SubscriptionRejected, as before."""
    feed = Feed()

    async def snapshot() -> Snapshot:
        return [], [], 5

    books = follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: None, reconnected=lambda m: isinstance(m, Gap),
                         snapshot=snapshot, resynced=lambda _: None)
    assert (await asyncio.wait_for(anext(books), 1)).sequence == 5
    feed.push(Lost("x@depth", "Invalid symbol", 1.0, 0))
    with pytest.raises(SubscriptionRejected, match="'x@depth'"):
        await asyncio.wait_for(anext(books), 1)

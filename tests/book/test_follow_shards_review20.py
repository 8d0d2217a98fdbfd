"""follow_books over several shards: a connection's Gap resyncs only the books that connection carries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lotusx.book import BookEvent, DiffSync, follow_books
from lotusx.book.follow import Snapshot
from lotusx.ws import Gap, Resumed
from tests.book.test_follow import Feed

pytestmark = pytest.mark.timeout(10)

ON = {"BTC": 0, "ETH": 1}  # the shard each symbol's stream is on


async def following(feed: Feed, asked: list[str], resyncs: list[str]) -> AsyncIterator[Any]:
    """A follower of BTC (shard 0) and ETH (shard 1), past both first snapshots."""

    async def snapshot(symbol: str) -> Snapshot:
        asked.append(symbol)
        return [], [], 5

    books = follow_books([DiffSync("BTC"), DiffSync("ETH")], feed, event=lambda m: m if isinstance(m, tuple) else None,
                         reconnected=lambda m: isinstance(m, Gap), snapshot=snapshot,
                         resynced=lambda symbol, reason: resyncs.append(symbol), shard=ON.get)
    [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    asked.clear()
    return books


async def test_a_gap_of_one_shard_leaves_the_other_shards_books_live() -> None:
    """After shard 1's Gap, BTC on shard 0 is not reset: its next diff yields its book at once."""
    feed, asked, resyncs = Feed(), [], []
    books = await following(feed, asked, resyncs)
    feed.push(Gap("server_close", 1.0, shard=1), ("BTC", BookEvent(6, 6, [("10", "1")], [])))
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.symbol, book.sequence) == ("BTC", 6)
    assert resyncs == ["ETH"] and asked == []
    await books.aclose()


async def test_the_gapped_shards_resumed_snapshots_only_its_books() -> None:
    """Shard 1's Resumed brings ETH's snapshot, and BTC's is not asked for again."""
    feed, asked, resyncs = Feed(), [], []
    books = await following(feed, asked, resyncs)
    feed.push(Gap("server_close", 1.0, shard=1), Resumed(2.0, shard=1))
    book = await asyncio.wait_for(anext(books), 1)
    assert book.symbol == "ETH" and asked == ["ETH"]
    await books.aclose()


async def test_an_overflow_gap_still_resyncs_every_book() -> None:
    """The consumer fell behind on every shard: an overflow Gap (shard 0 by default) resets BTC and ETH."""
    feed, asked, resyncs = Feed(), [], []
    books = await following(feed, asked, resyncs)
    feed.push(Gap("overflow", 1.0), ("BTC", BookEvent(6, 6, [], [])))
    again = [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    assert sorted(resyncs) == sorted(asked) == sorted(book.symbol for book in again) == ["BTC", "ETH"]
    await books.aclose()

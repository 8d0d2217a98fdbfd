"""Book resyncs are counted under the reason that caused them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from lotusx.book.follow import follow_books
from lotusx.book.sync import BookEvent, DiffSync
from lotusx.ws import Gap
from lotusx.ws.delivery import OVERFLOW_REASON


async def books_resynced(*messages: Any, snapshot: Any = None) -> list[tuple[str, str]]:
    """The (symbol, reason) resyncs follow_books reports for ``messages``."""
    resyncs: list[tuple[str, str]] = []
    hold = asyncio.Event()

    async def stream() -> AsyncIterator[Any]:
        for message in messages:
            await asyncio.sleep(0)
            yield message
        await hold.wait() if snapshot is not None else None

    async def no_snapshot(_: str) -> Any:
        await hold.wait()

    follower = follow_books([DiffSync("BTCUSDT")], stream(), event=lambda _: None,
                            reconnected=lambda m: isinstance(m, Gap), snapshot=snapshot or no_snapshot,
                            resynced=lambda symbol, reason: resyncs.append((symbol, reason)))
    async for _ in follower:
        pass
    return resyncs


async def test_an_overflow_gap_resyncs_books_for_reason_overflow() -> None:
    """A Gap left by a full delivery queue is counted as an overflow resync, not as a reconnect."""
    assert await books_resynced(Gap(OVERFLOW_REASON, 0.0)) == [("BTCUSDT", "overflow")]


async def test_a_reconnect_gap_still_resyncs_books_for_reason_reconnect() -> None:
    """A Gap left by a lost connection keeps its resync reason, reconnect."""
    assert await books_resynced(Gap("server_close", 0.0)) == [("BTCUSDT", "reconnect")]


async def test_a_snapshot_too_old_for_the_buffered_diffs_counts_a_resync() -> None:
    """A snapshot that cannot start the book is fetched again: counted as a stale_snapshot resync."""
    resyncs: list[tuple[str, str]] = []
    diff_seen, answered, hold = asyncio.Event(), asyncio.Event(), asyncio.Event()
    snapshots = [([], [], 50)]  # ends long before the buffered diff 100..105

    async def stream() -> AsyncIterator[Any]:
        yield BookEvent(100, 105, [], [])
        await answered.wait()
        for _ in range(5):
            await asyncio.sleep(0)

    def event(message: Any) -> tuple[str, BookEvent]:
        diff_seen.set()
        return "BTCUSDT", message

    async def snapshot(_: str) -> Any:
        if not snapshots:
            await hold.wait()
        await diff_seen.wait()
        answered.set()
        return snapshots.pop()

    follower = follow_books([DiffSync("BTCUSDT")], stream(), event=event, reconnected=lambda _: False,
                            snapshot=snapshot, resynced=lambda symbol, reason: resyncs.append((symbol, reason)))
    async for _ in follower:
        pass
    assert resyncs == [("BTCUSDT", "stale_snapshot")]

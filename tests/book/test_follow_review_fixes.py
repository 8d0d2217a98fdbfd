"""follow_books / follow_diffs: stream end, sharded reconnects, snapshot failures, malformed levels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from lotusx.book import BookEvent, DiffSync, SnapshotDeltaSync, follow_books, follow_diffs
from lotusx.book import Gap as BookGap
from lotusx.book.follow import Snapshot
from lotusx.kernel.errors import (
    ConfigError,
    ConnectError,
    IpBanned,
    LotusXError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    Timeout,
)
from lotusx.testing import FakeClock
from lotusx.ws import Backoff, Delivery, Gap, Resumed
from tests.book.test_follow import Feed

# ===== the stream ends =====


class Ending:
    """A stream read from a Delivery, as ReconnectWs reads it: it ends when the Delivery is closed."""

    def __init__(self) -> None:
        self.delivery = Delivery(10)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self.delivery.get()


def single(stream: Ending, snapshot: Any) -> AsyncIterator[Any]:
    return follow_diffs(DiffSync("X"), stream, event=lambda m: m if isinstance(m, BookEvent) else None,
                        reconnected=lambda m: isinstance(m, Gap), snapshot=snapshot, resynced=lambda reason: None)


async def test_the_follower_ends_normally_when_the_stream_ends() -> None:
    """Closing the stream ends the book iteration without an error."""
    stream = Ending()

    async def snapshot() -> Snapshot:
        return [("10", "1")], [], 5

    seen = []

    async def consume() -> None:
        async for book in single(stream, snapshot):
            seen.append(book.sequence)
            stream.delivery.close()

    await asyncio.wait_for(consume(), 2)
    assert seen == [5]


async def test_a_stream_ending_while_a_snapshot_is_in_flight_ends_the_follower() -> None:
    """The follower does not wait for a pending snapshot once the stream is over."""
    stream, cancelled = Ending(), asyncio.Event()

    async def snapshot() -> Snapshot:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    stream.delivery.close()
    assert [book async for book in single(stream, snapshot)] == []
    await asyncio.wait_for(cancelled.wait(), 1)


# ===== several shards: a reconnect waits for its own shard's Resumed =====


def sharded(feed: Feed, asked: list[str]) -> AsyncIterator[Any]:
    async def snapshot(symbol: str) -> Snapshot:
        asked.append(symbol)
        return [], [], 5

    return follow_books([DiffSync("BTC"), DiffSync("ETH")], feed,
                        event=lambda m: m if isinstance(m, tuple) else None,
                        reconnected=lambda m: isinstance(m, Gap), snapshot=snapshot,
                        resynced=lambda symbol, reason: None)


async def started(feed: Feed, asked: list[str]) -> AsyncIterator[Any]:
    books = sharded(feed, asked)
    [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    asked.clear()
    return books


async def settle(books: AsyncIterator[Any]) -> asyncio.Future[Any]:
    """The follower's next book, while the test lets it run until it waits."""
    pending = asyncio.ensure_future(anext(books))
    await asyncio.sleep(0.02)
    return pending


async def test_messages_of_a_live_shard_do_not_end_another_shards_reconnect() -> None:
    """After shard 1's Gap, shard 0 still delivering triggers no snapshot: shard 1 is not back."""
    feed, asked = Feed(), []
    books = await started(feed, asked)
    feed.push(Gap("server_close", 1.0, shard=1), ("BTC", BookEvent(6, 6, [], [])))
    pending = await settle(books)
    assert asked == [] and not pending.done()
    pending.cancel()
    await asyncio.gather(pending, return_exceptions=True)


async def test_the_gapped_shards_resumed_brings_the_snapshots() -> None:
    """Shard 1's Resumed ends the wait: every reset book is snapshotted again."""
    feed, asked = Feed(), []
    books = await started(feed, asked)
    feed.push(Gap("server_close", 1.0, shard=1), Resumed(2.0, shard=1))
    again = [await asyncio.wait_for(anext(books), 1) for _ in range(2)]
    assert sorted(book.symbol for book in again) == sorted(asked) == ["BTC", "ETH"]
    await books.aclose()


async def test_another_shards_resumed_does_not_end_the_wait() -> None:
    """With shards 0 and 1 down, shard 0's Resumed alone brings no snapshot; shard 1's then does."""
    feed, asked = Feed(), []
    books = await started(feed, asked)
    feed.push(Gap("server_close", 1.0, shard=0), Gap("server_close", 1.0, shard=1), Resumed(2.0, shard=0))
    pending = await settle(books)
    assert asked == [] and not pending.done()
    feed.push(Resumed(3.0, shard=1))
    await asyncio.wait_for(pending, 1)
    assert sorted(asked) == ["BTC", "ETH"]
    await books.aclose()


async def test_an_overflow_gap_resyncs_at_the_next_message() -> None:
    """An overflow Gap owes no Resumed (the stream never went down): the next message brings the snapshots."""
    feed, asked = Feed(), []
    books = await started(feed, asked)
    feed.push(Gap("overflow", 1.0), "any message")
    await asyncio.wait_for(anext(books), 1)
    assert "BTC" in asked or "ETH" in asked
    await books.aclose()


# ===== a snapshot fetch that fails =====

HALVING = Backoff(base=1.0, cap=8.0, random=lambda: 0.5)  # delays 0.5, 1, 2, 4: known, not random


class Flaky:
    """A REST snapshot that raises the given errors in turn, then answers."""

    def __init__(self, *errors: LotusXError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> Snapshot:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return [("10", "1")], [], 5


def follow_flaky(fetch: Flaky, clock: FakeClock, attempts: int = 5) -> AsyncIterator[Any]:
    return follow_diffs(DiffSync("X"), Feed(), event=lambda m: m if isinstance(m, BookEvent) else None,
                        reconnected=lambda m: isinstance(m, Gap), snapshot=fetch, resynced=lambda reason: None,
                        snapshot_attempts=attempts, backoff=HALVING, clock=clock)


async def test_a_passing_snapshot_failure_is_retried_after_backing_off() -> None:
    """A connect error, a timeout and a 5xx are each retried, after growing delays, until the snapshot comes."""
    clock = FakeClock()
    fetch = Flaky(ConnectError("refused"), Timeout("slow"), ServerError("503"))
    books = follow_flaky(fetch, clock)
    book = await asyncio.wait_for(anext(books), 1)
    assert (book.sequence, fetch.calls, clock.slept) == (5, 4, [0.5, 1.0, 2.0])
    await books.aclose()


async def test_a_rate_limit_waits_at_least_its_retry_after() -> None:
    """A throttled snapshot is asked again no sooner than the venue said."""
    clock = FakeClock()
    books = follow_flaky(Flaky(RateLimited("429", retry_after=30.0)), clock)
    await asyncio.wait_for(anext(books), 1)
    assert clock.slept == [30.0]
    await books.aclose()


async def test_snapshot_failures_past_the_bound_end_the_follower_with_the_error() -> None:
    """After snapshot_attempts passing failures in a row the last error reaches the consumer."""
    clock = FakeClock()
    fetch = Flaky(*(ConnectError(f"refused {n}") for n in range(3)))
    books = follow_flaky(fetch, clock, attempts=3)
    with pytest.raises(ConnectError, match="refused 2"):
        await asyncio.wait_for(anext(books), 1)
    assert (fetch.calls, clock.slept) == (3, [0.5, 1.0])


@pytest.mark.parametrize("error", [NotFound("unknown symbol"), IpBanned("418", retry_after=600.0)])
async def test_a_lasting_snapshot_failure_ends_the_follower_at_once(error: LotusXError) -> None:
    """A bad request or a ban is not retried: the error reaches the consumer on the first failure."""
    clock = FakeClock()
    fetch = Flaky(error)
    books = follow_flaky(fetch, clock)
    with pytest.raises(type(error)):
        await asyncio.wait_for(anext(books), 1)
    assert (fetch.calls, clock.slept) == (1, [])


async def test_a_retry_waiting_at_a_reconnect_is_dropped() -> None:
    """A snapshot backing off when the stream reconnects is cancelled; a new one is asked once resumed."""
    clock, feed = FakeClock(auto_advance=False), Feed()
    fetch = Flaky(ConnectError("refused"))
    books = follow_books([DiffSync("X")], feed, event=lambda m: None, reconnected=lambda m: isinstance(m, Gap),
                         snapshot=lambda symbol: fetch(), resynced=lambda symbol, reason: None,
                         backoff=HALVING, clock=clock)
    pending = await settle(books)
    assert (fetch.calls, clock.slept) == (1, [0.5])
    feed.push(Gap("server_close", 1.0), Resumed(2.0))
    book = await asyncio.wait_for(pending, 1)
    assert (book.sequence, fetch.calls) == (5, 2)
    await books.aclose()


async def test_snapshot_attempts_below_one_is_a_config_error() -> None:
    """A follower that may never fetch a snapshot is refused."""
    with pytest.raises(ConfigError):
        await anext(follow_flaky(Flaky(), FakeClock(), attempts=0))


# ===== malformed levels =====

def diffs(feed: Feed, snapshots: list[Snapshot], resyncs: list[str]) -> AsyncIterator[Any]:
    async def snapshot() -> Snapshot:
        return snapshots.pop(0)

    return follow_diffs(DiffSync("X"), aiter(feed), event=lambda m: m if isinstance(m, BookEvent) else None,
                        reconnected=lambda m: False, snapshot=snapshot, resynced=resyncs.append)


@pytest.mark.parametrize("price", ["", "abc", "NaN", "sNaN", "Infinity", "0", "-0", "0E-8", "-1", "-0.01"])
async def test_a_diff_with_a_level_that_is_not_a_price_resyncs_its_book(price: str) -> None:
    """A level the book cannot hold (not a number, or zero or below) is a resync, not the end of the stream."""
    feed, resyncs = Feed(), []
    books = diffs(feed, [([("10", "1")], [], 5), ([("11", "2")], [], 20)], resyncs)
    await asyncio.wait_for(anext(books), 1)
    feed.push(BookEvent(6, 7, [("12", "1"), (price, "1")], []))
    book = await asyncio.wait_for(anext(books), 1)
    assert resyncs == ["malformed level"]
    assert (book.sequence, book.bids) == (20, [(Decimal(11), Decimal(2))])
    await books.aclose()


async def test_a_level_with_a_quantity_that_is_not_a_number_resyncs_its_book() -> None:
    """A quantity that does not parse is a resync too, and no half-applied diff is shown."""
    feed, resyncs = Feed(), []
    books = diffs(feed, [([("10", "1")], [], 5), ([("11", "2")], [], 20)], resyncs)
    await asyncio.wait_for(anext(books), 1)
    feed.push(BookEvent(6, 7, [("12", "1")], [("13", "")]))
    book = await asyncio.wait_for(anext(books), 1)
    assert resyncs == ["malformed level"]
    assert (book.sequence, book.bids, book.asks) == (20, [(Decimal(11), Decimal(2))], [])
    await books.aclose()


@pytest.mark.parametrize("quantity", ["NaN", "sNaN", "Infinity", "-Infinity", "-1"])
async def test_a_level_with_a_non_finite_or_negative_quantity_resyncs_its_book(quantity: str) -> None:
    """A quantity that parses but is no amount (NaN, Infinity, negative) is a resync, never a stored level."""
    feed, resyncs = Feed(), []
    books = diffs(feed, [([("10", "1")], [], 5), ([("11", "2")], [], 20)], resyncs)
    await asyncio.wait_for(anext(books), 1)
    feed.push(BookEvent(6, 7, [("12", "1"), ("13", quantity)], []))
    book = await asyncio.wait_for(anext(books), 1)
    assert resyncs == ["malformed level"]
    assert (book.sequence, book.bids) == (20, [(Decimal(11), Decimal(2))])
    await books.aclose()


async def test_a_snapshot_with_a_level_that_is_not_a_price_ends_the_follower_with_a_protocol_error() -> None:
    """A malformed REST snapshot is a typed ProtocolError, not a decimal error from deep inside the book."""
    books = diffs(Feed(), [([("x", "1")], [], 5)], [])
    with pytest.raises(ProtocolError):
        await asyncio.wait_for(anext(books), 1)


def test_a_bybit_delta_with_a_level_that_is_not_a_price_is_a_gap() -> None:
    """SnapshotDeltaSync answers a Gap for a malformed delta and drops the half-applied book."""
    sync = SnapshotDeltaSync("X")
    sync.on_message("snapshot", 10, [("100", "1")], [("101", "1")])
    outcome = sync.on_message("delta", 11, [("99", "1")], [("", "1")])
    assert outcome == BookGap("X", "malformed level")
    assert not sync.synced and sync.book.bids == {}

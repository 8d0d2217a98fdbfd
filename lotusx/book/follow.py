"""``follow_books`` / ``follow_diffs``: drive :class:`DiffSync` books from a stream and snapshots.

The I/O half of diff-based book sync, shared by every venue whose stream carries
``first``/``last`` update ids (Binance spot, and venues like it). The venue supplies small
callables: how to read a symbol's :class:`BookEvent` from one of its messages, how to tell a
reconnect marker, and how to fetch a REST snapshot. Several symbols can share one stream
(one connection): a sequence gap resyncs only its own symbol, a reconnect all of them (all
of its connection's, when the follower is told which connection carries which symbol).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from lotusx.book.sync import BookEvent, DiffSync, Gap, Outcome, readable
from lotusx.kernel.errors import (
    ConfigError,
    IpBanned,
    LotusXError,
    ProtocolError,
    RateLimited,
    ServerError,
    SubscriptionRejected,
    TransportError,
)
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.log import get_logger
from lotusx.models import OrderBook
from lotusx.ws.backoff import Backoff
from lotusx.ws.delivery import OVERFLOW_REASON, Lost, Resumed
from lotusx.ws.delivery import Gap as StreamGap

RawLevels = Sequence[tuple[str, str]] | Sequence[list[str]]
Snapshot = tuple[RawLevels, RawLevels, int]  # bids, asks, last update id

SNAPSHOT_BACKOFF = Backoff(base=0.5, cap=10.0)
_log = get_logger("lotusx.book")

STALE_SNAPSHOT = "stale_snapshot"
"""The resync reason of a snapshot older than the diffs buffered since: another one is fetched."""


def resync_reason(marker: Any) -> str:
    """The resync reason of a stream marker: ``overflow`` for a full delivery queue's Gap, else ``reconnect``.

    An overflow is the consumer falling behind, not the connection: a dashboard must tell them apart.
    """
    return OVERFLOW_REASON if isinstance(marker, StreamGap) and marker.reason == OVERFLOW_REASON else "reconnect"


UNREADABLE_IN_A_ROW = 3
"""Diffs of one symbol lost in a row (none read between) that end :func:`follow_books`."""


async def follow_books(syncs: Iterable[DiffSync], messages: AsyncIterator[Any], *,
                       event: Callable[[Any], tuple[str, BookEvent | Gap] | None], reconnected: Callable[[Any], bool],
                       snapshot: Callable[[str], Awaitable[Snapshot]], resynced: Callable[[str, str], None],
                       depth: int | None = None, snapshot_attempts: int = 5, backoff: Backoff = SNAPSHOT_BACKOFF,
                       clock: Clock = SYSTEM_CLOCK, shard: Callable[[str], int | None] | None = None,
                       stream: Callable[[str], str] | None = None,
                       lost: Callable[[str, SubscriptionRejected], None] | None = None
                       ) -> AsyncGenerator[OrderBook, None]:
    """Yield a symbol's maintained book after its snapshot and after every diff applied to it.

    ``event(message)`` gives ``(symbol, diff)`` for a diff of one of ``syncs``' symbols, or
    ``(symbol, Gap(symbol, reason))`` for a diff of it that could not be read: that book is
    resynced from a snapshot asked for after the loss (see :meth:`DiffSync.on_lost`), and
    ``UNREADABLE_IN_A_ROW`` such losses with no diff of it read between (the venue's format,
    not a passing fault: a resync per diff would never get a book) end this generator with a
    ``ProtocolError``;
    ``snapshot(symbol)`` fetches one; ``resynced(symbol, reason)`` is called at each resync.

    A sequence gap discards that symbol's book and fetches a new snapshot while its diffs keep
    buffering. A reconnect marker discards every book (but see ``shard``), and the snapshots
    wait until the stream shows it is live again. A snapshot taken while the stream is down can
    miss updates made before the subscription is back, and a quiet symbol would then never send
    the diff that reveals it. After a connection's :class:`~lotusx.ws.Gap` that is the
    :class:`~lotusx.ws.Resumed` of the same ``shard``, once the venue re-acked its
    subscriptions: the other shards' messages keep flowing meanwhile and prove nothing. After
    any other marker (an overflow ``Gap``, or a stream's own kind) it is the next message.
    ``shard(symbol)``, when given, is the shard carrying that symbol's diffs (``None``: not
    known): a connection's ``Gap`` then discards only the books of its shard, and the others
    go on (:meth:`~lotusx.ws.ReconnectWs.shard_of`).

    A :class:`~lotusx.ws.Lost` marker says the venue refused to resubscribe a stream after a
    reconnect: no diff will come on it again, so its book must not wait. ``stream(symbol)`` is
    the venue stream carrying a symbol's diffs, which tells whose book the marker ends (a lost
    stream of no book here changes nothing). That book is dropped, and ``lost(symbol, error)``
    is called with the :class:`~lotusx.SubscriptionRejected` naming its stream; the other books
    go on. Without ``lost``, with the last book, or without ``stream`` (any ``Lost`` may then be
    a book's), the error ends this generator instead: a book never waits silently.

    A snapshot that fails for a passing reason (a transport error, a 5xx, a rate limit short of
    a ban) is fetched again after ``backoff``, up to ``snapshot_attempts`` tries in a row; then,
    or at once for any other error, the error ends this generator: a book is never left
    waiting silently for a snapshot that will not come. A snapshot that came but could not
    start the book (older than the diffs buffered, or a gap among them) is asked for again at
    once the first time, then after ``backoff``: a venue whose snapshots lag its stream would
    otherwise have each one (a weight of 50 on Binance) asked for in a tight loop.

    When ``messages`` ends (its connection was closed), so does this generator, normally.
    """
    if snapshot_attempts < 1:
        raise ConfigError(f"snapshot_attempts must be >= 1, got {snapshot_attempts}")

    async def fetch(symbol: str, unusable: int) -> Snapshot:
        if unusable > 1:  # the last snapshots of this symbol could not start its book
            await clock.sleep(backoff.delay(unusable - 1))
        failures = 0
        while True:
            try:
                return await snapshot(symbol)
            except LotusXError as exc:
                failures += 1
                if failures >= snapshot_attempts or not _passing(exc):
                    raise
                delay = backoff.delay(failures)
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                _log.warning("book snapshot failed, retrying", symbol=symbol, failures=failures,
                             delay=delay, error=str(exc))
                await clock.sleep(delay)

    def carried(symbol: str, shards: set[int]) -> bool:
        """Whether ``symbol``'s diffs may come on one of ``shards``."""
        if shard is None:
            return bool(shards)
        on = shard(symbol)
        return bool(shards) if on is None else on in shards

    books = {sync.symbol: sync for sync in syncs}
    symbol_of = {stream(symbol): symbol for symbol in books} if stream is not None else None
    incoming: asyncio.Future[Any] = asyncio.ensure_future(anext(messages))
    fetching: dict[str, asyncio.Future[Snapshot]] = {}
    down: set[int] = set()  # shards whose Gap still waits for its Resumed
    unreadable: dict[str, int] = {}  # diffs lost in a row per symbol, since its last one read
    unusable: dict[str, int] = {}  # snapshots in a row per symbol that could not start its book
    stalled = False  # after a marker with no Resumed to come, until the next message
    try:
        while True:
            # Fetch before waiting: a quiet symbol may send no diff for minutes, and the
            # snapshot alone is a correct book (diffs that raced it are buffered and replayed).
            if not stalled:
                for symbol, sync in books.items():
                    if not sync.synced and symbol not in fetching and not carried(symbol, down):
                        fetching[symbol] = asyncio.ensure_future(fetch(symbol, unusable.get(symbol, 0)))
            done, _ = await asyncio.wait({incoming, *fetching.values()}, return_when=asyncio.FIRST_COMPLETED)
            if len(done) > 1 and incoming in done and isinstance(incoming.exception(), StopAsyncIteration):
                # The stream ended (closed) in the turn a snapshot came back: the end first, for that
                # snapshot failed with it (a connector closes its REST client right after its streams).
                return
            for symbol, fetched in list(fetching.items()):
                if fetched in done:
                    del fetching[symbol]
                    bids, asks, last_update_id = fetched.result()
                    outcome: Outcome | Gap | OrderBook = books[symbol].on_snapshot(bids, asks, last_update_id)
                    if outcome == "snapshot":  # the diffs replayed onto it may have crossed it
                        outcome = readable(books[symbol], depth)
                    if isinstance(outcome, OrderBook):
                        unusable.pop(symbol, None)
                        yield outcome
                    else:  # "stale" (older than the buffered diffs) or a Gap among them
                        unusable[symbol] = unusable.get(symbol, 0) + 1
                        # Either way another snapshot is fetched (a weight of 50 on Binance): a resync.
                        resynced(symbol, outcome.reason if isinstance(outcome, Gap) else STALE_SNAPSHOT)
            if incoming not in done:
                continue
            try:
                message = incoming.result()
            except StopAsyncIteration:  # the stream ended (closed): so does the follower, normally
                return
            incoming = asyncio.ensure_future(anext(messages))
            if isinstance(message, Lost):  # before reconnected(): a predicate may match any marker
                gone = symbol_of.get(message.stream) if symbol_of is not None else None
                if symbol_of is not None and gone not in books:
                    continue  # another consumer's stream, on a shared connection
                error = message.rejected()
                if gone is None or lost is None or len(books) == 1:
                    raise error
                del books[gone]
                for forget in (unreadable, unusable):
                    forget.pop(gone, None)
                asked = fetching.pop(gone, None)
                if asked is not None:
                    asked.cancel()
                lost(gone, error)
                continue
            if reconnected(message):
                dropped = isinstance(message, StreamGap) and message.reason != OVERFLOW_REASON  # one connection
                why = resync_reason(message)
                for symbol, sync in books.items():
                    if dropped and not carried(symbol, {message.shard}):
                        continue  # on another connection, which lost nothing
                    unusable.pop(symbol, None)  # a new subscription: its first snapshot may well be right
                    sync.reset()
                    resynced(symbol, why)
                    asked = fetching.pop(symbol, None)
                    if asked is not None:  # asked before the gap: it would not bridge it
                        asked.cancel()
                if dropped:
                    down.add(message.shard)
                elif isinstance(message, Resumed):  # a predicate matching it must not keep its shard down
                    down.discard(message.shard)
                else:
                    stalled = True
                continue
            if down or stalled:
                if isinstance(message, Resumed):
                    down.discard(message.shard)
                stalled = False
            diff = event(message)
            if diff is None or diff[0] not in books:
                continue
            symbol, update = diff
            sync = books[symbol]
            if isinstance(update, Gap):
                unreadable[symbol] = unreadable.get(symbol, 0) + 1
                if unreadable[symbol] >= UNREADABLE_IN_A_ROW:
                    # Every diff failing its schema is the venue's format, not a passing fault:
                    # resyncing would spend a snapshot's weight on each diff and never get a book.
                    raise ProtocolError(f"{symbol}: {UNREADABLE_IN_A_ROW} diffs in a row could not be read "
                                        f"({update.reason})")
                asked = fetching.pop(symbol, None)
                if asked is not None:  # asked for before the loss: it may not hold the lost diff
                    asked.cancel()
                outcome = sync.on_lost(update.reason)
            else:
                # Read, the venue's format is fine, whether it applies now or waits for a resync's snapshot.
                unreadable.pop(symbol, None)
                outcome = sync.on_event(update)
            if outcome == "applied":
                outcome = readable(sync, depth)
            if isinstance(outcome, OrderBook):
                yield outcome
            elif isinstance(outcome, Gap):
                resynced(symbol, outcome.reason)
    finally:
        for task in (incoming, *fetching.values()):
            task.cancel()


def _passing(error: LotusXError) -> bool:
    """Whether another try may succeed: not for a ban, a bad request or bad credentials."""
    if isinstance(error, RateLimited):
        return not isinstance(error, IpBanned)
    return isinstance(error, TransportError | ServerError)


def follow_diffs(sync: DiffSync, messages: AsyncIterator[Any], *,
                 event: Callable[[Any], BookEvent | Gap | None], reconnected: Callable[[Any], bool],
                 snapshot: Callable[[], Awaitable[Snapshot]], resynced: Callable[[str], None],
                 depth: int | None = None, snapshot_attempts: int = 5, backoff: Backoff = SNAPSHOT_BACKOFF,
                 clock: Clock = SYSTEM_CLOCK) -> AsyncGenerator[OrderBook, None]:
    """:func:`follow_books` for one symbol: ``event``, ``snapshot`` and ``resynced`` without it.

    A :class:`~lotusx.ws.Lost` marker ends it with its :class:`~lotusx.SubscriptionRejected`:
    its stream is not named here, so any stream lost may be the one its diffs come on.
    """
    symbol = sync.symbol

    def symbol_event(message: Any) -> tuple[str, BookEvent | Gap] | None:
        diff = event(message)
        return None if diff is None else (symbol, diff)

    return follow_books([sync], messages, event=symbol_event, reconnected=reconnected,
                        snapshot=lambda _: snapshot(), resynced=lambda _, reason: resynced(reason), depth=depth,
                        snapshot_attempts=snapshot_attempts, backoff=backoff, clock=clock)

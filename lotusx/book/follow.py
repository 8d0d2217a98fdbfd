"""``follow_books`` / ``follow_diffs``: drive :class:`DiffSync` books from a stream and snapshots.

The I/O half of diff-based book sync, shared by every venue whose stream carries
``first``/``last`` update ids (Binance spot, and venues like it). The venue supplies small
callables: how to read a symbol's :class:`BookEvent` from one of its messages, how to tell a
reconnect marker, and how to fetch a REST snapshot. Several symbols can share one stream
(one connection): a sequence gap resyncs only its own symbol, a reconnect all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from lotusx.book.sync import BookEvent, DiffSync, Gap
from lotusx.models import OrderBook

RawLevels = Sequence[tuple[str, str]] | Sequence[list[str]]
Snapshot = tuple[RawLevels, RawLevels, int]  # bids, asks, last update id


async def follow_books(syncs: Iterable[DiffSync], messages: AsyncIterator[Any], *,
                       event: Callable[[Any], tuple[str, BookEvent] | None], reconnected: Callable[[Any], bool],
                       snapshot: Callable[[str], Awaitable[Snapshot]], resynced: Callable[[str, str], None],
                       depth: int | None = None) -> AsyncGenerator[OrderBook, None]:
    """Yield a symbol's maintained book after its snapshot and after every diff applied to it.

    ``event(message)`` gives ``(symbol, diff)`` for a diff of one of ``syncs``' symbols;
    ``snapshot(symbol)`` fetches one; ``resynced(symbol, reason)`` is called at each resync.

    A sequence gap discards that symbol's book and fetches a new snapshot while its diffs keep
    buffering. A reconnect marker discards every book, but the snapshots wait until the stream
    shows it is live again: the next message of any kind, normally the connection's
    :class:`~lotusx.ws.Resumed` once the venue re-acked the subscriptions. A snapshot taken
    while the stream is down can miss updates made before the subscription is back, and a
    quiet symbol would then never send the diff that reveals it.
    """
    books = {sync.symbol: sync for sync in syncs}
    incoming: asyncio.Future[Any] = asyncio.ensure_future(anext(messages))
    fetching: dict[str, asyncio.Future[Snapshot]] = {}
    down = False  # after a reconnect marker, until the stream delivers again
    try:
        while True:
            # Fetch before waiting: a quiet symbol may send no diff for minutes, and the
            # snapshot alone is a correct book (diffs that raced it are buffered and replayed).
            if not down:
                for symbol, sync in books.items():
                    if not sync.synced and symbol not in fetching:
                        fetching[symbol] = asyncio.ensure_future(snapshot(symbol))
            done, _ = await asyncio.wait({incoming, *fetching.values()}, return_when=asyncio.FIRST_COMPLETED)
            for symbol, fetched in list(fetching.items()):
                if fetched in done:
                    del fetching[symbol]
                    bids, asks, last_update_id = fetched.result()
                    outcome = books[symbol].on_snapshot(bids, asks, last_update_id)
                    if outcome == "snapshot":
                        yield books[symbol].book.view(depth)
                    elif isinstance(outcome, Gap):
                        resynced(symbol, outcome.reason)
            if incoming not in done:
                continue
            message = incoming.result()
            incoming = asyncio.ensure_future(anext(messages))
            if reconnected(message):
                for symbol, sync in books.items():
                    sync.reset()
                    resynced(symbol, "reconnect")
                for fetched in fetching.values():  # asked before the gap: they would not bridge it
                    fetched.cancel()
                fetching.clear()
                down = True
                continue
            down = False
            diff = event(message)
            if diff is None or diff[0] not in books:
                continue
            symbol, update = diff
            outcome = books[symbol].on_event(update)
            if outcome == "applied":
                yield books[symbol].book.view(depth)
            elif isinstance(outcome, Gap):
                resynced(symbol, outcome.reason)
    finally:
        for task in (incoming, *fetching.values()):
            task.cancel()


def follow_diffs(sync: DiffSync, messages: AsyncIterator[Any], *,
                 event: Callable[[Any], BookEvent | None], reconnected: Callable[[Any], bool],
                 snapshot: Callable[[], Awaitable[Snapshot]], resynced: Callable[[str], None],
                 depth: int | None = None) -> AsyncGenerator[OrderBook, None]:
    """:func:`follow_books` for one symbol: ``event``, ``snapshot`` and ``resynced`` without it."""
    symbol = sync.symbol

    def symbol_event(message: Any) -> tuple[str, BookEvent] | None:
        diff = event(message)
        return None if diff is None else (symbol, diff)

    return follow_books([sync], messages, event=symbol_event, reconnected=reconnected,
                        snapshot=lambda _: snapshot(), resynced=lambda _, reason: resynced(reason), depth=depth)

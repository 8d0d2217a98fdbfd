"""``follow_diffs``: drive a :class:`DiffSync` from a stream and a snapshot fetcher.

The I/O half of diff-based book sync, shared by every venue whose stream carries
``first``/``last`` update ids (Binance spot, and venues like it). The venue supplies three
small callables: how to read a :class:`BookEvent` from one of its messages, how to tell a
reconnect marker, and how to fetch a REST snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from lotusx.book.sync import BookEvent, DiffSync, Gap
from lotusx.models import OrderBook

RawLevels = Sequence[tuple[str, str]] | Sequence[list[str]]
Snapshot = tuple[RawLevels, RawLevels, int]  # bids, asks, last update id


async def follow_diffs(sync: DiffSync, messages: AsyncIterator[Any], *,
                       event: Callable[[Any], BookEvent | None], reconnected: Callable[[Any], bool],
                       snapshot: Callable[[], Awaitable[Snapshot]], resynced: Callable[[str], None],
                       depth: int | None = None) -> AsyncGenerator[OrderBook, None]:
    """Yield the maintained book after the snapshot and after every applied diff.

    A sequence gap discards the book and fetches a new snapshot while diffs keep buffering;
    ``resynced(reason)`` is called each time. Other symbols are not touched.

    A reconnect marker discards the book too, but the snapshot waits until the stream shows
    it is live again: the next message of any kind, normally the connection's
    :class:`~lotusx.ws.Resumed` once the venue re-acked the subscription. A snapshot taken
    while the stream is down can miss updates made before the subscription is back, and a
    quiet symbol would then never send the diff that reveals it.
    """
    incoming: asyncio.Future[Any] = asyncio.ensure_future(anext(messages))
    fetching: asyncio.Future[Snapshot] | None = None
    down = False  # after a reconnect marker, until the stream delivers again
    try:
        while True:
            # Fetch before waiting: a quiet symbol may send no diff for minutes, and the
            # snapshot alone is a correct book (diffs that raced it are buffered and replayed).
            if not sync.synced and fetching is None and not down:
                fetching = asyncio.ensure_future(snapshot())
            waiting = {incoming} if fetching is None else {incoming, fetching}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if fetching is not None and fetching in done:
                (bids, asks, last_update_id), fetching = fetching.result(), None
                outcome = sync.on_snapshot(bids, asks, last_update_id)
                if outcome == "snapshot":
                    yield sync.book.view(depth)
                elif isinstance(outcome, Gap):
                    resynced(outcome.reason)
            if incoming in done:
                message = incoming.result()
                incoming = asyncio.ensure_future(anext(messages))
                if reconnected(message):
                    sync.reset()
                    resynced("reconnect")
                    down = True
                    if fetching is not None:  # asked before the gap: it would not bridge it
                        fetching.cancel()
                        fetching = None
                    continue
                down = False
                diff = event(message)
                if diff is None:
                    continue
                outcome = sync.on_event(diff)
                if outcome == "applied":
                    yield sync.book.view(depth)
                elif isinstance(outcome, Gap):
                    resynced(outcome.reason)
    finally:
        for task in (incoming, fetching):
            if task is not None:
                task.cancel()

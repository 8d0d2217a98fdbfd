"""``conflate``: hand a slow consumer the newest item per key, never a backlog.

A stream's delivery queue keeps every message, in order, for a consumer slower than the
venue (up to its bound, and a full queue stops the socket being read). For state that each
message replaces (a maintained book, a ticker), what a consumer wants when it looks is the
newest state, not the one from seconds ago. ``conflate`` reads its source in a task of its
own, as fast as items come, and keeps only the newest item of each key not yet handed over.
It lives here, by the delivery queue it is the alternative to, and knows nothing of books:
any keyed stream may use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


async def conflate(source: AsyncIterator[T], *, key: Callable[[T], Hashable],
                   current: Callable[[T], bool] | None = None) -> AsyncGenerator[T, None]:
    """Yield the newest item of each ``key`` that came since that key was last yielded.

    ``source`` is read in a task of its own from the first read on, however slow the consumer:
    at most one item per key waits (memory bounded by the number of keys), and keys come in
    the order they first changed since last yielded, so a busy key does not starve a quiet one.
    An exception of ``source`` is raised at the consumer's next read, before any item still
    waiting: those are stale by then, and a failure (a lost subscription, a venue's format
    changed) must not hide behind them. When ``source`` ends, the items still waiting are
    yielded, then this ends too. Closing this generator (``aclose``, ``aclosing``, a cancelled
    consumer) stops the reader and closes ``source`` (its ``aclose``, when it has one).
    ``current(item)``, when given, is asked as a waiting item is handed over: one no longer current
    (a book whose stream has dropped since) is dropped instead, and its key waits for the next item.
    """
    waiting: dict[Hashable, T] = {}  # insertion order: the order keys changed since last yielded
    news = asyncio.Event()
    failure: list[BaseException] = []
    ended = False

    async def read() -> None:
        nonlocal ended
        try:
            async for item in source:
                waiting[key(item)] = item  # a key already waiting keeps its place, with the newer item
                news.set()
        except (Exception, asyncio.CancelledError) as exc:
            # Handed to the consumer, in its own task. A CancelledError is ours when the consumer
            # leaves (no one reads it then), else the source's own: raised where an unconflated
            # read would raise it, not a consumer left waiting for ever.
            failure.append(exc)
        ended = True
        news.set()

    reader = asyncio.create_task(read(), name="lotusx-conflate")
    try:
        while True:
            if failure:
                raise failure[0]
            if waiting:
                item = waiting.pop(next(iter(waiting)))
                if current is None or current(item):
                    yield item
                continue
            if ended:
                return
            news.clear()
            await news.wait()
    finally:
        reader.cancel()
        # wait(), not `await reader` under suppress(CancelledError): a cancel of the
        # consumer itself must reach it, and the reader's own cancellation must not.
        await asyncio.wait({reader})
        close = getattr(source, "aclose", None)
        if close is not None:  # an async generator cancelled mid-read is closed already: a no-op then
            await close()

"""Bounded delivery from the socket readers to the consumer, with a declared overflow policy.

- ``BLOCK``: a full queue makes the reader wait (back-pressure reaches the socket);
- ``DROP_OLDEST``: the oldest messages go, counted in ``ws_dropped{reason="overflow"}``, and
  a :class:`Gap` takes their place so a consumer (an order book) knows to resync. Only data
  messages are dropped, never a marker (:class:`Gap`, :class:`Resumed`, :class:`Lost`): losing
  a ``Resumed`` would leave a book waiting forever for a shard that is long back, losing a
  ``Lost`` a book waiting forever for a stream the venue no longer sends. When only markers are
  queued, a new message is dropped if the last of them is a ``Gap`` (it already precedes the
  loss); otherwise, and for a new marker, the producer waits as under ``BLOCK``. Markers come
  two per reconnect (and a ``Lost`` per stream refused), so that takes about ``maxsize / 2``
  reconnects the consumer has not read;
- ``FAIL``: the consumer's next read raises :class:`~lotusx.QueueOverflow`.

The queue holds at most ``maxsize`` items, but for one case: a subscriber waiting for the
venue's answer on a connection (see ``Shard.awaiting``). That answer may sit in the socket
behind more messages than the queue has room for, and the subscriber may be the consumer
itself, the only one who would make room: so where a policy would have that connection's
producers wait, they append instead, in order, up to ``2 * maxsize`` items. Past that they wait
again, and the subscribe ends in :class:`~lotusx.Timeout`.

**Push mode** (:meth:`Delivery.push`, used by ``ReconnectWs.run``) skips the queue: each item
goes to the consumer's handler as soon as it is delivered, on the reader's turn, with no task
switch between them. A slow handler then holds the reader, and the socket's own flow control
pushes back on the venue; nothing accumulates here. Queued items are handed over first.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from lotusx.kernel.errors import ConfigError, LotusXError, QueueOverflow, StreamError, SubscriptionRejected
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.metrics import Metrics

# The reason of the Gap an overflow leaves: the stream never went down, so no Resumed follows it.
OVERFLOW_REASON = "overflow"


class Overflow(enum.Enum):
    """What a full delivery queue does with one more message."""

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    FAIL = "fail"


class Gap(msgspec.Struct, frozen=True):
    """Messages may be missing before this point (a reconnect or an overflow): resync."""

    reason: str
    time: float
    shard: int = 0


class Resumed(msgspec.Struct, frozen=True):
    """The stream is live again after a :class:`Gap` on ``shard``: every subscription is re-acked.

    Anything fetched by REST from here on is no older than what the stream delivers next, so
    this, not the ``Gap``, is when a consumer re-snapshots a book or reconciles its orders.
    """

    time: float
    shard: int = 0


class Lost(msgspec.Struct, frozen=True):
    """The venue refused to resubscribe ``stream`` after a reconnect on ``shard``: it is gone, the others go on.

    A stream it had accepted before (a delisted symbol, a revoked permission): nothing more
    will come on it, so a consumer waiting for it must stop waiting (:meth:`rejected` is the
    error to end that wait with). It is removed as an unsubscribe would remove it, for every
    holder; ``venue_message`` is the venue's answer to the subscribe, as the dialect reads it.
    It comes after the reconnect's :class:`Gap` and before its :class:`Resumed`.
    """

    stream: str
    venue_message: str | None
    time: float
    shard: int = 0

    def rejected(self) -> SubscriptionRejected:
        """The ``SubscriptionRejected`` naming this stream, for a consumer that was waiting on it."""
        return SubscriptionRejected(f"the venue refused to resubscribe {self.stream!r} after a reconnect",
                                    venue_message=self.venue_message)


_MARKERS = (Gap, Resumed, Lost)
# A reader left alone decodes a whole socket buffer (hundreds of frames) before the consumer
# runs. The queued messages then live long enough for the cyclic GC to scan them again and
# again (measured: 6 us of GC per message), and the first of them waits for the last to be
# decoded. Yielding once this many are waiting keeps them young and the latency flat.
HANDOFF = 16
# In push mode nothing waits, but a reader still lets other tasks run (the handler's own, a
# REST call) after this many messages: a socket buffer holds a few hundred frames.
PUSH_BURST = 64


class Delivery:
    """An async bounded queue of messages and :class:`Gap` markers, or a push to a handler; see the module docstring."""

    def __init__(self, maxsize: int = 10_000, overflow: Overflow = Overflow.BLOCK, *,
                 metrics: Metrics | None = None, exchange: str = "", clock: Clock = SYSTEM_CLOCK) -> None:
        if maxsize < 2:
            raise ConfigError("a delivery queue needs room for at least 2 items (a Gap and a message)")
        self.maxsize = maxsize
        self.overflow = overflow
        self.clock = clock
        self.dropped = 0
        self._items: deque[Any] = deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        # Whether a consumer went to sleep on ``_readable`` since it was last set: the
        # per-message path sets the Event once per wake-up, not for every message that lands
        # while the woken consumer waits for its turn to run (a Python call each).
        self._asleep = False
        self._putters = 0
        self._error: LotusXError | None = None
        self._closed = False
        if metrics is not None:
            # Read at scrape time: setting a locked gauge twice per message cost more than the queue.
            metrics.track_queue(exchange, self)
        self._drops = metrics.ws_dropped.labels(exchange, "overflow") if metrics else None
        self._handler: Callable[[Any], object] | None = None  # set while push() mode is on
        self._pushed = 0  # messages pushed since the reader last let other tasks run
        self._handler_error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: Any) -> int:
        """Add ``item`` if there is room now and return the new length; 0 leaves it to :meth:`put`.

        In push mode the handler takes ``item`` at once; the length reported is 1, and
        ``HANDOFF`` every ``PUSH_BURST`` messages so the reader lets other tasks run.
        """
        handler = self._handler
        if handler is not None and not self._closed:
            return self._push(handler, item)
        items = self._items
        if len(items) < self.maxsize and not self._closed:
            items.append(item)
            if self._asleep:
                self._asleep = False
                self._readable.set()
            return len(items)
        return 0

    async def put(self, item: Any, read_on: Callable[[], bool] | None = None) -> None:
        """Add ``item``, applying the overflow policy when the queue is full; in push mode, push it.

        Where the policy would wait for room, ``item`` is appended while ``read_on()`` is true
        and fewer than ``2 * maxsize`` are queued (see the module docstring).
        """
        items = self._items
        while self._handler is None and len(items) >= self.maxsize and not self._closed:
            if self.overflow is Overflow.BLOCK:
                if self._reads_on(read_on):
                    break
                await self._room()
            elif self.overflow is Overflow.DROP_OLDEST:
                if not self._drop_oldest():
                    if not isinstance(item, _MARKERS) and isinstance(items[-1], Gap):
                        self._count_drop(1)  # the Gap queued last already precedes this message
                        return
                    if self._reads_on(read_on):
                        break
                    await self._room()
            else:
                self._count_drop(1)
                self.fail(QueueOverflow(f"consumer fell behind: {self.maxsize} messages waiting"))
                return
        if self._closed:
            return
        if self._handler is not None:  # push mode, or it began while this waited for room
            self._push(self._handler, item)
            return
        items.append(item)
        self._readable.set()

    def _reads_on(self, read_on: Callable[[], bool] | None) -> bool:
        return read_on is not None and len(self._items) < 2 * self.maxsize and read_on()

    def recheck(self) -> None:
        """Wake producers waiting for room to ask their ``read_on`` again: it may say yes now."""
        if self._putters:
            self._writable.set()

    async def _room(self) -> None:
        self._writable.clear()
        self._putters += 1
        try:
            await self._writable.wait()
        finally:
            self._putters -= 1

    def _drop_oldest(self) -> bool:
        """Drop or replace the oldest data message; False when only markers are queued.

        Replacing it with a ``Gap`` frees nothing, but the caller loops: the next data message
        then follows that ``Gap`` and is deleted. The scan stops at the first data message,
        which under a steady overflow sits right behind the head ``Gap``.
        """
        items = self._items
        index = next((i for i, item in enumerate(items) if not isinstance(item, _MARKERS)), -1)
        if index < 0:
            return False
        if index and isinstance(items[index - 1], Gap):
            del items[index]  # the Gap just before it already tells the consumer to resync
        else:
            items[index] = Gap(OVERFLOW_REASON, self.clock.time())
        self._count_drop(1)
        return True

    def _count_drop(self, count: int) -> None:
        self.dropped += count
        if self._drops is not None:
            self._drops.inc(count)

    def _push(self, handler: Callable[[Any], object], item: Any) -> int:
        try:
            handler(item)
        except (Exception, asyncio.CancelledError) as exc:
            # The consumer's bug ends the stream: ended() raises it, a later read the StreamError.
            # A CancelledError here is the handler's own (this runs no await): it must not end
            # the reader task as if the reader were cancelled.
            self._handler_error = exc
            failure = StreamError(f"the message handler raised {type(exc).__name__}")
            failure.__cause__ = exc
            self.fail(failure)
            return 0
        self._pushed += 1
        if self._pushed < PUSH_BURST:
            return 1
        self._pushed = 0
        return HANDOFF

    @property
    def closed(self) -> bool:
        """Whether the stream has ended: nothing more is queued."""
        return self._closed

    @property
    def handler_failed(self) -> bool:
        """Whether a handler raised (the stream has ended with its error)."""
        return self._handler_error is not None

    def push(self, handler: Callable[[Any], object] | None) -> None:
        """Hand every item to ``handler`` from now on, the queued ones first; ``None`` queues again.

        As a read would: under ``FAIL`` an overflow hands over nothing queued (``ended`` raises it).
        """
        if handler is not None and self._handler is not None:
            raise ConfigError("the stream already pushes to a handler")
        self._handler = handler
        if handler is None:
            return
        self._readable.set()  # a read already waiting wakes up to be refused
        items = self._items
        if isinstance(self._error, QueueOverflow):
            items.clear()
        while items and not self.handler_failed:
            self._push(handler, items.popleft())
        if self._putters:
            self._writable.set()

    async def ended(self) -> None:
        """Wait until the stream ends; raise its failure, or the exception a handler raised."""
        while not self._closed:
            self._readable.clear()
            await self._readable.wait()
        if isinstance(self._handler_error, Exception):
            raise self._handler_error
        if self._error is not None:  # a handler's CancelledError comes as the StreamError: not as a cancel
            raise self._error

    async def get(self) -> Any:
        """The next item; raises the failure if there is one, ``StopAsyncIteration`` once closed."""
        items = self._items
        while True:
            if self._handler is not None:
                raise ConfigError("the stream pushes to a handler (run()): it cannot be read as well")
            if items:
                break
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            self._readable.clear()
            self._asleep = True
            await self._readable.wait()
        # An overflow under FAIL skips what is queued; any other failure comes after it (see fail()).
        if self._error is not None and isinstance(self._error, QueueOverflow):
            raise self._error
        item = items.popleft()
        if self._putters:
            self._writable.set()
        return item

    def fail(self, error: LotusXError) -> None:
        """End the stream with ``error``: the consumer gets what is queued, then raises it.

        Nothing more is queued: another shard still feeding the queue would otherwise keep
        it from draining, and a consumer slower than that feed would never see the error.
        """
        if self._error is None:
            self._error = error
        self.close()

    def close(self) -> None:
        """End the stream: waiting consumers and producers return."""
        self._closed = True
        self._readable.set()
        self._writable.set()

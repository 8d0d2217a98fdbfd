"""``ReconnectWs``: a WebSocket stream that stays up, resubscribes and says when it had a gap.

``dialect`` is a venue's :class:`~lotusx.ws.dialect.WsDialect` (Bybit's spot one:
``lotusx.exchanges.bybit.streams.public_dialect(SPOT)``)::

    async with ReconnectWs(lambda: AiohttpWs(url), frames=frames(Parse(Event)), dialect=dialect) as ws:
        await ws.subscribe(["orderbook.50.BTCUSDT"])
        async for message in ws:          # venue messages, and Gap/Resumed/Lost markers after reconnects
            ...
        # or, the same messages pushed to a plain function on the reader's turn (no queue):
        await ws.run(on_message)

Streams are spread over as many connections (shards) as the dialect's per-connection caps
(``max_streams``, ``max_chars``) require, each supervised on its own (see
:mod:`lotusx.ws.connection`), all delivering into one bounded queue with a declared overflow
policy. A venue's cap per request (``max_args``) opens no connection: the streams of one
connection are sent in as many requests as it takes. Closing cancels every task it started.

A stream the venue accepted before but refuses to resubscribe after a reconnect (a delisted
symbol, a revoked permission) is lost alone: the others resume, and the consumer is told in
the stream by a :class:`~lotusx.ws.Lost` naming it (after the reconnect's ``Gap``, before its
``Resumed``): resuming without a word would leave it waiting for messages that never come.
The stream is gone for every holder, as after their unsubscribe.

A frame stage (``Inflate``, ``Dechunk``, your own parser) or a dialect matcher that raises
on a frame ends that connection, not the stream: the stage may have left per-connection state
(a half-read chunk) broken, and the reconnect (a ``Gap``, then a ``Resumed``) resets it. A
venue's malformed frame is no such failure: ``Parse`` counts it and skips it, or passes a
``Malformed`` on. But a stage that fails on what the venue sends on every connection (its
subscribe ack, every message of a schema the stage does not know) cannot be cured by
reconnecting: after :data:`~lotusx.ws.connection.STAGE_FAILURES_TO_END` (3) connections in a
row ended that way, each before the back-off's ``healthy_after``, the stream ends with a
:class:`~lotusx.StreamError` naming the stage and its exception's type (never the frame's
content), chained to that exception (``__cause__``).

What a reconnect cannot cure ends the stream with a typed error, raised by the consumer's
read (and by ``run``, and by a ``subscribe`` still waiting) once what is queued is drained: a
rejected login (:class:`~lotusx.AuthenticationError`), a bad configuration
(:class:`~lotusx.ConfigError`), every stream lost as above, leaving nothing to deliver
(:class:`~lotusx.SubscriptionRejected`, naming the last ones), a frame stage failing on
every connection (above), or a bug (:class:`~lotusx.StreamError`).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lotusx.kernel.errors import ConfigError, LotusXError, StreamError, SubscriptionRejected, Timeout
from lotusx.kernel.message import is_text, not_text
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock, WsSession
from lotusx.kernel.service import Layer, stack
from lotusx.log import get_logger
from lotusx.metrics import Metrics
from lotusx.ws.backoff import Backoff
from lotusx.ws.connection import Shard
from lotusx.ws.delivery import Delivery, Overflow
from lotusx.ws.dialect import WsDialect
from lotusx.ws.frames import Frames, frames
from lotusx.ws.heartbeat import Heartbeat
from lotusx.ws.hub import Dedup, Hub, settle
from lotusx.ws.outbound import Admit
from lotusx.ws.parse import Parse
from lotusx.ws.shard import place, size
from lotusx.ws.subscriptions import Registry, Subscription

_log = get_logger("lotusx.ws")


@dataclass(frozen=True)
class WsStats:
    """A snapshot of one ``ReconnectWs``."""

    connections: int
    streams: int
    messages: int
    reconnects: int
    rotations: int
    resubscriptions: int
    dropped: int
    queued: int
    lost: int = 0  # streams the venue refused to resubscribe after a reconnect (each told by a ``Lost``)


class ReconnectWs:
    """A supervised, resubscribing, sharded WebSocket stream; see the module docstring.

    ``factory()`` returns a fresh, unconnected :class:`~lotusx.WsSession` per connection.
    ``outbound`` layers wrap every message sent (subscribe, login, app pings), e.g.
    ``stack(RateLimit(...), Trace(...))``. ``subscribe`` waits up to ``subscribe_timeout``
    for the venue's acks; ``ack_timeout`` bounds each ack a new connection waits for.
    ``admit(attempt)`` makes every connection attempt (see :func:`lotusx.ws.outbound.admission`):
    a venue's limit on connection attempts per IP, and its IP ban, shared with REST through the
    connector's ``RateLimit`` (an upgrade refused with ``IpBanned`` holds REST calls, a REST ban
    holds attempts); without it, attempts are made at once. ``queue_size`` bounds the queue to the
    consumer and ``overflow`` says what a full one does (:mod:`lotusx.ws.delivery`); while a
    ``subscribe`` waits for its acks, it may hold up to twice ``queue_size``.
    """

    def __init__(self, factory: Callable[[], WsSession], *, frames: Frames | None = None,
                 dialect: WsDialect | None = None, heartbeat: Heartbeat | None = None,
                 backoff: Backoff | None = None, outbound: Layer | None = None, queue_size: int = 10_000,
                 overflow: Overflow = Overflow.BLOCK, ack_timeout: float = 10.0, subscribe_timeout: float = 30.0,
                 rotate_before: float = 300.0, dedup_size: int = 8192, metrics: Metrics | None = None,
                 clock: Clock = SYSTEM_CLOCK, admit: Admit | None = None) -> None:
        if not callable(factory):  # a session passed where the factory of sessions goes
            raise ConfigError(f"ReconnectWs takes a factory that makes a fresh session for each connection, "
                              f"e.g. ReconnectWs(lambda: AiohttpWs(url), ...), got a {type(factory).__name__}")
        self.factory = factory
        self.frames = frames if frames is not None else _default_frames()
        self.dialect = dialect if dialect is not None else WsDialect()
        lifetime = self.dialect.lifetime
        if lifetime is not None and not 0 <= rotate_before < lifetime:
            # Rotation is due lifetime - rotate_before after a link opens: at 0 every new link
            # would rotate at once, a new socket and a full resubscribe each turn of the loop.
            raise ConfigError(f"rotate_before must be >= 0 and below the venue's connection lifetime "
                              f"({lifetime} s), got {rotate_before!r}")
        for name, seconds in (("ack_timeout", ack_timeout), ("subscribe_timeout", subscribe_timeout)):
            # Written so that NaN fails too: asyncio sleeps for ever on NaN, so a silent venue would hang
            # subscribe() or the shard; zero or less timed out every connection's setup (a reconnect storm).
            if not 0 < seconds < math.inf:
                raise ConfigError(f"{name} must be positive finite seconds, got {seconds!r}")
        self.heartbeat = heartbeat if heartbeat is not None else Heartbeat()
        self.backoff = backoff if backoff is not None else Backoff()
        self.outbound = outbound if outbound is not None else stack()
        self.queue_size = queue_size
        self.overflow = overflow
        self.ack_timeout = ack_timeout
        self.subscribe_timeout = subscribe_timeout
        self.rotate_before = rotate_before
        self.dedup_size = dedup_size
        self.metrics = metrics if metrics is not None else Metrics()
        self.clock = clock
        self.admit = admit
        self._hub: Hub | None = None
        self._get: Callable[[], Awaitable[Any]] | None = None  # the delivery's get(), bound once
        self._shards: list[Shard] = []
        self._closed = False

    async def __aenter__(self) -> ReconnectWs:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        """Open the first connection (it logs in, if the dialect does, with no streams yet)."""
        if self._hub is not None:
            raise ConfigError("ReconnectWs already started")
        dialect = self.dialect
        self._hub = Hub(
            factory=self.factory, dialect=dialect, frames=self.frames, heartbeat=self.heartbeat,
            backoff=self.backoff, outbound=self.outbound, clock=self.clock, metrics=self.metrics,
            delivery=Delivery(self.queue_size, self.overflow, metrics=self.metrics, exchange=dialect.name,
                              clock=self.clock),
            registry=Registry(), ack_timeout=self.ack_timeout, rotate_before=self.rotate_before,
            dedup=Dedup(dialect.identity, self.dedup_size) if dialect.identity is not None else None,
            admit=self.admit,
        )
        self._shard(0)

    def _running(self) -> Hub:
        if self._hub is None:
            raise ConfigError("ReconnectWs not started: use `async with ReconnectWs(...) as ws`")
        return self._hub

    def _shard(self, index: int) -> Shard:
        while len(self._shards) <= index:
            shard = Shard(self._running(), len(self._shards))
            self._shards.append(shard)
            shard.start()
        return self._shards[index]

    async def subscribe(self, streams: Sequence[str]) -> None:
        """Subscribe to ``streams`` and wait until the venue confirms them.

        Made while a connection is down, or sent into a socket that turns out lost
        (:class:`~lotusx.Disconnected`, not raised), the subscription waits for the next
        connection, which sends it. When it raises, this call holds nothing any more (its
        streams are gone unless someone else holds them, and what it sent is unsubscribed)
        except as noted:

        - an outbound layer refused the message (:class:`~lotusx.RateLimited`) or failed, or
          the call was cancelled: nothing is held; a concurrent subscribe() waiting for a
          stream that was never sent raises the same error;
        - :class:`~lotusx.Timeout`, no confirmation within ``subscribe_timeout``: the request
          may be at the venue, so the holds stay and are resubscribed on reconnect (unsubscribe
          to drop them);
        - :class:`~lotusx.SubscriptionRejected`: the refused stream is gone, the others stay
          subscribed (a venue refusing a whole request for one bad stream in it is asked again
          in halves of it, so the refused stream named is the bad one);
        - :class:`~lotusx.StreamError` or the stream's error: the stream ended first (closed,
          failed for good), or another caller unsubscribed the last hold.

        Do not unsubscribe() after a raise that holds nothing: a stream someone else holds
        would lose their hold (with nobody else, it is a no-op).

        It may be awaited inside the consumer's own ``async for``: while it waits, its
        connections read on past a full queue (up to twice ``queue_size``) for the acks.
        """
        hub = self._running()
        if self._closed:
            raise StreamError("ReconnectWs is closed")
        for stream in streams:
            _check_stream(stream)
        registry = hub.registry
        new = registry.acquire(streams)
        held = registry.holds(streams)
        carried = [registry.on_shard(shard.index) for shard in self._shards]
        placed = place(new, [len(streams_) for streams_ in carried], self.dialect.max_streams,
                       sizes=[sum(map(size, streams_)) for streams_ in carried], max_chars=self.dialect.max_chars)
        # Every stream is placed (and its shard exists) before the first await: a concurrent
        # subscribe() counts them, or it could put more than a connection may carry on one.
        for index, group in placed.items():
            for stream in group:
                sub = registry.get(stream)
                if sub is not None:
                    sub.shard = index
            self._shard(index)
        sending = True
        try:
            for index, group in placed.items():
                await self._shards[index].subscribe(group)
            sending = False
            waiters = registry.waiters(streams)
            with contextlib.ExitStack() as answers:  # the acks may sit behind a backlog: see Shard.awaiting
                for index in {sub.shard for sub in registry.holds(streams)}:
                    answers.enter_context(self._shards[index].awaiting())
                await settle(waiters, self.subscribe_timeout, self.clock)
            for waiter in waiters:
                waiter.result()
        except BaseException as exc:
            # All or nothing, so a caller told it failed can retry without holding a stream twice
            # or getting data a reconnect subscribed. Once all is sent, a Timeout or a rejection
            # keeps the rest (see above): the venue may have it.
            if sending or not isinstance(exc, (Timeout, SubscriptionRejected)):
                await self._let_go(registry.let_go(held))
            unreached = [shard.failure for index in placed if not (shard := self._shards[index]).connected
                         and shard.failure is not None]
            if isinstance(exc, Timeout) and unreached:  # not the venue's silence: no connection at all
                raise Timeout(f"subscribe: no connection to the venue within {self.subscribe_timeout} s, the last "
                              f"attempt failed: {unreached[0]} (is the WebSocket URL right?)") from exc
            raise

    async def live(self) -> None:
        """Return once every connection is set up: logged in (if the dialect logs in), the streams so far acked.

        At once while that holds; while a connection is down (or rotating), once the next one is
        set up. It puts nothing in the stream. A :meth:`subscribe` still waiting for its ack on a
        connection already set up is that call's to wait for, not this one's.

        Raised as :meth:`subscribe` raises when the stream ended first: :class:`~lotusx.StreamError`
        if it is closed, else the stream's error (a refused login's :class:`~lotusx.AuthenticationError`,
        ...). Anything REST reads after it returns is no older than what the stream delivers next:
        a consumer reconciling from a past time (the account watches' ``since=``) does so here,
        without a race.
        """
        self._running()
        while True:
            if self._closed:
                raise StreamError("ReconnectWs is closed")
            down = next((shard for shard in self._shards if not shard.up), None)
            if down is None:
                return
            await down.live()

    async def unsubscribe(self, streams: Sequence[str]) -> None:
        """Drop this subscriber's hold on ``streams``; the venue is told when nobody holds one."""
        await self._tell_venue(self._running().registry.release(streams))

    async def _let_go(self, gone: list[Subscription]) -> None:
        """Unsubscribe what a failed subscribe() sent; its own error is the one the caller gets."""
        try:
            await self._tell_venue(gone)
        except LotusXError as exc:
            _log.warning("ws unsubscribe after a failed subscribe failed", exchange=self.dialect.name,
                         streams=[sub.stream for sub in gone], error=repr(exc))

    async def _tell_venue(self, gone: list[Subscription]) -> None:
        by_shard: dict[int, list[str]] = {}
        for sub in gone:
            if sub.sent:  # the venue never heard of the others
                by_shard.setdefault(sub.shard, []).append(sub.stream)
        for index, group in by_shard.items():
            if 0 <= index < len(self._shards):
                await self._shards[index].unsubscribe(group)

    def shard_of(self, stream: str) -> int | None:
        """The shard (connection) carrying ``stream``, as a ``Gap`` or ``Resumed`` names it; None if not held (or lost).

        A stream stays on its shard while it is held: a consumer of several streams resyncs only
        those of the shard a ``Gap`` names (see :func:`lotusx.book.follow_books`).
        """
        sub = self._running().registry.get(stream)
        return None if sub is None or sub.shard < 0 else sub.shard

    def reconnect(self, reason: str = "requested") -> None:
        """Drop every connection now; each shard reconnects as after any loss of its socket.

        The stream gets a ``Gap`` with ``reason``, then, once resubscribed, a ``Resumed``. For
        a venue that ends a subscription without closing the socket (Binance's ``eventStreamTerminated``).
        """
        for shard in self._shards:
            shard.drop(reason)

    async def run(self, handler: Callable[[Any], object]) -> None:
        """Call ``handler(message)`` for every message as soon as it is decoded, until the stream ends.

        The push form of ``async for message in ws``: the same messages and markers in the
        same order (what is queued first), but each is handled on the socket reader's own turn,
        with no queue and no task switch per message. It returns when the stream is closed and
        raises what ``async for`` would raise. An exception from ``handler`` closes the stream
        and is raised here (a later read raises :class:`~lotusx.StreamError` from it).
        Cancelling ``run`` only stops the push: later messages queue again. An ``async def``
        handler is refused (:class:`~lotusx.ConfigError`): the reader cannot await it.

        ``handler`` runs inside the reader, so nothing is read from the socket while it runs:
        keep it to bookkeeping (update a book, set a flag, start a task). It cannot be combined
        with ``async for`` on the same stream.
        """
        delivery = self._running().delivery
        if _is_async(handler):
            # Called by the reader, which cannot await it, it would only make a coroutine per message:
            # each message lost, unseen, and run() waiting for ever.
            raise ConfigError("run() takes a plain function, called inside the socket reader, got an async one: "
                              "read with `async for message in ws` to await per message, or start a task from "
                              "a plain handler")
        delivery.push(handler)
        try:
            await delivery.ended()
        except BaseException:
            if delivery.handler_failed:
                await self.close()  # the stream is over: its sockets and subscriptions too
            raise
        finally:
            delivery.push(None)

    def __aiter__(self) -> ReconnectWs:
        return self

    def __anext__(self) -> Awaitable[Any]:
        # A plain method handing out get()'s coroutine: one coroutine per message, not two.
        get = self._get
        if get is None:
            get = self._get = self._running().delivery.get
        return get()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (by the owner, or by ``async with`` ending)."""
        return self._closed

    @property
    def stats(self) -> WsStats:
        """Counters and sizes right now."""
        hub = self._running()
        counts = hub.counts
        return WsStats(
            connections=sum(1 for shard in self._shards if shard.connected),
            streams=len(hub.registry), messages=hub.messages,
            reconnects=counts.get("reconnects", 0), rotations=counts.get("rotations", 0),
            resubscriptions=counts.get("resubscriptions", 0), dropped=hub.delivery.dropped,
            queued=len(hub.delivery), lost=counts.get("lost", 0),
        )

    async def close(self) -> None:
        """Stop every shard, close every socket and end the stream."""
        self._closed = True
        for shard in self._shards:  # all at once: a cancelled close() still stops every shard
            shard.cancel()
        try:
            for shard in self._shards:
                await shard.stop()
        finally:
            if self._hub is not None:
                self._hub.delivery.close()

    def __repr__(self) -> str:
        return (f"ReconnectWs({self.frames!r}, dialect={self.dialect.name!r}, {self.heartbeat!r}, "
                f"{self.backoff!r}, outbound={self.outbound!r}, queue_size={self.queue_size}, "
                f"overflow={self.overflow.name})")


async def subscribe_unless_closed(ws: ReconnectWs, streams: Sequence[str]) -> None:
    """``ws.subscribe(streams)``, except that ``ws`` closed while it waits is no error but the end.

    A watch whose owner closes it before the venue's ack (a connector's ``async with`` ending
    while a watcher in another task is starting) then finishes its ``async for`` at once, as
    one closed a moment after the ack does. A stream that failed instead (a login refused, a
    stream rejected) still raises its error, here or from that ``async for``.
    """
    try:
        await ws.subscribe(streams)
    except StreamError:
        if not ws.closed:
            raise


async def live_unless_closed(ws: ReconnectWs) -> bool:
    """``ws.live()``; False, not an error, if ``ws`` is closed first (see :func:`subscribe_unless_closed`)."""
    try:
        await ws.live()
    except StreamError:
        if not ws.closed:
            raise
        return False
    return True


def _is_async(handler: object) -> bool:
    """Whether calling ``handler`` makes a coroutine: an ``async def`` (or a partial of one), or an object whose
    ``__call__`` is one."""
    call = next((vars(k)["__call__"] for k in type(handler).__mro__ if "__call__" in vars(k)), None)
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def _default_frames() -> Frames:
    return frames(Parse())


def _check_stream(stream: str) -> None:
    """A ``ConfigError`` for a stream name no message can carry: undecodable bytes (a lone surrogate) in it.

    Caught here, the caller gets it; found when the connection encodes the message, it would
    end that connection and fail every stream on it.
    """
    if isinstance(stream, str) and not is_text(stream):  # anything else is the dialect's to encode, or to refuse
        raise not_text(f"stream {stream!r}")

"""One supervised connection (a shard): connect, log in, subscribe, read, watch, rotate, reconnect.

A :class:`Shard` runs one supervisor task. Each live socket is a :class:`Link` with two
tasks: the reader (frames -> pipeline -> control matchers -> delivery) and the watch
(pings, pong deadline, idle watchdog). A link ends with a *reason*; the supervisor then puts
a :class:`~lotusx.ws.delivery.Gap` in the stream, backs off and reconnects, logging in again
before resubscribing. Once every subscription is acked again it puts a
:class:`~lotusx.ws.delivery.Resumed`: from there on the stream is live. Before the venue's
connection lifetime ends, or when it announces a shutdown, the shard *rotates*: it opens and
subscribes a new link while the old one still delivers, then closes the old one; the hub's
dedup drops what both delivered.

A stream the venue accepted before but refuses to resubscribe (a delisted symbol, a revoked
permission) is lost alone: dropped from the registry as an unsubscribe would drop it, counted
(``ws_lost_streams_total``), logged, and told to the consumer by a
:class:`~lotusx.ws.delivery.Lost` in the stream, after the reconnect's ``Gap`` and before its
``Resumed``, which comes once the other streams are re-acked. Only when no stream is left at
all does the stream end, with :class:`~lotusx.SubscriptionRejected`.

A frame stage (or a dialect matcher) that raises on a frame ends its link: the stage may have
left per-connection state (a half-read chunk, an inflater) broken, and a fresh connection
resets it. But one failing on what the venue sends on every connection (its subscribe ack,
each message of a schema the stage does not know) would make the shard reconnect for ever,
yielding only ``Gap`` markers. So when :data:`STAGE_FAILURES_TO_END` links in a row each ended that
way before staying up for the back-off's ``healthy_after``, the stream ends with a
:class:`~lotusx.StreamError` naming the stage and its exception's type (never the frame: it
may hold a secret), its ``__cause__`` the stage's exception. A stage's failure on a link that
lived longer, or one between links ended otherwise, stays a reconnect. A venue's malformed
frame is no stage failure: ``Parse`` counts it and skips it (or passes a ``Malformed`` on).

Some failures no reconnect can cure: a rejected login, a bad configuration, every stream
refused on resubscription (above), a frame stage failing on every connection (above), or a
bug (an exception that is not a :class:`~lotusx.LotusXError`, wrapped in a
:class:`~lotusx.StreamError`). The shard then ends the stream with that error, after what is
already queued, and fails every subscribe still waiting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from lotusx.kernel.errors import (
    AuthenticationError,
    ConfigError,
    Disconnected,
    LotusXError,
    RateLimited,
    StreamError,
    SubscriptionRejected,
)
from lotusx.kernel.protocols import WsPump, WsSession
from lotusx.kernel.ws import WsFrame, WsKind
from lotusx.log import get_logger
from lotusx.ws.delivery import HANDOFF, Gap, Lost, Resumed
from lotusx.ws.frames import Drop, Many
from lotusx.ws.heartbeat import Liveness
from lotusx.ws.hub import Hub, Link, settle
from lotusx.ws.outbound import pinger, sender
from lotusx.ws.shard import batches

_log = get_logger("lotusx.ws")

_TEXT, _BINARY = WsKind.TEXT, WsKind.BINARY  # bound once: an enum member lookup costs ~70 ns
# A frame that came this long (seconds) after the one before starts a burst: the reader yields
# once its message is queued, so a waiting consumer takes it now rather than after the reader
# has decoded the rest of the burst (~10 us a frame). One task switch a burst, none in a flood.
# (On the reader's fast path: dialects that declare their control message types.)
_BURST_GAP = 100e-6
# Errors that would recur on every connection: they end the stream instead of a reconnect.
_FATAL = (AuthenticationError, ConfigError, SubscriptionRejected)
# Connections in a row, each short-lived, that a frame stage (or a dialect matcher) failing on
# a frame ended: the venue sends on every connection what the pipeline cannot read, so the
# stream ends with a StreamError instead of reconnecting for ever.
STAGE_FAILURES_TO_END = 3


def _cool_off(delay: float, error: LotusXError | None) -> float:
    """``delay``, or longer when ``error`` is a throttle that says when to come back."""
    if isinstance(error, RateLimited) and error.retry_after is not None:
        # The venue said when: an attempt before then is one more violation, and
        # Binance lengthens an IP ban for each ("from 2 minutes to 3 days").
        return max(delay, error.retry_after)
    return delay


class Shard:
    """One supervised connection carrying the streams placed on shard ``index``."""

    def __init__(self, hub: Hub, index: int) -> None:
        self.hub = hub
        self.index = index
        self.link: Link | None = None  # the link that takes new subscriptions
        self._opening: Link | None = None  # a link logging in and subscribing
        self.task: asyncio.Task[None] | None = None
        self._links: set[Link] = set()
        self._opened_before = False
        self._gapped = False  # a Gap was put and its Resumed is still due
        self._ended: LotusXError | None = None  # why the supervisor is gone: later subscribes fail with it
        self._refused: LotusXError | None = None  # why the last rotation's new link could not open
        self._retiring: Link | None = None  # the old link while a rotation opens its successor
        self.failure: LotusXError | None = None  # why the last connection attempt failed, until one opens
        self._awaited = 0  # subscribers waiting for the venue's answer here: see awaiting()
        self._changed: asyncio.Future[None] | None = None  # live() waiters: a link set up, or the shard ended
        self._stage_failures = 0  # links in a row a failing frame stage ended soon after they opened
        self._unreadable: StreamError | None = None  # set once that reached STAGE_FAILURES_TO_END

    @property
    def connected(self) -> bool:
        """Whether a connection is up (possibly still subscribing)."""
        return self.link is not None or self._opening is not None

    def start(self) -> None:
        """Start the supervisor."""
        self.task = asyncio.create_task(self._supervise(), name=f"lotusx-ws-{self.hub.exchange}-{self.index}")

    def cancel(self) -> None:
        """Tell the supervisor to stop; it closes its sockets on its way out."""
        # Only once: a second cancel would interrupt the supervisor's own clean-up.
        if self.task is not None and not self.task.cancelling():
            self.task.cancel()

    async def stop(self) -> None:
        """Stop the supervisor and wait until every socket it holds is closed."""
        task = self.task
        if task is None:
            return
        self.cancel()
        # wait(), not `await task` under suppress(CancelledError): a cancel of the caller
        # must reach the caller, and the supervisor's own cancellation must not.
        await asyncio.wait({task})
        if not task.cancelled() and (error := task.exception()) is not None:
            _log.error("ws shard failed to stop", exchange=self.hub.exchange, shard=self.index, error=error)

    @property
    def up(self) -> bool:
        """Whether a link is set up (logged in, its streams acked) and not known dead."""
        return self.link is not None and not self.link.ended.done()

    async def live(self) -> None:
        """Return once a link is set up (:attr:`up`); raise why the shard ended if it ends first."""
        while not self.up:
            if self._ended is not None:
                raise self._ended
            if self._changed is None or self._changed.done():
                self._changed = asyncio.get_running_loop().create_future()
            # wait(), not await: a cancelled waiter must not cancel the future the others wait on.
            await asyncio.wait({self._changed})

    def _wake(self) -> None:
        """Tell live() waiters to look again (only a result: nobody need retrieve an error)."""
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    @contextlib.contextmanager
    def awaiting(self) -> Iterator[None]:
        """A subscriber waits in this block for the venue's answer on this shard.

        The answer may sit in the socket behind more messages than a full queue has room for,
        and the subscriber may be the consumer, the only one who would make room. So meanwhile
        this shard reads on past a full queue (see :mod:`lotusx.ws.delivery`): its readers keep
        handling control messages, and it puts its Gap of a reconnect, as its answer may come
        only on the next connection.
        """
        self._awaited += 1
        self.hub.delivery.recheck()
        try:
            yield
        finally:
            self._awaited -= 1

    def _read_on(self) -> bool:
        return self._awaited > 0

    def drop(self, reason: str) -> None:
        """End the current link (and one being opened): the supervisor reconnects.

        During a rotation the current link is the old one, still delivering until its successor
        is subscribed: ended, it makes the rotation end in a ``Gap`` with ``reason``.
        """
        for link in (self.link, self._opening, self._retiring):
            if link is not None:
                link.end(reason)

    async def subscribe(self, streams: list[str]) -> None:
        """Send a subscribe for ``streams`` now, or leave them for the link being opened (or the next).

        A socket lost while sending leaves them for the next link too. Any other failure to send
        (an outbound layer's ``RateLimited``, a cancel) is raised and removes them for every holder.
        """
        registry = self.hub.registry
        if self._ended is not None:
            registry.fail(streams, self._ended)
            return
        link = self.link
        if link is None or link.ended.done():
            return
        # The link's own resubscribe may have sent some while this call awaited.
        streams = [s for s in streams if (sub := registry.get(s)) is not None and not sub.sent]
        if not streams:
            return
        try:
            await self._send_subscribe(link, streams)
        except Disconnected:
            link.end("disconnected")  # unsent again: the next link subscribes them
        except BaseException as exc:
            # The link lives on: left registered they would keep their place on the connection
            # and be sent by the next reconnect, to a caller told they failed. Not those a newer
            # link sent meanwhile (sent again): they are on the venue, and others may hold them.
            unsent = [s for s in streams if (sub := registry.get(s)) is not None and not sub.sent]
            registry.drop(unsent, exc if isinstance(exc, Exception)
                          else StreamError("the subscribe was cancelled before it was sent"))
            raise

    async def unsubscribe(self, streams: list[str]) -> None:
        """Send an unsubscribe for ``streams`` if connected (a new link will not subscribe them)."""
        dialect = self.hub.dialect
        link = self.link or self._opening  # a link still subscribing may already carry them
        if link is None or link.ended.done() or not streams or dialect.unsubscribe is None:
            return
        with contextlib.suppress(Disconnected):  # the venue forgets a dead link's streams by itself
            for batch in batches(streams, dialect.max_args):
                await link.send(dialect.unsubscribe(batch, self.hub.registry.new_id()))

    # -- supervision ---------------------------------------------------------------------

    async def _supervise(self) -> None:
        hub = self.hub
        ended: LotusXError = StreamError("the stream was closed before the venue confirmed the subscription")
        try:
            await self._run()
        except Exception as exc:  # nothing else may end the supervisor silently: the stream would hang
            if isinstance(exc, LotusXError):
                ended = exc
            else:
                ended = StreamError(f"WebSocket shard {self.index} failed: {exc!r}")
                ended.__cause__ = exc
            _log.error("ws stream failed", exchange=hub.exchange, shard=self.index, error=repr(exc))
            hub.delivery.fail(ended)
        finally:
            self.link = None
            self._ended = ended
            self._wake()
            hub.registry.fail(hub.registry.on_shard(self.index), ended)
            for link in list(self._links):
                await self._close(link)

    async def _run(self) -> None:
        """Connect, serve and reconnect until a fatal error (raised) or cancellation."""
        hub = self.hub
        failures = 0
        while True:
            try:
                link = await self._open()
                self.failure = None
                await self._resumed()
            except _FATAL:
                raise
            except LotusXError as exc:
                if self._unreadable is not None:  # the link's stage failed once too often: see _judge
                    raise self._unreadable from self._unreadable.__cause__
                self.failure = exc
                failures += 1
                hub.metrics.ws_connect_failures.labels(hub.exchange, type(exc).__name__).inc()
                delay = _cool_off(hub.backoff.delay(failures), exc)
                _log.warning("ws connect failed", exchange=hub.exchange, shard=self.index,
                             failures=failures, error=str(exc), retry_in=round(delay, 3))
                await hub.clock.sleep(delay)
                continue
            reason, since = await self._serve(link)
            if self._unreadable is not None:
                raise self._unreadable from self._unreadable.__cause__
            healthy = hub.clock.monotonic() - since >= hub.backoff.healthy_after
            failures = 1 if healthy else failures + 1
            await self._reconnecting(reason)
            refused, self._refused = self._refused, None  # a rotation's new link refused with a throttle
            await hub.clock.sleep(_cool_off(hub.backoff.delay(failures), refused))

    async def _reconnecting(self, reason: str) -> None:
        hub = self.hub
        _log.warning("ws reconnecting", exchange=hub.exchange, shard=self.index, reason=reason)
        hub.metrics.ws_reconnects.labels(hub.exchange, reason).inc()
        hub.count("reconnects")
        hub.registry.reset(self.index)
        await hub.delivery.put(Gap(reason, hub.clock.time(), self.index), self._read_on)
        self._gapped = True

    async def _resumed(self) -> None:
        """Put the ``Resumed`` a ``Gap`` is owed, now that the link is subscribed."""
        if self._gapped:
            self._gapped = False
            await self.hub.delivery.put(Resumed(self.hub.clock.time(), self.index), self._read_on)

    async def _serve(self, link: Link) -> tuple[str, float]:
        """Run ``link`` (and its successors after rotations) until one dies: (reason, since when it is up).

        A rotation keeps the shard up, so the time returned, which decides whether the back-off
        starts over, is when ``link`` opened, not when its last successor did.
        """
        hub = self.hub
        lifetime = hub.dialect.lifetime
        since = opened = hub.clock.monotonic()
        while True:
            waits: set[asyncio.Future[Any]] = {link.ended, link.shutdown}
            timer = None
            if lifetime is not None:
                due = opened + max(0.0, lifetime - hub.rotate_before) - hub.clock.monotonic()
                timer = asyncio.ensure_future(hub.clock.sleep(due))
                waits.add(timer)
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if timer is not None:
                    timer.cancel()
            if link.ended.done():
                self.link = None  # subscribes from now on wait for the next link
                await self._close(link)
                return link.ended.result(), since
            successor = await self._rotate(link)
            if successor is None:
                return "rotation_failed", since
            link, opened = successor, hub.clock.monotonic()

    async def _rotate(self, old: Link) -> Link | None:
        dedup = self.hub.dedup
        if dedup is not None:
            dedup.overlap_started()
        self._retiring = old
        try:
            return await self._replace(old)
        finally:
            self._retiring = None
            if dedup is not None:
                dedup.overlap_ended()

    async def _replace(self, old: Link) -> Link | None:
        hub = self.hub
        _log.info("ws rotating connection", exchange=hub.exchange, shard=self.index)
        self.link = None
        hub.registry.reset(self.index)
        try:
            new = await self._open(rotating=True)
        except _FATAL:
            raise
        except LotusXError as exc:
            if self._unreadable is not None:  # its stage failed once too often: the stream ends (see _judge)
                await self._close(old)
                raise self._unreadable from self._unreadable.__cause__
            # A connection attempt that failed, as in _run: a ban or a refused upgrade shows up at rotations too.
            hub.metrics.ws_connect_failures.labels(hub.exchange, type(exc).__name__).inc()
            _log.warning("ws rotation failed", exchange=hub.exchange, shard=self.index, error=str(exc))
            self._refused = exc
            await self._close(old)
            return None
        died = old.ended.done()
        # A reader held by a full BLOCK queue is cancelled with the message it holds (counted,
        # and remembered by dedup, so the new link's copy is dropped) and its socket's unread
        # backlog, older than the new subscription: lost, as if the old socket had died.
        held = old.live.held
        await self._close(old)
        hub.count("rotations")
        hub.metrics.ws_rotations.labels(hub.exchange).inc()
        if died or held:  # the old socket failed before the new one took over: messages may be missing
            reason = old.ended.result() if died else "back_pressure"
            await hub.delivery.put(Gap(reason, hub.clock.time(), self.index), self._read_on)
            self._gapped = True
            await self._resumed()  # the new link is already subscribed
        return new

    # -- one link ------------------------------------------------------------------------

    async def _open(self, *, rotating: bool = False) -> Link:
        hub = self.hub
        session = hub.factory()
        try:
            if hub.admit is None:
                await session.connect()
            else:  # the venue's limit on attempts (RateLimited: a failed one), and what a refusal teaches it
                await hub.admit(session.connect)
        except BaseException:  # failed or cancelled (a close()) half-way: a session may hold resources
            await self._discard(session)
            raise
        link = Link(session, sender(session, hub.outbound), pinger(session, hub.outbound),
                    Liveness(hub.heartbeat, hub.clock.monotonic()), hub.frames.fresh())
        link.opened = hub.clock.monotonic()
        self._links.add(link)
        link.tasks = [asyncio.create_task(self._read(link)), asyncio.create_task(self._watch(link))]
        self._opening = link
        try:
            await self._login(link)
            await self._subscribe_all(link)
        except BaseException as exc:
            reason = link.ended.result() if link.ended.done() else "setup_failed"
            await self._close(link)
            if (isinstance(exc, LotusXError) and not isinstance(exc, _FATAL) and not rotating
                    and self._unreadable is None):
                # the link may have delivered messages before it failed: tell the consumer
                await self._reconnecting(reason)
            raise
        finally:
            self._opening = None
        self.link = link
        self._opened_before = True
        self._wake()
        return link

    async def _login(self, link: Link) -> None:
        hub = self.hub
        if hub.dialect.login is None:
            return
        if hub.dialect.login_ack is not None:
            link.login = asyncio.get_running_loop().create_future()
        await link.send(await hub.dialect.login())
        if link.login is None:
            return
        await settle([link.login], hub.ack_timeout, hub.clock, link.ended)
        result = link.login.result()
        if isinstance(result, LotusXError):
            raise result
        ok, error = result
        if not ok:
            raise AuthenticationError("WebSocket login rejected", venue_message=error)

    async def _subscribe_all(self, link: Link) -> None:
        hub = self.hub
        registry = hub.registry
        # Loop until nothing is left unsent: subscribe() calls made while we awaited are
        # picked up here, since self.link is set only after the last (synchronous) check.
        while streams := registry.unsent(self.index):
            if self._opened_before:
                hub.metrics.ws_resubscriptions.labels(hub.exchange).inc(len(streams))
                hub.count("resubscriptions", len(streams))
            # Nobody awaits a resubscription: its rejection would otherwise only be logged,
            # and the stream would resume without it and never say so.
            again = {s: sub.ready for s in streams if (sub := registry.get(s)) is not None and sub.acked}
            try:
                waiters = await self._send_subscribe(link, streams)
                await settle(waiters, hub.ack_timeout, hub.clock, link.ended)
            except LotusXError:
                # The link failed after the venue refused some (an ack timed out, the socket
                # dropped): the registry dropped them, so no later connection would say so.
                await self._lose(self._refused_again(again))
                raise
            await self._lose(self._refused_again(again))

    def _refused_again(self, again: dict[str, asyncio.Future[None]]) -> list[Lost]:
        """A ``Lost`` for each stream of ``again`` (a resubscription's waiters) the venue refused."""
        hub = self.hub
        return [Lost(stream, refused.venue_message, hub.clock.time(), self.index)
                for stream, ready in again.items()
                if isinstance(refused := ready.exception() if ready.done() and not ready.cancelled() else None,
                              SubscriptionRejected)]

    async def _lose(self, lost: list[Lost]) -> None:
        """Tell the consumer of each stream the venue refused to resubscribe (the registry dropped it).

        The others resume: one delisted symbol must not end a feed of a hundred. With nothing
        left to deliver at all, the stream ends with the refusal: a consumer must not wait on it.
        """
        hub = self.hub
        for marker in lost:
            _log.warning("ws stream lost", exchange=hub.exchange, shard=self.index, stream=marker.stream,
                         error=marker.venue_message)
            hub.metrics.ws_lost_streams.labels(hub.exchange).inc()
            hub.count("lost")
            await hub.delivery.put(marker, self._read_on)
        if lost and not len(hub.registry):
            names = ", ".join(repr(marker.stream) for marker in lost)
            raise SubscriptionRejected(f"the venue refused to resubscribe {names} after a reconnect: no stream "
                                       "is left", venue_message=lost[0].venue_message)

    async def _send_subscribe(self, link: Link, streams: list[str]) -> list[asyncio.Future[None]]:
        """Subscribe ``streams`` on ``link`` in requests of at most the dialect's ``max_args``, each acked on its own.

        Between requests the link may have ended or been replaced (a rotation): what is not sent
        yet then stays unsent, for the link that subscribes this shard next. Marked sent on a
        link that no longer subscribes, a stream would never be sent again.
        """
        hub = self.hub
        registry = hub.registry
        for batch in batches(streams, hub.dialect.max_args):
            if link.ended.done() or link not in (self.link, self._opening):
                break
            # Unsubscribed, or sent by another link, while an earlier request was going out.
            batch = [s for s in batch if (sub := registry.get(s)) is not None and not sub.sent]
            if not batch:
                continue
            request_id = registry.request(batch)
            if hub.dialect.subscribe is not None:
                try:
                    await link.send(hub.dialect.subscribe(batch, request_id))
                except BaseException:
                    registry.unsend(request_id)
                    raise
            if hub.dialect.ack is None:  # nothing to wait for: sent is as good as confirmed
                registry.resolve(request_id, True)
        return registry.waiters(streams)

    async def _halve(self, link: Link, streams: list[str]) -> None:
        """Subscribe the streams of a refused request again in two requests (see :meth:`Registry.split`).

        A failure to send ends the link: the streams, unsent, go with the next link's subscribe.
        """
        half = len(streams) // 2
        try:
            for part in (streams[:half], streams[half:]):
                await self._send_subscribe(link, part)
        except Disconnected:
            link.end("disconnected")
        except Exception as exc:  # an outbound layer's refusal, or a bug: never a stream left unsent on a live link
            _log.error("ws subscribe failed", exchange=self.hub.exchange, shard=self.index, error=repr(exc))
            link.end("error")

    async def _close(self, link: Link) -> None:
        link.end("closed")
        for task in link.tasks:
            task.cancel()
        if link.tasks:
            # wait(), not `await task` under suppress(CancelledError): that would swallow a
            # cancel of the supervisor itself (a close()) and leave it reconnecting.
            await asyncio.wait(link.tasks)
        if link in self._links:  # only now: if cancelled above, the supervisor's exit closes it
            self._links.discard(link)
            self._judge(link)
        await self._discard(link.session)

    def _judge(self, link: Link) -> None:
        """Count ``link`` if a failing frame stage ended it soon after it opened; too many in a row end the stream.

        Soon: before the back-off's ``healthy_after``, the same line that makes the back-off start
        over. A link that lived longer, or ended any other way, starts the count again.
        """
        hub = self.hub
        failure = link.failure
        if failure is None or hub.clock.monotonic() - link.opened >= hub.backoff.healthy_after:
            self._stage_failures = 0
            return
        self._stage_failures += 1
        if self._stage_failures >= STAGE_FAILURES_TO_END and self._unreadable is None:
            what, exc = failure
            self._unreadable = StreamError(
                f"{what} raised {type(exc).__name__} on {self._stage_failures} connections in a row, each soon "
                f"after it opened: the venue sends on every connection what it cannot read, so reconnecting "
                f"cannot help (see the error's __cause__)")
            self._unreadable.__cause__ = exc

    async def _discard(self, session: WsSession) -> None:
        try:
            await session.close()
        except Exception as exc:  # a failing close must not hide why the session is closed
            _log.warning("ws close failed", exchange=self.hub.exchange, shard=self.index, error=repr(exc))

    async def _read(self, link: Link) -> None:
        # The hot path is accept(): a plain function the session's pump calls per data frame
        # (no coroutine, no WsFrame). What needs an await (a control message, a full queue,
        # a hand-off to the consumer) makes it return True, and the loop below does it.
        hub, session, live = self.hub, link.session, link.live
        clock, tally, dedup, control = hub.clock, hub.tally, hub.dedup, hub.dialect.control_types
        monotonic, step, offer, counts = clock.monotonic, link.frames.step, hub.delivery.offer, tally.messages
        failed_stage = link.frames.failed_stage
        pump = session.pump if isinstance(session, WsPump) else functools.partial(_pump, session)
        pending: list[tuple[Any, bool]] = []  # (message, counted), in order, for deliver()
        due = False  # HANDOFF messages wait: yield before delivering more

        def accept(data: str | bytes) -> bool:
            nonlocal due
            now = monotonic()
            fresh = now - live.last_rx > _BURST_GAP  # the reader waited for this frame: see _BURST_GAP
            live.last_rx = now
            tally.bytes += len(data)
            tally.last_rx = now
            try:
                out = step(data)
            except Drop:
                return False
            except Exception as exc:  # ends the link (below); _judge counts it
                link.failure = (f"frame stage {failed_stage()}", exc)
                raise
            if type(out) is not Many:
                held = take(out)
            else:
                for message in out:  # several messages in one frame: none may pass one left pending
                    if due or pending:
                        pending.append((message, False))
                    else:
                        take(message)
                held = due or bool(pending)
            if fresh and not held:
                due = True
                return True
            return held

        def take(message: Any) -> bool:
            nonlocal due
            if control is None or type(message) in control:
                pending.append((message, False))
                return True
            if not admit(message):
                return False
            waiting = offer(message)
            if not waiting:  # full or closed: the overflow policy decides, in deliver()
                pending.append((message, True))
                return True
            if waiting >= HANDOFF:
                due = True
                return True
            return False

        def admit(message: Any) -> bool:
            """Count a data message; False for a duplicate (rotation overlap), which is dropped."""
            if dedup is not None and dedup.active and not dedup.fresh(message):
                return False
            hub.messages += 1
            kind_of = type(message)
            counts[kind_of] = counts.get(kind_of, 0) + 1
            return True

        async def deliver(message: Any, counted: bool) -> None:
            """One message the long way: control matchers, then admit (unless ``counted``), then the queue."""
            if not counted:
                if (control is None or type(message) in control) and await self._control_of(link, message):
                    return
                if not admit(message):
                    return
                waiting = offer(message)
                if waiting:
                    if waiting >= HANDOFF:
                        await asyncio.sleep(0)
                    return
            live.hold()  # full or closed: the overflow policy decides; held by back-pressure is not idle
            try:
                await hub.delivery.put(message, self._read_on)
            finally:
                live.release(monotonic())

        try:
            while True:
                frame = await pump(accept)
                if frame is None:
                    if due:
                        due = False
                        await asyncio.sleep(0)  # let the consumer catch up: see HANDOFF
                    for message, counted in pending:
                        await deliver(message, counted)
                    pending.clear()
                    continue
                live.last_rx = monotonic()
                kind = frame.kind
                if kind is WsKind.PING:
                    if hub.heartbeat.answer_pings:
                        await session.pong(frame.data if isinstance(frame.data, bytes) else frame.data.encode())
                elif kind is WsKind.PONG:
                    live.ponged()
                else:
                    link.end("server_close")
                    return
        except Disconnected:
            link.end("disconnected")
        except Exception as exc:  # a bug in a stage must end the link, never hang the stream
            _log.error("ws read failed", exchange=hub.exchange, shard=self.index, error=exc)
            link.end("error")

    async def _control_of(self, link: Link, message: Any) -> bool:
        """:meth:`_control`, a dialect matcher's bug (no LotusXError: those are the socket's or a layer's) noted."""
        try:
            return await self._control(link, message)
        except Exception as exc:
            if not isinstance(exc, LotusXError):  # ends the link (in _read); _judge counts it
                link.failure = (f"the {self.hub.exchange!r} dialect's matchers", exc)
            raise

    async def _control(self, link: Link, message: Any) -> bool:
        """Act on ``message`` if it is a control message (pong, ping, ack, login, shutdown)."""
        hub = self.hub
        dialect = hub.dialect
        if dialect.pong is not None and dialect.pong(message):
            link.live.ponged()
            return True
        if dialect.server_ping is not None and (reply := dialect.server_ping(message)) is not None:
            await link.send(reply)
            return True
        if dialect.ack is not None and (ack := dialect.ack(message)) is not None:
            refused = [] if ack[1] else hub.registry.split(ack[0])
            if refused:  # on a task of the link's: a send may wait for the venue's message rate
                link.tasks = [task for task in link.tasks if not task.done()]
                link.tasks.append(asyncio.create_task(self._halve(link, refused)))
            renewed = hub.registry.renewals(ack[0]) if not ack[1] else ()
            for stream in hub.registry.resolve(*ack):
                if stream not in renewed:  # a resubscription's refusal is logged once, as lost: see _lose
                    _log.warning("ws subscription rejected", exchange=hub.exchange, stream=stream, error=ack[2])
            return True
        if dialect.login_ack is not None and (result := dialect.login_ack(message)) is not None:
            if link.login is not None and not link.login.done():
                link.login.set_result(result)
            return True
        if dialect.shutdown is not None and dialect.shutdown(message):
            if not link.shutdown.done():
                link.shutdown.set_result(None)
            return True
        return False

    async def _watch(self, link: Link) -> None:
        hub, live = self.hub, link.live
        clock = hub.clock
        try:
            while True:
                await clock.sleep(live.next_check(clock.monotonic()))
                now = clock.monotonic()
                verdict = live.verdict(now)
                if verdict is not None:
                    if verdict == "pong_timeout":
                        hub.metrics.ws_pong_timeouts.labels(hub.exchange).inc()
                    link.end(verdict)
                    return
                if live.ping_due(now):
                    live.pinged(now)
                    try:
                        if hub.dialect.ping is not None:
                            await link.send(hub.dialect.ping())
                        else:
                            await link.ping()
                    except RateLimited as exc:
                        # Our own outbound limit refused it before it left (counted by the limiter): the
                        # link is fine, so this ping is skipped; the idle watchdog still sees a dead link.
                        live.refused(clock.monotonic())
                        _log.warning("ws ping refused by an outbound layer, skipped", exchange=hub.exchange,
                                     shard=self.index, error=repr(exc))
                        continue
                    live.left(clock.monotonic())  # a message-rate limit may have held it past pong_timeout
        except Disconnected:
            link.end("disconnected")
        except Exception as exc:  # a bug in a layer or the dialect: never a dead watch on a live link
            _log.error("ws watch failed", exchange=hub.exchange, shard=self.index, error=repr(exc))
            link.end("error")


async def _pump(session: WsSession, sink: Callable[[str | bytes], bool]) -> WsFrame | None:
    """``WsPump.pump`` for a session that has only ``next()``."""
    while True:
        frame = await session.next()
        kind = frame.kind
        if kind is _TEXT or kind is _BINARY:
            if sink(frame.data):
                return None
        else:
            return frame

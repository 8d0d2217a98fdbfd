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
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from lotusx.kernel.errors import AuthenticationError, Disconnected, LotusXError
from lotusx.kernel.ws import WsKind
from lotusx.log import get_logger
from lotusx.ws.delivery import Gap, Resumed
from lotusx.ws.heartbeat import Liveness
from lotusx.ws.hub import Hub, Link, settle
from lotusx.ws.outbound import sender

_log = get_logger("lotusx.ws")

# A reader left alone decodes a whole socket buffer (hundreds of frames) before the consumer
# runs. The queued messages then live long enough for the cyclic GC to scan them again and
# again (measured: 6 us of GC per message), and the first of them waits for the last to be
# decoded. Yielding once this many are waiting keeps them young and the latency flat.
_HANDOFF = 16
_TEXT, _BINARY = WsKind.TEXT, WsKind.BINARY  # bound once: an enum member lookup costs ~70 ns


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

    @property
    def connected(self) -> bool:
        """Whether a connection is up (possibly still subscribing)."""
        return self.link is not None or self._opening is not None

    def start(self) -> None:
        """Start the supervisor."""
        self.task = asyncio.create_task(self._supervise(), name=f"lotusx-ws-{self.hub.exchange}-{self.index}")

    async def stop(self) -> None:
        """Stop the supervisor and close every socket it holds."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def drop(self, reason: str) -> None:
        """End the current link (and one being opened): the supervisor reconnects."""
        for link in (self.link, self._opening):
            if link is not None:
                link.end(reason)

    async def subscribe(self, streams: list[str]) -> None:
        """Send a subscribe for ``streams`` now, or leave them for the link being opened."""
        if self.link is not None and streams:
            await self._send_subscribe(self.link, streams)

    async def unsubscribe(self, streams: list[str]) -> None:
        """Send an unsubscribe for ``streams`` if connected (a new link will not subscribe them)."""
        dialect = self.hub.dialect
        link = self.link or self._opening  # a link still subscribing may already carry them
        if link is not None and streams and dialect.unsubscribe is not None:
            await link.send(dialect.unsubscribe(streams, self.hub.registry.new_id()))

    # -- supervision ---------------------------------------------------------------------

    async def _supervise(self) -> None:
        hub = self.hub
        failures = 0
        try:
            while True:
                try:
                    link = await self._open()
                    await self._resumed()
                except AuthenticationError as exc:
                    hub.delivery.fail(exc)
                    return
                except LotusXError as exc:
                    failures += 1
                    _log.warning("ws connect failed", exchange=hub.exchange, shard=self.index,
                                 failures=failures, error=str(exc))
                    await hub.clock.sleep(hub.backoff.delay(failures))
                    continue
                reason, opened = await self._serve(link)
                healthy = hub.clock.monotonic() - opened >= hub.backoff.healthy_after
                failures = 1 if healthy else failures + 1
                await self._reconnecting(reason)
                await hub.clock.sleep(hub.backoff.delay(failures))
        finally:
            self.link = None
            for link in list(self._links):
                await self._close(link)

    async def _reconnecting(self, reason: str) -> None:
        hub = self.hub
        _log.warning("ws reconnecting", exchange=hub.exchange, shard=self.index, reason=reason)
        hub.metrics.ws_reconnects.labels(hub.exchange, reason).inc()
        hub.count("reconnects")
        hub.registry.reset(self.index)
        await hub.delivery.put(Gap(reason, hub.clock.time(), self.index))
        self._gapped = True

    async def _resumed(self) -> None:
        """Put the ``Resumed`` a ``Gap`` is owed, now that the link is subscribed."""
        if self._gapped:
            self._gapped = False
            await self.hub.delivery.put(Resumed(self.hub.clock.time(), self.index))

    async def _serve(self, link: Link) -> tuple[str, float]:
        """Run ``link`` (and its successors after rotations) until one dies: (reason, opened)."""
        hub = self.hub
        lifetime = hub.dialect.lifetime
        opened = hub.clock.monotonic()
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
                await self._close(link)
                return link.ended.result(), opened
            successor = await self._rotate(link)
            if successor is None:
                return "rotation_failed", opened
            link, opened = successor, hub.clock.monotonic()

    async def _rotate(self, old: Link) -> Link | None:
        dedup = self.hub.dedup
        if dedup is not None:
            dedup.overlap_started()
        try:
            return await self._replace(old)
        finally:
            if dedup is not None:
                dedup.overlap_ended()

    async def _replace(self, old: Link) -> Link | None:
        hub = self.hub
        _log.info("ws rotating connection", exchange=hub.exchange, shard=self.index)
        self.link = None
        hub.registry.reset(self.index)
        try:
            new = await self._open(rotating=True)
        except LotusXError as exc:
            _log.warning("ws rotation failed", exchange=hub.exchange, shard=self.index, error=str(exc))
            await self._close(old)
            return None
        died = old.ended.done()
        await self._close(old)
        hub.count("rotations")
        if died:  # the old socket failed before the new one took over: messages may be missing
            await hub.delivery.put(Gap(old.ended.result(), hub.clock.time(), self.index))
            self._gapped = True
            await self._resumed()  # the new link is already subscribed
        return new

    # -- one link ------------------------------------------------------------------------

    async def _open(self, *, rotating: bool = False) -> Link:
        hub = self.hub
        session = hub.factory()
        await session.connect()
        link = Link(session, sender(session, hub.outbound), Liveness(hub.heartbeat, hub.clock.monotonic()))
        self._links.add(link)
        link.tasks = [asyncio.create_task(self._read(link)), asyncio.create_task(self._watch(link))]
        self._opening = link
        try:
            await self._login(link)
            await self._subscribe_all(link)
        except BaseException as exc:
            reason = link.ended.result() if link.ended.done() else "setup_failed"
            await self._close(link)
            if isinstance(exc, LotusXError) and not isinstance(exc, AuthenticationError) and not rotating:
                # the link may have delivered messages before it failed: tell the consumer
                await self._reconnecting(reason)
            raise
        finally:
            self._opening = None
        self.link = link
        self._opened_before = True
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
        ok, error = link.login.result()
        if not ok:
            raise AuthenticationError("WebSocket login rejected", venue_message=error)

    async def _subscribe_all(self, link: Link) -> None:
        hub = self.hub
        # Loop until nothing is left unsent: subscribe() calls made while we awaited are
        # picked up here, since self.link is set only after the last (synchronous) check.
        while streams := hub.registry.unsent(self.index):
            if self._opened_before:
                hub.metrics.ws_resubscriptions.labels(hub.exchange).inc(len(streams))
                hub.count("resubscriptions", len(streams))
            waiters = await self._send_subscribe(link, streams)
            await settle(waiters, hub.ack_timeout, hub.clock, link.ended)

    async def _send_subscribe(self, link: Link, streams: list[str]) -> list[asyncio.Future[None]]:
        hub = self.hub
        request_id = hub.registry.request(streams)
        if hub.dialect.subscribe is not None:
            await link.send(hub.dialect.subscribe(streams, request_id))
        if hub.dialect.ack is None:  # nothing to wait for: sent is as good as confirmed
            hub.registry.resolve(request_id, True)
        return hub.registry.waiters(streams)

    async def _close(self, link: Link) -> None:
        link.end("closed")
        self._links.discard(link)
        for task in link.tasks:
            task.cancel()
        for task in link.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(LotusXError):
            await link.session.close()

    async def _read(self, link: Link) -> None:
        # The hot loop: everything it touches per message is bound to a local first.
        hub, session, live = self.hub, link.session, link.live
        clock, tally, dedup, control = hub.clock, hub.tally, hub.dedup, hub.dialect.control_types
        run, offer, counts = hub.frames.run, hub.delivery.offer, tally.messages
        try:
            while True:
                frame = await session.next()
                live.last_rx = now = clock.monotonic()
                kind = frame.kind
                if kind is _TEXT or kind is _BINARY:
                    data = frame.data
                    tally.bytes += len(data)
                    tally.last_rx = now
                    for message in run(data):
                        kind_of = type(message)
                        if (control is None or kind_of in control) and await self._control(link, message):
                            continue
                        if dedup is not None and dedup.active and not dedup.fresh(message):
                            continue
                        hub.messages += 1
                        counts[kind_of] = counts.get(kind_of, 0) + 1
                        waiting = offer(message)
                        if not waiting:  # full or closed: the overflow policy decides
                            await hub.delivery.put(message)
                        elif waiting >= _HANDOFF:
                            await asyncio.sleep(0)  # let the consumer catch up: see _HANDOFF
                elif kind is WsKind.PING:
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
            for stream in hub.registry.resolve(*ack):
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
                    if hub.dialect.ping is not None:
                        await link.send(hub.dialect.ping())
                    else:
                        await link.session.ping()
        except Disconnected:
            link.end("disconnected")

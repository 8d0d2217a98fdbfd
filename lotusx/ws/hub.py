"""What the shards of one ``ReconnectWs`` share, one live socket, and a bounded wait."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from lotusx.kernel.errors import Disconnected, Timeout
from lotusx.kernel.protocols import Clock, WsSession
from lotusx.kernel.service import Layer
from lotusx.metrics import Metrics, WsTally
from lotusx.ws.backoff import Backoff
from lotusx.ws.delivery import Delivery
from lotusx.ws.dialect import LoginAck, WsDialect
from lotusx.ws.frames import Frames
from lotusx.ws.heartbeat import Heartbeat, Liveness
from lotusx.ws.outbound import Admit, Send
from lotusx.ws.subscriptions import Registry


class Dedup:
    """Drops repeated messages while two links overlap (a rotation) and for ``size`` after.

    Only an overlap can deliver a message twice, so outside one nothing is checked or
    remembered and ``active`` is False: the reader skips the check (a tuple, a set and a
    deque operation per message otherwise). ``size`` bounds the memory of identities.
    """

    def __init__(self, key: Callable[[Any], Hashable | None], size: int = 8192) -> None:
        self.key = key
        self.size = size
        self.active = False
        self._overlaps = 0
        self._tail = 0  # messages still checked after the last overlap ended
        self._order: deque[Hashable] = deque()
        self._seen: set[Hashable] = set()

    def overlap_started(self) -> None:
        """A second link is about to deliver the same streams."""
        self._overlaps += 1
        self.active = True

    def overlap_ended(self) -> None:
        """One link is gone; the survivor may still repeat what the other delivered ahead of it."""
        self._overlaps -= 1
        self._tail = self.size

    def fresh(self, message: Any) -> bool:
        """Whether ``message`` was not seen recently (messages without identity always are)."""
        if not self._overlaps:
            self._tail -= 1
            if self._tail < 0:
                self.active = False
                self._order.clear()
                self._seen.clear()
                return True
        key = self.key(message)
        if key is None:
            return True
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self.size:
            self._seen.discard(self._order.popleft())
        return True


@dataclass
class Hub:
    """What every shard of one ``ReconnectWs`` shares."""

    factory: Callable[[], WsSession]
    dialect: WsDialect
    frames: Frames
    heartbeat: Heartbeat
    backoff: Backoff
    delivery: Delivery
    registry: Registry
    outbound: Layer
    clock: Clock
    metrics: Metrics
    ack_timeout: float
    rotate_before: float
    dedup: Dedup | None
    admit: Admit | None = None  # makes each connection attempt (see lotusx.ws.outbound.admission)
    counts: dict[str, int] = field(default_factory=dict)
    messages: int = 0  # delivered; a plain attribute because it is bumped for every message
    tally: WsTally = field(init=False)

    def __post_init__(self) -> None:
        self.tally = self.metrics.ws_tally(self.dialect.name)
        self.tally.clock = self.clock  # last_rx is on this clock's monotonic scale

    @property
    def exchange(self) -> str:
        """The metrics ``exchange`` label."""
        return self.dialect.name

    def count(self, name: str, amount: int = 1) -> None:
        """Bump a ``stats`` counter."""
        self.counts[name] = self.counts.get(name, 0) + amount


class Link:
    """One live socket and its reader and watch tasks."""

    def __init__(self, session: WsSession, send: Send, ping: Callable[[], Awaitable[None]], live: Liveness,
                 frames: Frames) -> None:
        self.session = session
        self.frames = frames  # this socket's own copy of the pipeline: see Frames.fresh
        self.send = send
        self.ping = ping  # a protocol ping through the outbound layers
        self.live = live
        loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[str] = loop.create_future()
        self.shutdown: asyncio.Future[None] = loop.create_future()
        self.login: asyncio.Future[LoginAck] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.opened = 0.0  # the clock's monotonic time the socket opened
        # What failed reading a frame, if that ended the link: (what, its exception); see Shard._judge.
        self.failure: tuple[str, Exception] | None = None

    def end(self, reason: str) -> None:
        """Mark the link dead for ``reason`` (the first reason wins)."""
        if not self.ended.done():
            self.ended.set_result(reason)


async def settle(futures: list[asyncio.Future[Any]], seconds: float, clock: Clock,
                 abort: asyncio.Future[Any] | None = None) -> None:
    """Wait until every future is done, at most ``seconds`` (``Timeout``) or until ``abort`` is."""
    pending: set[asyncio.Future[Any]] = {f for f in futures if not f.done()}
    if not pending:
        return
    timer = asyncio.ensure_future(clock.sleep(seconds))
    stops: set[asyncio.Future[Any]] = {timer} if abort is None else {timer, abort}
    try:
        while pending:
            done, _ = await asyncio.wait(pending | stops, return_when=asyncio.FIRST_COMPLETED)
            pending -= done
            if not pending:
                return
            if abort is not None and abort.done():
                raise Disconnected("connection lost while waiting for the venue", sent=True)
            if timer.done():
                raise Timeout(f"no answer from the venue within {seconds} s")
    finally:
        timer.cancel()

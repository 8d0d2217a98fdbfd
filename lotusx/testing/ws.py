"""A scripted WebSocket session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from lotusx.kernel.errors import ConnectError, Disconnected
from lotusx.kernel.ws import WsFrame, WsKind

Inbound = WsFrame | str | bytes | BaseException


class _Closed:
    """What ``close()`` queues to wake a ``next()`` waiting on a quiet session."""


_CLOSED = _Closed()


def _frame(item: WsFrame | str | bytes) -> WsFrame:
    if isinstance(item, WsFrame):
        return item
    return WsFrame.text(item) if isinstance(item, str) else WsFrame.binary(item)


class FakeWs:
    """A :class:`~lotusx.WsSession` fed by a script instead of a socket.

    ``FakeWs(["{...}", b"...", WsFrame.close(1001)])``: ``next()`` returns the queued frames
    in order (``str`` becomes TEXT, ``bytes`` BINARY; an exception is raised); once they run
    out it waits for :meth:`feed` — a stream that goes quiet, as real ones do. ``sent``
    records ``send`` payloads, ``pings``/``pongs`` the control frames sent.
    ``fail_connect`` makes the next ``connect()`` calls raise ``ConnectError``.
    """

    def __init__(self, inbound: Iterable[Inbound] = (), *, fail_connect: int = 0) -> None:
        self._inbound: asyncio.Queue[Inbound | _Closed] = asyncio.Queue()
        for item in inbound:
            self._inbound.put_nowait(item)
        self.sent: list[str | bytes] = []
        self.pings: list[bytes] = []
        self.pongs: list[bytes] = []
        self.connects = 0
        self.fail_connect = fail_connect
        self.connected = False
        self.closed_with: int | None = None
        self._closed_seen = False
        self._reading = False  # a next() waits on the queue: close() must wake it

    def feed(self, *items: Inbound) -> None:
        """Queue more inbound frames (or exceptions)."""
        for item in items:
            self._inbound.put_nowait(item)

    async def connect(self) -> None:
        """Open; fails while ``fail_connect`` > 0."""
        self.connects += 1
        if self.fail_connect > 0:
            self.fail_connect -= 1
            raise ConnectError("FakeWs: connect refused")
        self.connected = True
        self._closed_seen = False

    async def send(self, data: str | bytes) -> None:
        """Record an outbound message."""
        if not self.connected:
            raise Disconnected("FakeWs: send on a closed session", sent=False)
        self.sent.append(data)

    async def ping(self, data: bytes = b"") -> None:
        """Record a protocol ping."""
        self.pings.append(data)

    async def pong(self, data: bytes = b"") -> None:
        """Record a protocol pong."""
        self.pongs.append(data)

    async def next(self) -> WsFrame:
        """The next scripted frame; waits when the script is exhausted."""
        if self._closed_seen or not self.connected:
            raise Disconnected("FakeWs: session closed", close_code=self.closed_with)
        self._reading = True
        try:
            item = await self._inbound.get()
            # One left by a close() whose reader was cancelled before it woke is stale once reconnected.
            while item is _CLOSED and self.connected:
                item = await self._inbound.get()
        finally:
            self._reading = False
        if isinstance(item, _Closed):  # closed while this read waited: AiohttpWs raises Disconnected too
            raise Disconnected("FakeWs: session closed", close_code=self.closed_with)
        if isinstance(item, BaseException):
            self.connected = False
            raise item
        frame = _frame(item)
        if frame.kind is WsKind.CLOSE:
            self._closed_seen = True
            self.closed_with = frame.close_code
        return frame

    async def close(self, code: int = 1000) -> None:
        """Close; a ``next()`` waiting and later ones raise ``Disconnected``."""
        self.connected = False
        self.closed_with = code
        if self._reading:
            self._reading = False  # one wake-up is enough: a second close() queues none
            self._inbound.put_nowait(_CLOSED)

    def __repr__(self) -> str:
        return f"FakeWs(sent={len(self.sent)}, queued={self._inbound.qsize()})"

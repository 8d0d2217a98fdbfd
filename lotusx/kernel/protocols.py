"""The contracts connectors and layers program against."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from typing_extensions import TypeVar

from lotusx.kernel.message import Request
from lotusx.kernel.ws import WsFrame

# Any when ``type=`` is left out: ``x = await client.get(path)`` needs no annotation under mypy --strict.
T = TypeVar("T", default=Any)


@runtime_checkable
class Signer(Protocol):
    """Signs a request for one venue; pure CPU, no I/O.

    ``timestamp_ms`` comes from the (clock-sync corrected) clock of the ``Sign`` layer, so
    signers never read the time themselves and tests can pin it.
    """

    def sign(self, request: Request, timestamp_ms: int) -> Request: ...


@runtime_checkable
class WsSession(Protocol):
    """One WebSocket connection (the guide's ``WsSession`` trait).

    ``next()`` returns every frame, protocol PING/PONG included, so layers can see them;
    it returns one CLOSE frame carrying the close code when the peer closes, and raises
    ``Disconnected`` on any later call or when the connection is lost.
    """

    async def connect(self) -> None: ...

    async def send(self, data: str | bytes) -> None: ...

    async def ping(self, data: bytes = b"") -> None: ...

    async def pong(self, data: bytes = b"") -> None: ...

    async def next(self) -> WsFrame: ...

    async def close(self, code: int = 1000) -> None: ...


@runtime_checkable
class WsPump(Protocol):
    """What a :class:`WsSession` may add: data frames handed to a plain callback.

    ``pump(sink)`` calls ``sink(payload)`` for each TEXT/BINARY frame until ``sink`` returns
    True (then it returns ``None``) or another frame arrives (returned as ``next()`` would
    return it). A reader then pays a call per frame instead of a coroutine and a ``WsFrame``.
    """

    async def pump(self, sink: Callable[[str | bytes], bool]) -> WsFrame | None: ...


@runtime_checkable
class RestApi(Protocol):
    """What a connector needs from a REST client; :class:`lotusx.RestClient` implements it."""

    async def get(self, path: str, params: Sequence[tuple[str, Any]] | Mapping[str, Any] | None = None,
                  *, type: type[T] = Any) -> T: ...  # type: ignore[assignment]

    async def post(self, path: str, body: Any = None, *, type: type[T] = Any) -> T: ...  # type: ignore[assignment]

    async def put(self, path: str, body: Any = None, *, type: type[T] = Any) -> T: ...  # type: ignore[assignment]

    async def delete(self, path: str, params: Sequence[tuple[str, Any]] | Mapping[str, Any] | None = None,
                     *, type: type[T] = Any) -> T: ...  # type: ignore[assignment]


class Clock(Protocol):
    """Injectable time: wall clock, monotonic clock and sleep. See ``lotusx.testing.FakeClock``."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds, for intervals and deadlines."""
        ...

    async def sleep(self, seconds: float) -> None: ...


_wall_time, _monotonic = time.time, time.monotonic


class SystemClock:
    """The real clock: ``time()`` is wall-clock seconds since the epoch, ``monotonic()`` monotonic seconds."""

    # The C functions themselves rather than methods calling them: every WebSocket frame and
    # every REST layer reads the clock, and a Python frame per read showed in the profiles.
    time = staticmethod(_wall_time)
    monotonic = staticmethod(_monotonic)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()

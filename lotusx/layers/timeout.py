"""``Timeout`` bounds one attempt; ``Deadline`` bounds a whole logical call.

Place ``Timeout`` inside ``Retry`` and below ``RateLimit`` (each attempt gets its own budget,
and its :class:`~lotusx.Timeout` is retryable, though ambiguous for writes) and ``Deadline``
outside ``Retry`` (all attempts and back-off sleeps together; :class:`~lotusx.DeadlineExceeded`
is never retried)::

    stack(Deadline(10), Retry(policy), RateLimit(...), Sign(...), Trace(...), Timeout(2))

Above ``RateLimit`` it would also bound the wait for room in a pool: an order still waiting
there, never sent, would time out as "may have executed" and be reconciled as ambiguous.

On expiry the inner call is cancelled where it awaits (``asyncio.timeout``), so nothing
keeps running in the background.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service


async def _bounded(inner: Service, request: Request, seconds: float, error: type[e.Timeout]) -> Response:
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            return await inner(request)
    except TimeoutError:
        if not scope.expired():
            raise  # someone else's timeout: not ours to rename
        raise error(f"{request.method} {request.path}: no response within {seconds}s") from None


def _check(seconds: float) -> None:
    if not 0 < seconds < math.inf:  # NaN fails too; an infinite timeout would bound nothing
        raise e.ConfigError(f"timeout must be positive finite seconds, got {seconds!r}")


@dataclass(frozen=True)
class Timeout:
    """Raise :class:`lotusx.Timeout` when one attempt takes longer than ``seconds``."""

    seconds: float

    def __post_init__(self) -> None:
        _check(self.seconds)

    def __call__(self, inner: Service) -> Service:
        seconds = self.seconds

        async def service(request: Request) -> Response:
            return await _bounded(inner, request, seconds, e.Timeout)

        return service


@dataclass(frozen=True)
class Deadline:
    """Raise :class:`lotusx.DeadlineExceeded` when the whole call takes longer than ``seconds``."""

    seconds: float

    def __post_init__(self) -> None:
        _check(self.seconds)

    def __call__(self, inner: Service) -> Service:
        seconds = self.seconds

        async def service(request: Request) -> Response:
            return await _bounded(inner, request, seconds, e.DeadlineExceeded)

        return service

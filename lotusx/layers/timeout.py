"""``Timeout`` bounds one attempt; ``Deadline`` bounds a whole logical call.

Place ``Timeout`` inside ``Retry`` and below ``RateLimit`` (each attempt gets its own budget,
and its :class:`~lotusx.Timeout` is retryable, though ambiguous for writes) and ``Deadline``
outside ``Retry`` (all attempts and back-off sleeps together; :class:`~lotusx.DeadlineExceeded`
is never retried)::

    stack(Deadline(10), Retry(policy), RateLimit(...), Sign(...), Trace(...), Timeout(2))

Above ``RateLimit`` it would also bound the wait for room in a pool: an order still waiting
there, never sent, would time out as "may have executed" and be reconciled as ambiguous.

On expiry the inner call is cancelled where it awaits (``asyncio.timeout``), so nothing
keeps running in the background. A placement (an endpoint placing by client id) cut by the
deadline may have been placed, on the wire or between ``Retry``'s lookups: it ends in
:class:`~lotusx.AmbiguousOrderState` carrying its client id, never in ``DeadlineExceeded``, a
timeout that ``Retry`` never lets a placement end in, so a caller would take it for "not placed".
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from lotusx.kernel import errors as e
from lotusx.kernel.message import Idempotency, Request, Response, idempotency_of
from lotusx.kernel.service import Service
from lotusx.log import get_logger

_log = get_logger("lotusx.retry")


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
    """Raise :class:`lotusx.DeadlineExceeded` when the whole call takes longer than ``seconds``.

    A placement cut by it raises :class:`lotusx.AmbiguousOrderState` instead (see the module
    docstring), logged as ``rest.ambiguous_order`` with ``cause="deadline"``; it is not counted in
    ``ambiguous_orders_total``: this layer, added by the user, holds no metrics.
    """

    seconds: float

    def __post_init__(self) -> None:
        _check(self.seconds)

    def __call__(self, inner: Service) -> Service:
        seconds = self.seconds

        async def service(request: Request) -> Response:
            try:
                return await _bounded(inner, request, seconds, e.DeadlineExceeded)
            except e.DeadlineExceeded as exc:
                client_order_id = request.ext.get("client_order_id")
                if not client_order_id or idempotency_of(request) is not Idempotency.SAFE_WITH_CLIENT_ID:
                    raise
                # The event Retry logs for an ambiguous placement: one audit trail to search.
                _log.warning("rest.ambiguous_order", endpoint=request.endpoint.name,
                             client_order_id=str(client_order_id), cause="deadline", after=type(exc).__name__)
                raise e.AmbiguousOrderState(f"{request.method} {request.path}: order state unknown, the deadline of "
                                            f"{seconds}s ran out with the placement under way",
                                            client_order_id=str(client_order_id)) from exc

        return service

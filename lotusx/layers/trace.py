"""``Trace``: one log event and one metric sample per REST attempt.

Place it just above the transport (``Retry ∘ RateLimit ∘ Sign ∘ Trace ∘ Transport``) so every
wire attempt is traced, signed as sent. It logs the path but never the query string or the
headers: those carry signatures and API keys.

``Retry`` and ``Trace`` share two ``request.ext`` keys: :data:`REQUEST_ID` (one id per logical
call, set once by ``Retry`` so all its attempts share it) and :data:`ATTEMPT` (1, 2, ...).
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from structlog.contextvars import bind_contextvars, reset_contextvars

from lotusx.kernel.errors import LotusXError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.kernel.service import Service
from lotusx.log import RedactingLogger, get_logger
from lotusx.metrics import Metrics, RestTally, status_class

REQUEST_ID = "request_id"
ATTEMPT = "attempt"


def new_request_id() -> str:
    """A short random id for one logical call."""
    # A log correlation id, not a secret: no need for a getrandom syscall (secrets) per call.
    return f"{random.getrandbits(32):08x}"


def _request_id_var() -> ContextVar[Any]:
    """The variable ``structlog.contextvars.bind_contextvars(request_id=...)`` sets.

    Setting it directly is what ``bind_contextvars`` does, minus building its name and
    looking it up on every call; ``merge_contextvars`` reads it as usual.
    """
    token = bind_contextvars(request_id=...)  # structlog's "unbound" marker: merged as absent
    reset_contextvars(request_id=token["request_id"])
    return token["request_id"].var


def usage_headers(response: Response | None, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The headers of ``response`` whose lower-cased names start with one of ``prefixes``."""
    if response is None or not prefixes:
        return {}
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith(prefixes)}


@dataclass(frozen=True)
class Trace:
    """Log ``rest.request`` and record duration / count metrics for every attempt."""

    exchange: str
    metrics: Metrics | None = None
    usage_headers: tuple[str, ...] = ()  # the venue's rate-limit header names (prefixes), to log
    logger: RedactingLogger | None = None
    clock: Clock = SYSTEM_CLOCK

    def __call__(self, inner: Service) -> Service:
        log = (self.logger or get_logger("lotusx.rest")).bind(exchange=self.exchange)
        metrics, clock, exchange = self.metrics, self.clock, self.exchange
        tallies: dict[tuple[str, int | None], RestTally] = {}
        prefixes = tuple(name.lower() for name in self.usage_headers)

        def record(request: Request, latency: float, response: Response | None, error: BaseException | None) -> None:
            if response is None and isinstance(error, LotusXError):
                response = error.response
            status = response.status if response is not None else getattr(error, "status", None)
            endpoint = request.endpoint.name
            # A code the endpoint declares an answer (nothing to cancel) is no failure to warn of.
            answered = isinstance(error, LotusXError) and error.code in request.endpoint.answer_codes
            level = "info" if error is None or answered else "warning"
            if log.enabled(level):  # a filtered level skips building the event's fields
                fields: dict[str, object] = {
                    "endpoint": endpoint, "method": request.method, "path": request.path.split("?", 1)[0],
                    "status": status, "attempt": request.ext.get(ATTEMPT, 1), "latency": latency,
                    "request_id": request.ext.get(REQUEST_ID),
                }
                usage = usage_headers(response, prefixes)
                if usage:
                    fields["rate_limit"] = usage
                if error is None:
                    log.info("rest.request", **fields)
                elif answered:
                    log.info("rest.request", error=type(error).__name__, **fields)
                else:
                    log.warning("rest.request", error=type(error).__name__, **fields)
            if metrics is not None:
                tally = tallies.get((endpoint, status))
                if tally is None:
                    tally = tallies[(endpoint, status)] = metrics.rest_tally(exchange, endpoint, status_class(status))
                tally.observe(latency)

        request_id = _request_id_var()

        async def service(request: Request) -> Response:
            if not request.ext.get(REQUEST_ID):
                request = request.with_ext(request_id=new_request_id())
            # set/reset by token restores exactly what was bound before, like bound_contextvars,
            # without copying and scanning the whole context twice per attempt.
            token = request_id.set(request.ext[REQUEST_ID])
            start = clock.monotonic()
            try:
                response = await inner(request)
            except BaseException as exc:  # cancellation too: a timed-out attempt is still an attempt
                record(request, clock.monotonic() - start, None, exc)
                raise
            else:
                record(request, clock.monotonic() - start, response, None)
                return response
            finally:
                request_id.reset(token)

        return service

"""``Retry``: re-send failed calls, without ever sending an order twice.

The layer owns *safety*, the policy owns *persistence*:

- The policy (``decide(request, outcome, attempt, elapsed) -> delay | None``) says whether an
  outcome is worth another try and how long to wait first. :class:`RetryPolicy` is the default;
  any object with that method works.
- The layer decides whether a re-send could duplicate an effect, from the endpoint's
  idempotency (undeclared: by the request's method, see
  :func:`~lotusx.kernel.message.idempotency_of`), before it asks the policy:

  ``SAFE``
      re-send freely. A write (a cancel) whose re-send never left (refused by a connector closed
      meanwhile, or not connected) ends on the earlier attempt's outcome that may have executed
      (its lost answer, its 5xx), never on an error that reads as "nothing was sent".
  ``UNSAFE``
      re-send only when the outcome proves the request was not executed (see
      :func:`may_have_executed`): ``ConnectError``, ``Disconnected(sent=False)``, a ``ConfigError``
      (raised by a layer before the request left), or a definite
      venue rejection such as ``RateLimited`` (a Binance 429/418 means the request was refused,
      not executed) or a raw 4xx response.
  ``SAFE_WITH_CLIENT_ID`` (order placement, client id in ``request.ext["client_order_id"]``)
      after an outcome that may have executed (``Timeout``, ``ServerError``/5xx,
      ``Disconnected(sent=True)``, ``ProtocolError``) or a ``DuplicateClientOrderId``, ask the
      ``reconcile(request)`` hook: a ``Response`` means the order exists and becomes the result;
      ``None`` means absent as far as the venue's list shows, so re-sending the *same* client
      id is safe (if it landed late after all, the venue answers ``DuplicateClientOrderId`` and
      we reconcile again); a
      hook that keeps failing (asked again while the policy allows: it is a read), or no hook,
      ends in ``AmbiguousOrderState``. A venue that accepts a client id
      again once its order has closed (Binance spot) must therefore never answer ``None``.
      Once a lookup has answered ``None``, only a re-send that reaches the venue's duplicate
      check proves the earlier attempt's order absent: a call that ends on any other outcome
      (throttled, refused, never sent) asks the hook once more and, absent still, ends in
      ``AmbiguousOrderState``, never in an error that says nothing was placed. So do attempts
      that run out on an outcome that may have executed, even with the lookup empty: a
      venue's order list can lag its engine, and no re-send is left to meet the duplicate check.
      An attempt that a layer ended with an error outside the ``LotusXError`` tree (a user's
      ``asyncio.timeout``, a bug) is neither looked up nor re-sent: ``AmbiguousOrderState``,
      raised from that error, so the caller keeps the client id.

Every attempt re-enters the inner stack with the original, unsigned request (plus
``ext["request_id"]``, shared by all attempts, and ``ext["attempt"]``), so ``Sign`` below
signs each attempt afresh. When the policy stops, the last error is raised as it was, or the
last response returned.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from lotusx.kernel import errors as e
from lotusx.kernel.classify import retry_after
from lotusx.kernel.message import Idempotency, Request, Response, idempotency_of
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.kernel.service import Service
from lotusx.layers.trace import ATTEMPT, REQUEST_ID, new_request_id
from lotusx.log import get_logger
from lotusx.metrics import Metrics

Outcome = Response | e.LotusXError
Reconcile = Callable[[Request], Awaitable[Response | None]]

RETRYABLE: tuple[type[e.LotusXError], ...] = (e.ConnectError, e.Timeout, e.Disconnected, e.ServerError, e.RateLimited)
NEVER_RETRIED: tuple[type[e.LotusXError], ...] = (
    e.InvalidRequest, e.AuthenticationError, e.OrderRejected, e.DeadlineExceeded)
RETRYABLE_STATUSES = frozenset({418, 429})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})  # a read's earlier attempt changed nothing

_log = get_logger("lotusx.retry")


class Policy(Protocol):
    """Decides whether to try again: the delay in seconds, or ``None`` to stop."""

    def decide(self, request: Request, outcome: Outcome, attempt: int, elapsed: float) -> float | None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential back-off with full jitter, a total deadline and ``Retry-After``.

    The wait before attempt ``n + 1`` is ``jitter(0, min(cap, base * 2 ** (n - 1)))``, at least
    the ``retry_after`` of a ``RateLimited``/``IpBanned``; it gives up when that wait would
    overrun ``deadline`` (seconds across all attempts and sleeps). ``retry_on`` adds
    venue-declared retryable error types.
    """

    max_attempts: int = 3
    base: float = 0.2
    cap: float = 5.0
    deadline: float = 30.0
    retry_on: tuple[type[e.LotusXError], ...] = ()
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Written so that NaN fails too (every comparison with it is false: a NaN wait is none at
        # all); an infinite deadline would sleep out a venue's three-day ban, an infinite base or
        # cap would draw an infinite (or NaN) wait.
        if self.max_attempts < 1 or not (0 <= self.base < math.inf and 0 <= self.cap < math.inf
                                         and 0 < self.deadline < math.inf):
            raise e.ConfigError(f"invalid {self!r}")
        if any(issubclass(kind, NEVER_RETRIED) for kind in self.retry_on):
            raise e.ConfigError(f"retry_on holds an error type that is never retried: {self.retry_on}")

    def retryable(self, outcome: Outcome) -> bool:
        """Whether ``outcome`` is worth another attempt at all."""
        if isinstance(outcome, Response):
            return outcome.status in RETRYABLE_STATUSES or outcome.status >= 500
        if isinstance(outcome, NEVER_RETRIED):
            return False
        return isinstance(outcome, RETRYABLE + self.retry_on)

    def decide(self, request: Request, outcome: Outcome, attempt: int, elapsed: float) -> float | None:
        """The wait before the next attempt, or ``None`` to stop."""
        if attempt >= self.max_attempts or not self.retryable(outcome):
            return None
        delay = self.jitter(0.0, min(self.cap, self.base * 2 ** min(attempt - 1, 62)))
        floor = cool_off(outcome)
        if floor is not None:
            delay = max(delay, floor)
        return None if elapsed + delay > self.deadline else delay


def cool_off(outcome: Outcome) -> float | None:
    """The venue's ``retry_after`` for a throttle, in seconds, when it gave one."""
    if isinstance(outcome, e.RateLimited):
        return outcome.retry_after
    if isinstance(outcome, Response) and outcome.status in RETRYABLE_STATUSES:
        return retry_after(outcome)
    return None


def may_have_executed(outcome: Outcome) -> bool:
    """False only when ``outcome`` proves the venue did not act on the request."""
    if isinstance(outcome, Response):
        return outcome.status >= 500
    if isinstance(outcome, e.ServerError):
        return True
    if isinstance(outcome, e.Disconnected):
        return outcome.sent
    # A connect failure never left, nor did a request our own configuration stopped (a pool too
    # small for its cost, a clock sync misconfigured); any other venue answer is a definite refusal.
    return not isinstance(outcome, e.ConnectError | e.ConfigError | e.VenueError)


def never_left(outcome: Outcome) -> bool:
    """True when ``outcome`` proves the request never reached the venue: it tells nothing of an earlier attempt."""
    return not (isinstance(outcome, Response | e.VenueError) or may_have_executed(outcome))


def reason(outcome: Outcome | Exception) -> str:
    """A bounded label for ``outcome``: the error type, or ``http_<status>``."""
    return f"http_{outcome.status}" if isinstance(outcome, Response) else type(outcome).__name__


@dataclass(frozen=True)
class Retry:
    """Loop over attempts as the policy decides, within what idempotency allows."""

    policy: Policy = RetryPolicy()
    reconcile: Reconcile | None = None
    clock: Clock = SYSTEM_CLOCK
    metrics: Metrics | None = None
    exchange: str = ""

    def __call__(self, inner: Service) -> Service:
        policy, clock = self.policy, self.clock
        # The default policy never retries a response below 418, and no idempotency rule acts on
        # one (nothing below 500 may have executed ambiguously): such a response goes straight back,
        # unless it refuses a placement an earlier attempt may have made (``doubt`` below).
        settled_below = 418 if type(policy) is RetryPolicy else 0

        async def service(request: Request) -> Response:
            idempotency = request.endpoint.idempotency or idempotency_of(request)  # no call for a declared one
            if idempotency is Idempotency.SAFE_WITH_CLIENT_ID and not request.ext.get("client_order_id"):
                raise e.ConfigError(f"{request.method} {request.path}: no ext['client_order_id'] to reconcile by "
                                    f"({request.endpoint.name} is SAFE_WITH_CLIENT_ID): build the Request with "
                                    "ext={'client_order_id': ...}, the id sent to the venue in the request")
            request_id = request.ext.get(REQUEST_ID) or new_request_id()
            start = clock.monotonic()
            attempt = 1
            # An earlier attempt may have executed though the lookup found nothing (yet): only a
            # re-send that reaches the venue's duplicate check settles that, so a call that ends
            # on any other outcome looks the order up once more before it answers.
            doubt = False
            # A write's last outcome that may have executed (a cancel's lost answer, say). An attempt
            # after it that never left (refused by a connector closed meanwhile, not connected) tells
            # nothing of what the venue did: the call ends on this, never on an error that reads as
            # "nothing was sent".
            sent: Outcome | None = None
            while True:
                outcome: Outcome
                try:
                    response = await inner(request.with_ext(**{REQUEST_ID: request_id, ATTEMPT: attempt}))
                except e.LotusXError as exc:
                    outcome = exc
                except Exception as exc:
                    if idempotency is not Idempotency.SAFE_WITH_CLIENT_ID:
                        raise
                    # A layer's own error (a user's asyncio.timeout, a bug) says nothing of whether
                    # the order left: raised as it is, the caller would lose the one id to look it up by.
                    raise self._ambiguous(request, exc, "layer_error",
                                          f"{request.method} {request.path}: order state unknown, a layer raised "
                                          f"{type(exc).__name__} during attempt {attempt}") from exc
                else:
                    if response.status < settled_below and (not doubt or response.ok):
                        return response
                    outcome = response
                if request.method not in _READS and may_have_executed(outcome):
                    sent = outcome
                looked_up = idempotency is Idempotency.SAFE_WITH_CLIENT_ID and (
                    isinstance(outcome, e.DuplicateClientOrderId) or may_have_executed(outcome))
                if looked_up:
                    found = await self._reconcile(request, outcome, start)
                    if found is not None:
                        return found
                    doubt = True
                elif idempotency is Idempotency.UNSAFE and may_have_executed(outcome):
                    return _settle(outcome)
                delay = policy.decide(request, outcome, attempt, clock.monotonic() - start)
                if delay is None:
                    if looked_up:
                        raise self._exhausted(request, outcome) from _cause(outcome)
                    if doubt and not (isinstance(outcome, Response) and outcome.ok):
                        return await self._last_look(request, outcome, start)
                    return _settle(sent if sent is not None and never_left(outcome) else outcome)
                self._count(request, outcome, attempt, delay, request_id)
                await clock.sleep(delay)
                attempt += 1

        return service

    async def _reconcile(self, request: Request, outcome: Outcome, start: float) -> Response | None:
        """The existing order's response, ``None`` if provably absent; else raise.

        The lookup is a read, so asking again can place nothing: one that failed for a passing
        reason (a 5xx, a timeout, a throttle) is asked again for as long as the policy would
        re-send a safe call, counted from the placement's start, before the order is reported
        ambiguous.
        """
        client_order_id = str(request.ext["client_order_id"])
        where = f"{request.method} {request.path}: order state unknown after {reason(outcome)}"
        cause = _cause(outcome)
        if self.reconcile is None:
            if isinstance(outcome, e.DuplicateClientOrderId):
                raise outcome
            raise self._ambiguous(request, outcome, "no_reconcile", f"{where}, no reconcile hook") from cause
        lookup = 1
        while True:
            try:
                found = await self.reconcile(request)
                break
            except e.LotusXError as exc:
                delay = self.policy.decide(request, exc, lookup, self.clock.monotonic() - start)
                if delay is None:
                    self._reconciled(request, "failed")
                    raise self._ambiguous(request, outcome, "reconcile_failed",
                                          f"{where}, reconcile failed: {type(exc).__name__}") from exc
                self._reconciled(request, "retried")
                _log.info("rest.reconcile_retry", exchange=self.exchange, endpoint=request.endpoint.name,
                          client_order_id=client_order_id, lookup=lookup, reason=reason(exc), delay=delay)
                await self.clock.sleep(delay)
                lookup += 1
            except Exception as exc:  # a bug in the hook: the order state is still unknown
                self._reconciled(request, "failed")
                raise self._ambiguous(request, outcome, "reconcile_failed",
                                      f"{where}, reconcile failed: {type(exc).__name__}") from exc
        self._reconciled(request, "absent" if found is None else "found")
        if found is None and isinstance(outcome, e.DuplicateClientOrderId):
            raise self._ambiguous(request, outcome, "duplicate_not_found",
                                  f"{where}, venue reports it but reconcile finds none") from cause
        _log.info("rest.reconcile", exchange=self.exchange, endpoint=request.endpoint.name,
                  client_order_id=client_order_id, found=found is not None, after=reason(outcome))
        return found

    async def _last_look(self, request: Request, outcome: Outcome, start: float) -> Response:
        """The order an earlier attempt placed, when the last attempt (refused, or never sent) cannot tell.

        ``outcome`` proves only that *this* attempt placed nothing: the earlier one's order may
        have landed after its lookup. Found, it is the result; still absent, it may yet land, so
        the caller gets ``AmbiguousOrderState``, never a refusal that reads as "nothing placed".
        """
        found = await self._reconcile(request, outcome, start)
        if found is not None:
            return found
        cause = _cause(outcome)
        raise self._ambiguous(request, outcome, "earlier_attempt",
                              f"{request.method} {request.path}: order state unknown, an earlier attempt may have "
                              f"executed and the last ended in {reason(outcome)}") from cause

    def _exhausted(self, request: Request, outcome: Outcome) -> e.AmbiguousOrderState:
        """The error for a placement whose last attempt may have executed, with no attempt left.

        Its lookup found nothing, but a venue's order list can lag its engine (Bybit's realtime
        list, in volatile markets), and no re-send is left to meet the venue's duplicate check:
        the last error (a timeout, a 5xx) would read as "nothing placed", and a caller placing
        again under a new client id could hold two orders.
        """
        return self._ambiguous(request, outcome, "attempts_exhausted",
                               f"{request.method} {request.path}: order state unknown, the last attempt ended in "
                               f"{reason(outcome)}, the lookup did not find it (yet) and no attempt is left")

    def _reconciled(self, request: Request, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.reconciles.labels(self.exchange, request.endpoint.name, outcome).inc()

    def _ambiguous(self, request: Request, outcome: Outcome | Exception, cause: str,
                   message: str) -> e.AmbiguousOrderState:
        """The error for a placement whose outcome stays unknown, counted and logged (``cause``: a fixed set)."""
        client_order_id = str(request.ext["client_order_id"])
        # A warning, not an error: the caller gets the exception and decides; this is its audit trail.
        _log.warning("rest.ambiguous_order", exchange=self.exchange, endpoint=request.endpoint.name,
                     client_order_id=client_order_id, cause=cause, after=reason(outcome))
        if self.metrics is not None:
            self.metrics.ambiguous_orders.labels(self.exchange, request.endpoint.name, cause).inc()
        return e.AmbiguousOrderState(message, client_order_id=client_order_id)

    def _count(self, request: Request, outcome: Outcome, attempt: int, delay: float, request_id: str) -> None:
        why = reason(outcome)
        _log.info("rest.retry", exchange=self.exchange, endpoint=request.endpoint.name, attempt=attempt,
                  reason=why, delay=delay, request_id=request_id)
        if self.metrics is not None:
            self.metrics.retries.labels(self.exchange, request.endpoint.name, why).inc()


def _cause(outcome: Outcome) -> e.LotusXError | None:
    """What an ``AmbiguousOrderState`` is raised from: the attempt's error (a raw response is none)."""
    return outcome if isinstance(outcome, e.LotusXError) else None


def _settle(outcome: Outcome) -> Response:
    if isinstance(outcome, Response):
        return outcome
    raise outcome

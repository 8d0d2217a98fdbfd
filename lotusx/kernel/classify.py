"""Turning error responses into typed errors, once, at the bottom of the stack.

A *classifier* looks at a response and returns the error it means, or ``None`` for
success. ``MapErrors(classify)`` sits just above the transport, so every outer layer
(Retry, RateLimit, ClockSync) decides on error *types*, never on venue status codes or
bodies. Connectors chain their venue map in front of :func:`http_errors`.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, callable_name

Classifier = Callable[[Request, Response], "e.LotusXError | None"]


_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]*)?")


def retry_after(response: Response, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None``."""
    value = response.header("Retry-After")
    if value is None:
        return None
    if _DELTA_SECONDS.fullmatch(value.strip()):
        # Digits only (RFC 9110; a fraction tolerated): float() would also take "inf", "nan",
        # "1e9" and "1_000", garbled headers that would cool a pool off for good or never. Digits
        # past a float's range read as inf: as garbled as "inf" itself.
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP date is in UTC (RFC 9110), never this machine's zone
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - now())


def http_errors(request: Request, response: Response) -> e.LotusXError | None:
    """The generic HTTP meaning of a status: 2xx ok, 3xx unexpected, 418 ban, 429 throttle, 5xx, 4xx."""
    status = response.status
    if status < 300:
        return None
    where = f"{request.method} {request.path}"
    if status < 400:
        # The transport follows no redirect (it would carry the key headers to another host): a
        # venue API never sends one, so its body is no answer to decode. A redirect is a definite
        # refusal to act here (an order is not reconciled as if it might have executed), and it
        # will not change on a retry: the base URL is wrong. Its Location is not shown.
        return e.InvalidRequest(f"{where}: unexpected redirect (HTTP {status}): check the base URL", status=status,
                                response=response)
    if status == 407:  # an HTTP proxy's, for a plain-http base URL: the request never reached the venue
        return proxy_refused(where, 407, response=response)
    if status == 418:
        return e.IpBanned(f"{where}: IP banned", retry_after=retry_after(response), response=response)
    if status == 429:
        return e.RateLimited(f"{where}: rate limited", retry_after=retry_after(response), response=response)
    if status >= 500:
        return e.ServerError(f"{where}: server error", response=response)
    if status in (401, 403):
        return e.AuthenticationError(f"{where}: not authorised", response=response)
    if status == 404:
        # A bare 404 (a venue's "no such order" carries its own code, mapped before this) is most
        # often a path the server does not have: a base URL with a path of its own, or another venue's.
        return e.NotFound(f"{where}: not found (is the base URL right? scheme://host[:port], the path is added)",
                          response=response)
    return e.InvalidRequest(f"{where}: rejected", response=response)


def proxy_refused(where: str, status: int, response: Response | None = None) -> e.LotusXError:
    """What an HTTP proxy's refusal means, to both transports and :func:`http_errors`.

    A 407 is the proxy's credentials, which no reconnect or retry changes: fatal, as a venue's
    401 is. Any other refusal (a 502: the proxy cannot reach the venue) is a failed connect:
    nothing reached the venue.
    """
    if status == 407:
        return e.AuthenticationError(f"{where}: the proxy refused its credentials (HTTP 407): check the proxy "
                                     "URL's user and password", status=407, response=response)
    return e.ConnectError(f"{where}: the proxy refused the connection (HTTP {status})", status=status,
                          response=response)


def chain(*classifiers: Classifier) -> Classifier:
    """The first non-``None`` answer of ``classifiers``, in order (venue map before HTTP)."""

    def classify(request: Request, response: Response) -> e.LotusXError | None:
        for classifier in classifiers:
            error = classifier(request, response)
            if error is not None:
                return error
        return None

    # What MapErrors' repr (and so the stack's) shows: the classifiers, not "chain.<locals>.classify".
    classify.__qualname__ = f"chain({', '.join(map(callable_name, classifiers))})"
    return classify


@dataclass(frozen=True)
class MapErrors:
    """Raise the typed error a response means; pass successes through unchanged."""

    classify: Classifier = http_errors

    def __call__(self, inner: Service) -> Service:
        classify = self.classify

        async def service(request: Request) -> Response:
            response = await inner(request)
            error = classify(request, response)
            if error is not None:
                raise error
            return response

        return service

    def __repr__(self) -> str:
        return f"MapErrors({callable_name(self.classify)})"

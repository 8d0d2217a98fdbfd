"""``Sign``: sign every attempt of a signed endpoint, afresh, at the current time.

Sits inside ``Retry``/``RateLimit``/``ClockSync``, so each attempt that re-enters the stack
with the unsigned original gets a new timestamp and a new signature. The timestamp comes
from the injected clock: pass a :class:`~lotusx.layers.clock.ServerClock` to sign with
venue-corrected time.
"""

from __future__ import annotations

from dataclasses import dataclass

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock, Signer
from lotusx.kernel.service import Service


@dataclass(frozen=True)
class Sign:
    """Sign requests whose ``endpoint.signed`` is true with ``signer``; pass others through."""

    signer: Signer
    clock: Clock = SYSTEM_CLOCK

    def __call__(self, inner: Service) -> Service:
        signer, clock = self.signer, self.clock

        async def service(request: Request) -> Response:
            if request.endpoint.signed:
                request = signer.sign(request, int(clock.time() * 1000))
            return await inner(request)

        return service


@dataclass(frozen=True)
class NoCredentials:
    """Stand in for ``Sign`` on a connector opened without credentials: refuse signed endpoints.

    Refused before anything is charged or sent, with a ``ConfigError`` saying what to pass,
    instead of an unsigned request the venue answers with a puzzling "API-key format invalid".
    """

    exchange: str

    def __call__(self, inner: Service) -> Service:
        exchange = self.exchange

        async def service(request: Request) -> Response:
            if request.endpoint.signed:
                raise no_key(f"{request.method} {request.path} ({request.endpoint.name})", exchange)
            return await inner(request)

        return service


def no_key(what: str, exchange: str) -> ConfigError:
    """The error for ``what`` (a signed call, a private stream) on an ``exchange`` connector opened without a key."""
    return ConfigError(f"{what} needs an API key, and this {exchange} connector was opened without one: pass "
                       f"credentials=lotusx.Credentials(api_key=..., secret=...) to lotusx.connect({exchange!r}, ...)")

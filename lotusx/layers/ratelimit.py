"""``RateLimit``: charge every attempt to the venue's pools before it goes out.

The layer is the loop around a :class:`~lotusx.layers.limiter.Limiter` (the mechanism):
acquire the request's ``endpoint.costs``, call inner, then learn from the venue. Usage
headers are read by declarative parsers the connector supplies as data
(:class:`UsedHeader`, :class:`RemainingHeader`), so the layer knows no venue. Pushback is
typed by the classifier below it: ``RateLimited`` (429) cools off the request's pools,
``IpBanned`` (418) every pool of the key; both are re-raised for ``Retry`` to decide. WebSocket
connection attempts pass it too (:func:`lotusx.ws.outbound.admission`): an upgrade's ban holds REST.

Learning is best-effort: once the request was sent, the venue's answer (or its error) is what
the caller gets, even if the storage fails or a header is garbled while we learn from it
(counted in ``Limiter.learning_failures`` and logged).

It sits inside ``Retry`` and ``ClockSync`` so every attempt, re-sends included, is charged:
``stack(Retry(...), ClockSync(...), RateLimit(...), Sign(...), Trace(...), MapErrors(...))``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.layers.limiter import Limiter, Pool, Usage

__all__ = ["ENDPOINT_POOL", "Limiter", "Pool", "RateLimit", "RemainingHeader", "Usage", "UsageParser", "UsedHeader",
           "UsedHeaders"]

ENDPOINT_POOL = "<endpoint>"
"""A parser's pool name meaning "the pool named like the request's endpoint": for venues that
count each endpoint on its own (Bybit v5), the headers say nothing about which one."""

# Interval letters of Binance's X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter) and
# X-MBX-ORDER-COUNT-... headers, https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
_UNIT = {"S": 1, "M": 60, "H": 3600, "D": 86400}
_INTERVAL = re.compile(r"(\d+)([SMHD])", re.IGNORECASE)
_MAX_EPOCH_MS = 10**15  # the year 33658: any later "reset time" is a garbled header


class UsageParser(Protocol):
    """Turns a response's headers into what the venue says it counted."""

    @property
    def names(self) -> tuple[str, ...]:
        """The header names (or name prefixes) it reads; ``Trace`` logs them."""
        ...

    def read(self, response: Response) -> Iterable[Usage]: ...


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # a venue's odd header is no reason to fail a good response


@dataclass(frozen=True)
class UsedHeader:
    """A family of "used so far" headers, one per window: ``<prefix><num><S|M|H|D>``.

    ``UsedHeader("X-MBX-USED-WEIGHT-", "REQUEST_WEIGHT")`` reads ``X-MBX-USED-WEIGHT-1M: 42``
    as 42 units used in the 60 s window of pool REQUEST_WEIGHT. ``RateLimit`` reads all its
    families in one walk over the headers (:class:`UsedHeaders`).
    """

    prefix: str
    pool: str
    _reader: UsedHeaders = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reader", UsedHeaders(self))

    @property
    def names(self) -> tuple[str, ...]:
        """The family's name prefix."""
        return (self.prefix,)

    def window(self, name: str) -> int | None:
        """The window in seconds that header ``name`` reports on, or ``None`` if not of this family."""
        if not name.lower().startswith(self.prefix.lower()):
            return None
        interval = _INTERVAL.fullmatch(name[len(self.prefix):])
        return None if interval is None else int(interval.group(1)) * _UNIT[interval.group(2).upper()]

    def read(self, response: Response) -> list[Usage]:
        """Every header of the family, as a :class:`Usage` of the matching window."""
        return self._reader.read(response)


class UsedHeaders:
    """Several :class:`UsedHeader` families read in one walk over a response's headers.

    Every response carries usage headers, so this is on every call's path: a walk per family
    cost a microsecond each against Binance's two dozen headers.
    """

    __slots__ = ("_hits", "families")

    def __init__(self, *families: UsedHeader) -> None:
        self.families = families
        # Header name -> its (pool, window seconds) readings. Venues send the same few names
        # on every response, so each name is matched once, not once per response.
        self._hits: dict[str, tuple[tuple[str, int], ...]] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The families' name prefixes."""
        return tuple(family.prefix for family in self.families)

    def _match(self, name: str) -> tuple[tuple[str, int], ...]:
        hits = tuple((family.pool, per) for family in self.families if (per := family.window(name)) is not None)
        if len(self._hits) < 256:  # a venue that invents header names must not grow it without bound
            self._hits[name] = hits
        return hits

    def read(self, response: Response) -> list[Usage]:
        """Every header of every family, as a :class:`Usage` of the matching pool and window."""
        known, found = self._hits, []
        for name, value in response.headers.items():
            hits = known.get(name)
            if hits is None:
                hits = self._match(name)
            if hits:
                try:
                    used = int(value)  # as _int, inline: three headers of every response
                except ValueError:
                    continue  # a venue's odd header is no reason to fail a good response
                for pool, per in hits:
                    found.append(Usage(pool, used, per_seconds=per))
        return found


def _one_walk(usage: tuple[UsageParser, ...]) -> tuple[UsageParser, ...]:
    """``usage`` with its :class:`UsedHeader` families read together, in one walk."""
    families = tuple(parser for parser in usage if type(parser) is UsedHeader)
    if len(families) < 2:
        return usage
    return (UsedHeaders(*families), *(parser for parser in usage if type(parser) is not UsedHeader))


@dataclass(frozen=True)
class RemainingHeader:
    """Headers giving what is left, the limit and when the window resets (ms epoch).

    Bybit v5: ``X-Bapi-Limit-Status`` (remaining), ``X-Bapi-Limit`` and
    ``X-Bapi-Limit-Reset-Timestamp``, which is the reset time once the limit is exhausted
    (https://bybit-exchange.github.io/docs/v5/rate-limit).
    """

    remaining: str
    limit: str
    reset_ms: str
    pool: str

    @property
    def names(self) -> tuple[str, ...]:
        """The three header names."""
        return (self.remaining, self.limit, self.reset_ms)

    def read(self, response: Response) -> Iterator[Usage]:
        """One :class:`Usage` when both counts are present."""
        remaining, limit = _int(response.header(self.remaining)), _int(response.header(self.limit))
        if remaining is None or limit is None:
            return
        reset = _int(response.header(self.reset_ms))
        # Bounded before dividing: a long digit string would overflow float division.
        until = reset / 1000 if remaining <= 0 and reset is not None and 0 < reset < _MAX_EPOCH_MS else None
        yield Usage(self.pool, limit - remaining, until=until)


def _pushed_back(error: e.RateLimited, costs: Mapping[str, int], declared: Collection[str]) -> list[str]:
    """The pools a 429 cools off: the one the venue named, else those the request charged.

    A request that charged nothing we know cools off every pool: the venue throttled us
    for something, and guessing too wide is the safe side.
    """
    if error.pool is not None and error.pool in declared:
        return [error.pool]
    return [name for name in costs if name in declared] or list(declared)


async def _learn(limiter: Limiter, usage: tuple[UsageParser, ...], response: Response, endpoint: str) -> None:
    pending = _learn_nowait(limiter, usage, response, endpoint)
    if not pending:
        return
    try:
        await limiter.sync(*pending)  # together: one storage call for the response, not one per header
    except Exception as exc:
        limiter.learning_failed(exc)


def _learn_nowait(limiter: Limiter, usage: tuple[UsageParser, ...], response: Response, endpoint: str,
                  answered: float | None = None) -> list[Usage]:
    """Learn what needs no await; the reports left for :meth:`Limiter.sync` (none with ``memory://``).

    ``answered``: the limiter's clock time when the answer came, if it is learned later.
    """
    pending: list[Usage] = []
    for parser in usage:
        try:
            for reading in parser.read(response):
                if reading.name == ENDPOINT_POOL:
                    if endpoint not in limiter.pool_names:
                        continue  # an endpoint without a pool of its own: nothing to pull up
                    reading = msgspec.structs.replace(reading, name=endpoint)
                if not limiter.sync_nowait(reading, answered):
                    pending.append(reading)
        except Exception as exc:  # whatever failed, the venue's answer must reach the caller
            limiter.learning_failed(exc)
    return pending


async def _cool_off(limiter: Limiter, error: e.RateLimited, costs: Mapping[str, int], ban_seconds: float) -> None:
    try:
        if isinstance(error, e.IpBanned):
            await limiter.cool_off(None, error.retry_after, default=ban_seconds)
        else:
            await limiter.cool_off(_pushed_back(error, costs, limiter.pool_names), error.retry_after)
    except Exception as exc:  # the venue's error, not ours, is what the caller must see
        limiter.learning_failed(exc)


@dataclass(frozen=True)
class RateLimit:
    """Wait for room in the request's pools, then call inner; learn from the venue's answer.

    ``ban_seconds`` is the IP-ban cool-off when a 418 carries no Retry-After (Binance bans
    last "from 2 minutes to 3 days", https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits).
    """

    limiter: Limiter
    usage: tuple[UsageParser, ...] = ()
    ban_seconds: float = 120.0

    def __post_init__(self) -> None:
        # Checked here, not when a 418 comes: a NaN ban would be dropped then, in the middle of a ban.
        if not 0 <= self.ban_seconds < math.inf:
            raise e.ConfigError(f"ban_seconds must be a finite number of seconds >= 0, got {self.ban_seconds!r}")

    def __call__(self, inner: Service) -> Service:
        limiter, usage, ban_seconds = self.limiter, _one_walk(self.usage), self.ban_seconds
        # memory://: learning from a good answer is plain calls, so it runs once the caller has
        # the answer (at the loop's next turn, while the next request is on the wire, or at the
        # next acquire if that is sooner). A shared storage's round trip stays before the answer,
        # so other processes see the count at once.
        later = limiter.learns_nowait and bool(usage)
        now = limiter.clock.time  # when the answer came: a report counts in the window it was read in

        async def service(request: Request) -> Response:
            costs = request.endpoint.costs
            await limiter.acquire(costs)
            try:
                response = await inner(request)
            except e.LotusXError as exc:
                # The cool-off first: it matters more than the counts if the storage fails.
                if isinstance(exc, e.RateLimited):
                    await _cool_off(limiter, exc, costs, ban_seconds)
                if exc.response is not None:  # error responses carry usage headers too
                    await _learn(limiter, usage, exc.response, request.endpoint.name)
                raise
            if later:
                limiter.learn_soon(_learn_nowait, limiter, usage, response, request.endpoint.name, now())
            elif usage:
                await _learn(limiter, usage, response, request.endpoint.name)
            return response

        return service

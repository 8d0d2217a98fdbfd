"""Venue clock sync: ``ServerClock`` (a corrected :class:`Clock`) and the ``ClockSync`` layer.

``ServerClock.time()`` is local time plus the measured offset to the venue. Give it to
``Sign(signer, clock=server_clock)`` so timestamps are in the venue's time, and to the
``Limiter`` so its windows are the venue's. Put ``ClockSync(server_clock)`` outside
``RateLimit``: it keeps the offset fresh and, when the venue still says the timestamp is
outside its window, resyncs and re-sends once, through ``RateLimit`` (the venue counts the
re-send, so it must be charged) and ``Sign`` (re-signed). It never widens recvWindow: a wider
window only hides skew.

Canonical order: ``Retry ∘ ClockSync ∘ RateLimit ∘ Sign ∘ Trace ∘ MapErrors ∘ Transport``.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lotusx.kernel.errors import (
    ConfigError,
    ConnectError,
    DecodeError,
    LotusXError,
    RateLimited,
    Timeout,
    TimestampOutOfWindow,
)
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.kernel.service import Service
from lotusx.log import get_logger
from lotusx.metrics import Metrics

FetchServerMs = Callable[[], Awaitable[int]]
# A sample failing so ends the sync's sampling; any other failed sample is only left out.
_LAST_SAMPLE = (RateLimited, Timeout, ConnectError)

_log = get_logger("lotusx.clock")


class ServerClock:
    """A :class:`Clock` whose ``time()`` is the venue's: local time plus the measured offset.

    ``fetch_server_ms`` returns the venue's server time in milliseconds; the connector builds
    it on a call that skips ``ClockSync`` (``RateLimit`` over the transport in
    :func:`~lotusx.venue.open_venue`), so a sync can never recurse into itself. A sync takes
    ``samples`` round trips; each sample's offset is ``server - midpoint(send, receive)``, off
    by at most half its round trip, so the median offset of the faster half of the samples is
    kept: slow round trips (a congested leg) cannot skew it even when they are most of them,
    nor (of the default five) can one odd fast answer. A sample is sent when it leaves for the
    venue: when ``fetch_server_ms`` calls a service wrapped by :meth:`sending` (below its rate
    limit, as ``open_venue`` does), else when it is called; a wait for the limiter before then,
    which a saturated budget imposes on every sample, is no part of the round trip. A sample
    that fails (a 5xx, a lost or garbled answer) is left out; a ``RateLimited``, ``Timeout`` or
    ``ConnectError`` ends the sampling (a ``ConfigError`` the sync). The sync fails, with the
    last error, only when no sample was answered.
    Until the first sync the offset is 0.
    """

    def __init__(self, fetch_server_ms: FetchServerMs, clock: Clock = SYSTEM_CLOCK, *, samples: int = 5,
                 refresh: float = 60.0, retry: float = 5.0, metrics: Metrics | None = None,
                 exchange: str = "") -> None:
        # Written so that NaN fails too (every comparison with it is false).
        if not (samples >= 1 and 0 < refresh < math.inf and 0 < retry < math.inf):
            raise ConfigError("ServerClock: samples must be >= 1, refresh and retry positive finite seconds")
        self.fetch_server_ms = fetch_server_ms
        self.clock = clock
        self.samples = samples
        self.refresh = refresh
        self.retry = retry  # after a failed refresh, keep the old offset and try again this soon
        self.metrics = metrics
        self.exchange = exchange
        self.offset = 0.0  # seconds, venue minus local
        self.rtt: float | None = None  # median round trip of the last sync, seconds
        self.generation = 0  # bumped by every successful sync
        self._due: float | None = None  # monotonic time of the next refresh; None = never synced
        self._failed = False  # the last refresh failed: the next one is due ``retry`` after it
        self._lock = asyncio.Lock()
        self._left: tuple[float, float] | None = None  # (time, monotonic) the sample being taken left

    def sending(self, inner: Service) -> Service:
        """``inner``, noting when each sample leaves through it: wrap the wire below the rate limit."""
        async def service(request: Request) -> Response:
            self._left = self.clock.time(), self.clock.monotonic()
            return await inner(request)

        return service

    def time(self) -> float:
        """Venue wall-clock seconds: local time plus the offset."""
        return self.clock.time() + self.offset

    def monotonic(self) -> float:
        """Local monotonic seconds (offsets do not apply to intervals)."""
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the underlying clock."""
        await self.clock.sleep(seconds)

    @property
    def stale(self) -> bool:
        """True before the first sync and once the refresh interval has passed."""
        return self._due is None or self.clock.monotonic() >= self._due

    async def ensure_fresh(self) -> None:
        """Sync if stale; concurrent callers share one sync."""
        if not self.stale:
            return
        async with self._lock:
            if self.stale:
                await self._refresh()

    async def resync(self, seen: int | None = None) -> None:
        """Sync now, unless a sync finished after generation ``seen`` was observed.

        Nor while a failed sync waits out ``retry``: the requests a clock step rejected all at
        once would otherwise each try again in turn, every one waiting out the previous failure.
        """
        async with self._lock:
            if seen is None or (self.generation == seen and (not self._failed or self.stale)):
                await self._refresh()

    async def sync(self) -> None:
        """Sync now; errors from ``fetch_server_ms`` propagate."""
        async with self._lock:
            await self._sync()

    async def run(self) -> None:
        """Keep the offset fresh forever; start it as a task you own and cancel it when done.

        A failed sync is tried again every ``retry`` seconds, except a ``ConfigError``: no retry
        can fix one, so it is logged at error level and the task ends with it.
        """
        while True:
            try:
                await self.ensure_fresh()
            except ConfigError as exc:
                _log.error("clock sync misconfigured, refresh stopped", exchange=self.exchange, error=exc)
                raise
            except (LotusXError, OSError) as exc:
                _log.warning("first clock sync failed, retrying", exchange=self.exchange, error=exc)
                await self.clock.sleep(self.retry)
                continue
            await self.clock.sleep(max(0.0, (self._due or 0.0) - self.clock.monotonic()))

    async def _refresh(self) -> None:
        if self._due is None:
            await self._sync()  # nothing to fall back on: the first sync must succeed
            return
        try:
            await self._sync()
        except ConfigError:
            raise  # a programming or config error: the old offset would only hide it, the caller must see it
        except (LotusXError, OSError) as exc:
            # Keep signing with the last good offset: it drifts by milliseconds per minute.
            _log.warning("clock sync failed, keeping last offset", exchange=self.exchange, error=exc,
                         offset_ms=round(self.offset * 1000, 3))
            self._due = self.clock.monotonic() + self.retry
            self._failed = True

    async def _sync(self) -> None:
        offsets: list[float] = []
        rtts: list[float] = []
        failures: list[LotusXError | OSError] = []
        for _ in range(self.samples):
            sent, sent_mono = self.clock.time(), self.clock.monotonic()
            self._left = None
            try:
                server = _seconds(await self.fetch_server_ms())
            except ConfigError:
                self._count_failure()
                raise  # no sample can fix a misconfiguration
            except (LotusXError, OSError) as exc:
                # One lost answer (a 5xx, a garbled time) must not throw the others away: a clock
                # stepped under a flaky venue would stay wrong for ``retry`` seconds more. But a venue
                # throttling us, unreachable or hanging is not asked again: signed calls wait for this.
                failures.append(exc)
                if isinstance(exc, _LAST_SAMPLE):
                    break
                continue
            received, received_mono = self.clock.time(), self.clock.monotonic()
            left = self._departure()
            if left is not None:  # it waited for rate-limit room before it left: not a leg of the trip
                sent, sent_mono = left
            offsets.append(server - (sent + received) / 2)
            rtts.append(received_mono - sent_mono)
        if not offsets:
            self._count_failure()
            raise failures[-1]
        # Each offset is off by at most half its round trip, and a sample that waited before it
        # left (RateLimit sits inside fetch_server_ms) by half the wait: under load most may wait.
        # So only the faster half counts; its median still outvotes one odd answer among them.
        fastest = sorted(zip(rtts, offsets, strict=True))[:(len(offsets) + 1) // 2]
        self.offset = statistics.median(offset for _, offset in fastest)
        self.rtt = statistics.median(rtts)
        self.generation += 1
        self._due = self.clock.monotonic() + self.refresh
        self._failed = False
        if self.metrics is not None:
            self.metrics.clock_offset.labels(exchange=self.exchange).set(self.offset)
        _log.info("clock synced", exchange=self.exchange, offset_ms=round(self.offset * 1000, 3),
                  rtt_ms=round(self.rtt * 1000, 3), samples=len(offsets))

    def _departure(self) -> tuple[float, float] | None:
        """When the sample just answered left through :meth:`sending`; ``None`` if it did not.

        A method, not the attribute read in place: a type checker takes it for the ``None`` the
        sync set before the await that set it.
        """
        return self._left

    def _count_failure(self) -> None:
        if self.metrics is not None:
            self.metrics.clock_sync_failures.labels(self.exchange).inc()

    def __repr__(self) -> str:
        return (f"ServerClock(samples={self.samples}, refresh={self.refresh}, "
                f"offset={self.offset:.3f}, clock={self.clock!r})")


def _seconds(server_ms: float) -> float:
    """``server_ms`` in seconds; a reading no clock can show is a :class:`DecodeError`, like any garbled answer.

    A NaN offset would make every timestamp and rate-limit window a ValueError until the next
    good sync; a number too long for a float would escape as an OverflowError.
    """
    try:
        seconds = server_ms / 1000
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise DecodeError("server time is not a finite number of milliseconds")
    return seconds


async def fresh(clock: ServerClock, where: str) -> None:
    """``clock.ensure_fresh()`` before the call ``where`` goes out; its failure as ``ClockSync`` raises it.

    For a venue time a request carries beside its signature (a Bybit withdrawal's body
    ``timestamp``): taken after this, it is on the venue's clock as the signature's is.
    """
    try:
        await clock.ensure_fresh()
    except RateLimited:
        raise  # a refusal already proves nothing left; its retry_after (a ban) must reach Retry and the caller
    except ConfigError:
        raise  # a programming or config error: no re-send can fix it, the caller must see it
    except LotusXError as exc:
        # Only the first sync raises, and the request has not left: said so, Retry re-sends an
        # order (and a withdrawal is no AmbiguousWithdrawal) instead of reading it as maybe executed.
        raise ConnectError(f"{where}: not sent, the first clock sync failed ({type(exc).__name__})") from exc


@dataclass(frozen=True)
class ClockSync:
    """Keep ``clock`` fresh before signed calls; on ``TimestampOutOfWindow`` resync and re-send once."""

    clock: ServerClock

    def __call__(self, inner: Service) -> Service:
        clock = self.clock

        async def service(request: Request) -> Response:
            if not request.endpoint.signed:
                return await inner(request)
            if clock.stale:  # else nothing to sync: no two coroutines, nor a failure's text, per call
                await fresh(clock, f"{request.method} {request.path}")
            seen = clock.generation
            try:
                return await inner(request)
            except TimestampOutOfWindow as exc:
                # The venue rejected the request before acting on it, so one re-send is safe.
                _log.warning("timestamp outside the venue window, resyncing", exchange=clock.exchange,
                             endpoint=request.endpoint.name, code=exc.code)
            # A re-send like Retry's, which never sees it: counted with them, or a clock step's
            # doubled traffic would show on no dashboard.
            if clock.metrics is not None:
                clock.metrics.retries.labels(clock.exchange, request.endpoint.name, "TimestampOutOfWindow").inc()
            await clock.resync(seen)
            return await inner(request)

        return service


class LoginClock:
    """ClockSync's rule for a signed WebSocket login: ``now_ms()`` stamps each one, fresh; after
    ``refused()`` (the venue said the last stamp was outside its window) the next one syncs first.

    A reconnect's login is the re-send: without the sync every login until the next refresh
    (a minute away) would repeat the refused stamp.
    """

    def __init__(self, clock: ServerClock) -> None:
        self.clock = clock
        self._signed = 0  # the clock generation the last stamp was taken with
        self._refused: int | None = None  # the generation of a stamp the venue refused
        self._resynced = False  # the last stamp was taken right after a resync for a refusal

    async def now_ms(self) -> int:
        """Venue time in ms for the next login."""
        self._resynced = self._refused == self._signed
        if self._resynced:
            await self.clock.resync(self._refused)
        else:
            await self.clock.ensure_fresh()
        self._signed = self.clock.generation
        return int(self.clock.time() * 1000)

    def refused(self) -> bool:
        """The venue refused the last login's timestamp (``TimestampOutOfWindow``).

        True when that stamp was taken right after a resync for an earlier refusal: a fresh
        clock did not help, so the refusal is about something else.
        """
        self._refused = self._signed
        return self._resynced

"""ServerClock offset estimation and the ClockSync layer's resync-and-resend-once rule."""

from __future__ import annotations

import asyncio
import contextlib
import math

import pytest
from structlog.testing import capture_logs

from lotusx.kernel.errors import ConfigError, ConnectError, IpBanned, ServerError, TimestampOutOfWindow
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.kernel.service import stack
from lotusx.layers.clock import ClockSync, LoginClock, ServerClock
from lotusx.layers.sign import Sign
from lotusx.metrics import Metrics
from lotusx.signers import BinanceHmac
from lotusx.testing import FakeClock, FakeTransport

SIGNED = Endpoint("new_order", method="POST", path="/api/v3/order", signed=True)
PUBLIC = Endpoint("depth", path="/api/v3/depth")
RECV_WINDOW = 5000
SIGNER = BinanceHmac("clock-test-key", "clock-test-secret", recv_window=RECV_WINDOW)


class Venue:
    """A venue whose clock is ``skew`` seconds ahead of ``clock``; each time request takes
    ``up`` seconds to reach it and ``down`` seconds to come back (virtual time)."""

    def __init__(self, clock: FakeClock, skew: float = 0.0, up: float = 0.0, down: float = 0.0) -> None:
        self.clock, self.skew, self.up, self.down = clock, skew, up, down
        self.time_calls = 0
        self.failures: list[BaseException] = []

    def now_ms(self) -> float:
        return (self.clock.time() + self.skew) * 1000

    async def server_ms(self) -> int:
        self.time_calls += 1
        if self.failures:
            raise self.failures.pop(0)
        await self.clock.sleep(self.up)
        stamp = round(self.now_ms())
        await self.clock.sleep(self.down)
        return stamp

    def order_endpoint(self, request: Request) -> Response:
        # Binance's rule: serverTime - recvWindow <= timestamp < serverTime + 1000, else -1021.
        timestamp = int(dict(request.query)["timestamp"])
        if not self.now_ms() - RECV_WINDOW <= timestamp < self.now_ms() + 1000:
            raise TimestampOutOfWindow("POST /api/v3/order: outside recvWindow", code=-1021)
        return Response(status=200, body=b"{}")


def order() -> Request:
    return Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),), endpoint=SIGNED)


class TestServerClock:
    async def test_offset_is_server_minus_midpoint_with_symmetric_latency(self) -> None:
        """With equal legs the estimate is exactly the skew, and the RTT is both legs."""
        clock = FakeClock()
        venue = Venue(clock, skew=2.5, up=0.05, down=0.05)
        server_clock = ServerClock(venue.server_ms, clock, samples=3)
        await server_clock.sync()
        assert server_clock.offset == pytest.approx(2.5, abs=1e-6)
        assert server_clock.rtt == pytest.approx(0.1, abs=1e-6)
        assert venue.time_calls == 3

    async def test_asymmetric_latency_biases_by_half_the_difference(self) -> None:
        """Midpoint math: a 300 ms up / 100 ms down trip over-estimates by (0.3 - 0.1) / 2."""
        clock = FakeClock()
        venue = Venue(clock, skew=5.0, up=0.3, down=0.1)
        server_clock = ServerClock(venue.server_ms, clock, samples=1)
        await server_clock.sync()
        assert server_clock.offset == pytest.approx(5.1, abs=1e-6)
        assert server_clock.rtt == pytest.approx(0.4, abs=1e-6)

    async def test_median_ignores_one_outlier_sample(self) -> None:
        """One sample with a 3 s one-sided delay does not move the median offset."""
        clock = FakeClock()
        legs = [(0.01, 0.01), (0.01, 0.01), (0.0, 3.0), (0.01, 0.01), (0.01, 0.01)]
        skew = -1.25

        async def server_ms() -> int:
            up, down = legs.pop(0)
            await clock.sleep(up)
            stamp = round((clock.time() + skew) * 1000)
            await clock.sleep(down)
            return stamp

        server_clock = ServerClock(server_ms, clock, samples=5)
        await server_clock.sync()
        assert server_clock.offset == pytest.approx(skew, abs=1e-3)

    async def test_waiting_before_the_send_on_most_samples_does_not_move_the_offset(self) -> None:
        """Samples queued before they leave (the limiter the samples go through) are not midpoints: the fastest wins."""
        clock = FakeClock()
        queued = [4.0, 4.0, 4.0, 0.0, 0.0]  # seconds each sample waits for room before it is sent
        skew = 3.0

        async def server_ms() -> int:
            await clock.sleep(queued.pop(0))
            await clock.sleep(0.01)
            stamp = round((clock.time() + skew) * 1000)
            await clock.sleep(0.01)
            return stamp

        server_clock = ServerClock(server_ms, clock, samples=5)
        await server_clock.sync()
        assert server_clock.offset == pytest.approx(skew, abs=1e-3)

    async def test_one_fast_but_stale_answer_does_not_move_the_offset(self) -> None:
        """The fastest sample alone does not decide: one quick answer 2 s stale is outvoted."""
        clock = FakeClock()
        stale = [2.0, 0.0, 0.0, 0.0, 0.0]
        legs = [0.001, 0.01, 0.01, 0.01, 0.01]
        skew = 3.0

        async def server_ms() -> int:
            leg, behind = legs.pop(0), stale.pop(0)
            await clock.sleep(leg)
            stamp = round((clock.time() + skew - behind) * 1000)
            await clock.sleep(leg)
            return stamp

        server_clock = ServerClock(server_ms, clock, samples=5)
        await server_clock.sync()
        assert server_clock.offset == pytest.approx(skew, abs=1e-3)

    async def test_time_is_local_time_plus_offset(self) -> None:
        """time() adds the offset; monotonic() and sleep() are the local clock's."""
        clock = FakeClock()
        server_clock = ServerClock(Venue(clock, skew=7.0).server_ms, clock, samples=1)
        assert server_clock.time() == clock.time()  # no offset before the first sync
        await server_clock.sync()
        assert server_clock.time() == pytest.approx(clock.time() + 7.0, abs=1e-3)
        assert server_clock.monotonic() == clock.monotonic()
        await server_clock.sleep(2.0)
        assert clock.slept[-1] == 2.0

    async def test_refreshes_only_after_the_interval(self) -> None:
        """ensure_fresh syncs when never synced, not again within refresh, again after it."""
        clock = FakeClock()
        venue = Venue(clock)
        server_clock = ServerClock(venue.server_ms, clock, samples=2, refresh=60.0)
        await server_clock.ensure_fresh()
        await clock.sleep(59.0)
        await server_clock.ensure_fresh()
        assert venue.time_calls == 2
        await clock.sleep(1.0)
        await server_clock.ensure_fresh()
        assert venue.time_calls == 4

    async def test_concurrent_callers_share_one_sync(self) -> None:
        """Many requests finding the clock stale at once cause a single sync."""
        clock = FakeClock()
        venue = Venue(clock, up=0.01, down=0.01)
        server_clock = ServerClock(venue.server_ms, clock, samples=3)
        await asyncio.gather(*(server_clock.ensure_fresh() for _ in range(10)))
        assert venue.time_calls == 3

    async def test_resync_is_skipped_when_a_newer_sync_already_happened(self) -> None:
        """resync(seen) syncs only if no sync finished since generation ``seen``."""
        clock = FakeClock()
        venue = Venue(clock)
        server_clock = ServerClock(venue.server_ms, clock, samples=1)
        await server_clock.sync()
        seen = server_clock.generation
        await server_clock.resync(seen)
        await server_clock.resync(seen)  # a second request that failed at the same generation
        assert venue.time_calls == 2 and server_clock.generation == seen + 1

    async def test_first_sync_failure_propagates(self) -> None:
        """With no offset to fall back on, a failing first sync raises."""
        clock = FakeClock()
        venue = Venue(clock)
        venue.failures.append(ConnectError("GET /api/v3/time: refused"))
        with pytest.raises(ConnectError):
            await ServerClock(venue.server_ms, clock, samples=1).ensure_fresh()

    async def test_failed_refresh_keeps_offset_and_retries_soon(self) -> None:
        """A failing refresh keeps the last offset and tries again after ``retry`` seconds."""
        clock = FakeClock()
        venue = Venue(clock, skew=3.0)
        server_clock = ServerClock(venue.server_ms, clock, samples=1, refresh=60.0, retry=5.0)
        await server_clock.ensure_fresh()
        venue.skew = 4.0
        venue.failures.append(ConnectError("GET /api/v3/time: refused"))
        await clock.sleep(60.0)
        await server_clock.ensure_fresh()
        assert server_clock.offset == pytest.approx(3.0, abs=1e-3)
        await clock.sleep(4.9)
        await server_clock.ensure_fresh()
        assert venue.time_calls == 2
        await clock.sleep(0.1)
        await server_clock.ensure_fresh()
        assert server_clock.offset == pytest.approx(4.0, abs=1e-3)

    async def test_a_refresh_failing_on_a_config_error_raises_it(self) -> None:
        """A ConfigError in a later sync reaches the caller, the clock left stale: the old offset does not hide it."""
        clock = FakeClock()
        venue = Venue(clock, skew=3.0)
        server_clock = ServerClock(venue.server_ms, clock, samples=1, refresh=60.0, retry=5.0)
        await server_clock.ensure_fresh()
        venue.failures.append(ConfigError("cost for undeclared rate-limit pool 'weight'"))
        await clock.sleep(60.0)
        with pytest.raises(ConfigError, match="undeclared rate-limit pool"):
            await server_clock.ensure_fresh()
        assert server_clock.stale

    async def test_offset_is_reported_to_metrics(self) -> None:
        """clock_offset_seconds{exchange} holds the offset after a sync."""
        clock = FakeClock()
        metrics = Metrics()
        server_clock = ServerClock(Venue(clock, skew=-0.75).server_ms, clock, samples=1,
                                   metrics=metrics, exchange="binance")
        await server_clock.sync()
        value = metrics.registry.get_sample_value("lotusx_clock_offset_seconds", {"exchange": "binance"})
        assert value == pytest.approx(-0.75, abs=1e-3)

    async def test_background_run_refreshes_and_cancels_cleanly(self) -> None:
        """run() retries a failed first sync, refreshes every interval, and leaves no sleeper on cancel."""
        clock = FakeClock(auto_advance=False)
        venue = Venue(clock, skew=1.0)
        venue.failures.append(ConnectError("GET /api/v3/time: refused"))
        server_clock = ServerClock(venue.server_ms, clock, samples=1, refresh=30.0, retry=2.0)
        task = asyncio.create_task(server_clock.run())
        await clock.advance(0)
        assert server_clock.generation == 0
        await clock.advance(2.0)
        assert server_clock.generation == 1
        await clock.advance(30.0)
        assert server_clock.generation == 2 and venue.time_calls == 3
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.done() and clock.sleepers == 0

    async def test_background_run_ends_on_a_config_error(self) -> None:
        """run() does not retry a ConfigError: it logs it at error level and the task ends with it."""
        clock = FakeClock(auto_advance=False)
        venue = Venue(clock)
        venue.failures.append(ConfigError("cost for undeclared rate-limit pool 'weight'"))
        server_clock = ServerClock(venue.server_ms, clock, samples=1, retry=2.0)
        with capture_logs() as logs:
            task = asyncio.create_task(server_clock.run())
            await clock.advance(0)
            assert task.done()
            with pytest.raises(ConfigError, match="undeclared rate-limit pool"):
                await task
        assert venue.time_calls == 1 and clock.sleepers == 0
        assert [entry["log_level"] for entry in logs] == ["error"]

    @pytest.mark.parametrize(("samples", "refresh"), [(0, 60.0), (5, 0.0), (5, math.nan), (5, math.inf)])
    def test_bad_configuration_is_refused(self, samples: int, refresh: float) -> None:
        """samples < 1 or a refresh interval that is not positive and finite is a ConfigError."""
        with pytest.raises(ConfigError):
            ServerClock(Venue(FakeClock()).server_ms, samples=samples, refresh=refresh)


class TestClockSync:
    def build(self, skew: float = 0.0) -> tuple[Venue, ServerClock, FakeTransport, FakeClock]:
        clock = FakeClock()
        venue = Venue(clock, skew=skew, up=0.02, down=0.02)
        server_clock = ServerClock(venue.server_ms, clock, samples=3)
        return venue, server_clock, FakeTransport(venue.order_endpoint), clock

    async def test_signed_request_syncs_first_and_signs_in_venue_time(self) -> None:
        """Before the first signed call the clock syncs, so a skewed venue accepts the timestamp."""
        venue, server_clock, transport, _ = self.build(skew=30.0)
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        assert (await service(order())).status == 200
        assert venue.time_calls == 3 and len(transport.requests) == 1

    async def test_out_of_window_resyncs_and_resends_once_with_new_timestamp(self) -> None:
        """A -1021-style rejection triggers one resync and one re-signed re-send that now fits."""
        venue, server_clock, transport, _ = self.build()
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        await server_clock.sync()
        venue.skew = 10.0  # the local clock fell 10 s behind the venue since the last sync
        response = await service(order())
        assert response.status == 200
        first, second = (dict(r.query) for r in transport.requests)
        assert venue.now_ms() - int(first["timestamp"]) > RECV_WINDOW
        assert abs(venue.now_ms() - int(second["timestamp"])) < 100
        assert first["signature"] != second["signature"]
        assert venue.time_calls == 6  # the initial sync and exactly one resync

    async def test_second_out_of_window_propagates(self) -> None:
        """If the re-sent request is rejected again, the error propagates; no third attempt."""
        venue, server_clock, _, _ = self.build()

        def always_reject(request: Request) -> Response:
            raise TimestampOutOfWindow("POST /api/v3/order: outside recvWindow", code=-1021)

        transport = FakeTransport(always_reject)
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        with pytest.raises(TimestampOutOfWindow):
            await service(order())
        assert len(transport.requests) == 2 and venue.time_calls == 6

    async def test_never_widens_recv_window(self) -> None:
        """The re-sent request carries the same recvWindow as the first."""
        venue, server_clock, transport, _ = self.build()
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        await server_clock.sync()
        venue.skew = -20.0
        await service(order())
        assert [dict(r.query)["recvWindow"] for r in transport.requests] == ["5000", "5000"]

    async def test_other_errors_are_not_resent(self) -> None:
        """Only TimestampOutOfWindow triggers the resync; other errors pass straight out."""
        venue, server_clock, _, _ = self.build()

        def failing(request: Request) -> Response:
            raise ServerError("POST /api/v3/order: server error")

        transport = FakeTransport(failing)
        with pytest.raises(ServerError):
            await stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)(order())
        assert len(transport.requests) == 1 and venue.time_calls == 3

    async def test_a_failed_first_sync_says_the_request_was_not_sent(self) -> None:
        """The first sync failing (a 5xx on every time call) is a ConnectError: nothing left, safe to re-send."""
        venue, server_clock, transport, _ = self.build()
        venue.failures = [ServerError("GET /api/v3/time: status=503")] * 3
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        with pytest.raises(ConnectError, match="not sent") as info:
            await service(order())
        assert isinstance(info.value.__cause__, ServerError)
        assert transport.requests == []
        assert (await service(order())).status == 200  # the next attempt syncs and sends

    async def test_a_first_sync_refused_by_the_rate_limit_stays_rate_limited(self) -> None:
        """A throttled or banned time call keeps its type and retry_after: Retry waits it out, the caller sees a ban."""
        venue, server_clock, transport, _ = self.build()
        venue.failures = [IpBanned("GET /api/v3/time: status=418", retry_after=120.0)]
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        with pytest.raises(IpBanned) as info:
            await service(order())
        assert info.value.retry_after == 120.0
        assert transport.requests == []

    async def test_a_first_sync_failing_on_a_config_error_stays_a_config_error(self) -> None:
        """A programming or config error in the time call propagates as is, not as a ConnectError Retry re-sends."""
        venue, server_clock, transport, _ = self.build()
        venue.failures = [ConfigError("cost for undeclared rate-limit pool 'weight'")]
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        with pytest.raises(ConfigError, match="undeclared rate-limit pool"):
            await service(order())
        assert transport.requests == []

    async def test_unsigned_requests_are_untouched(self) -> None:
        """Public endpoints neither sync the clock nor get re-sent."""
        venue, server_clock, _, _ = self.build()
        transport = FakeTransport(lambda request: Response(status=200))
        request = Request(method="GET", path="/api/v3/depth", endpoint=PUBLIC)
        await ClockSync(server_clock)(transport)(request)
        assert transport.requests == [request] and venue.time_calls == 0

    async def test_fresh_clock_is_not_resynced_per_request(self) -> None:
        """Within the refresh interval, signed calls reuse the offset."""
        venue, server_clock, transport, clock = self.build(skew=1.0)
        service = stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock))(transport)
        for _ in range(3):
            await service(order())
            await clock.sleep(1.0)
        assert venue.time_calls == 3 and len(transport.requests) == 3

    def test_repr_shows_the_stack_config(self) -> None:
        """repr of the canonical pair shows ClockSync's clock and Sign's signer config."""
        _, server_clock, _, _ = self.build()
        text = repr(stack(ClockSync(server_clock), Sign(SIGNER, clock=server_clock)))
        assert text.startswith("stack(ClockSync(clock=ServerClock(samples=3, refresh=60.0")
        assert "clock-test-secret" not in text and "clock-test-key" not in text


class TestLoginClock:
    async def test_each_login_is_stamped_on_a_fresh_clock_without_a_sync_of_its_own(self) -> None:
        """Stamps are venue time; once synced, a second login within the refresh asks the venue nothing."""
        clock = FakeClock()
        venue = Venue(clock, skew=2.0)
        stamps = LoginClock(ServerClock(venue.server_ms, clock, samples=1))
        assert await stamps.now_ms() == pytest.approx(venue.now_ms(), abs=1)
        await stamps.now_ms()
        assert venue.time_calls == 1

    async def test_a_refused_stamp_makes_the_next_login_sync_first(self) -> None:
        """After refused() the next stamp comes from a new sync: the venue's clock moved, and so does the stamp."""
        clock = FakeClock()
        venue = Venue(clock, skew=2.0)
        stamps = LoginClock(ServerClock(venue.server_ms, clock, samples=1))
        await stamps.now_ms()
        venue.skew = 30.0  # the venue's clock jumped: the stamp taken with the old offset is refused
        stamps.refused()
        assert await stamps.now_ms() == pytest.approx(venue.now_ms(), abs=1)
        assert venue.time_calls == 2
        await stamps.now_ms()
        assert venue.time_calls == 2  # refused once, synced once

    async def test_a_refusal_right_after_the_resync_for_one_is_not_the_clocks_fault(self) -> None:
        """refused() is False for a stamp on the ordinary clock, True for one taken right after the
        resync an earlier refusal caused (a fresh clock did not help), False again once one passed."""
        clock = FakeClock()
        venue = Venue(clock, skew=2.0)
        stamps = LoginClock(ServerClock(venue.server_ms, clock, samples=1))
        await stamps.now_ms()
        assert stamps.refused() is False
        await stamps.now_ms()  # synced afresh for the refusal
        assert stamps.refused() is True
        await stamps.now_ms()  # synced afresh again; this one is accepted (no refused())
        await stamps.now_ms()
        assert stamps.refused() is False

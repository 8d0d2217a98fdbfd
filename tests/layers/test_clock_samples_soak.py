"""A clock sync survives a failed sample: found by the order soak (a 503 on one of five time calls
left the connector signing with a stale offset, so every signed call was refused for seconds)."""

from __future__ import annotations

import pytest

from lotusx.kernel.errors import DecodeError, IpBanned, ServerError, Timeout, TimestampOutOfWindow
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.clock import ClockSync, ServerClock
from lotusx.testing import FakeClock, FakeTransport

SIGNED = Endpoint("new_order", method="POST", path="/api/v3/order", signed=True)


class TimeEndpoint:
    """A venue clock ``skew`` seconds ahead; each call takes the next of ``failures`` (None: answers)."""

    def __init__(self, clock: FakeClock, skew: float = 0.0) -> None:
        self.clock, self.skew = clock, skew
        self.failures: list[Exception | None] = []
        self.calls = 0

    async def server_ms(self) -> int:
        self.calls += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return round((self.clock.time() + self.skew) * 1000)


async def test_a_resync_with_one_failed_sample_takes_the_offset_from_the_others() -> None:
    """A 503 on one of five samples does not fail the sync: the other four give the new offset."""
    clock = FakeClock()
    venue = TimeEndpoint(clock)
    server_clock = ServerClock(venue.server_ms, clock)
    await server_clock.sync()
    venue.skew = -3.0
    venue.failures = [None, ServerError("GET /v5/market/time: status=503")]
    await server_clock.resync(server_clock.generation)
    assert server_clock.offset == pytest.approx(-3.0, abs=1e-3)
    assert venue.calls == 10


async def test_a_request_refused_for_its_timestamp_goes_through_despite_a_failed_sample() -> None:
    """ClockSync's re-send after a clock step is signed on the new offset though one time call failed."""
    clock = FakeClock()
    venue = TimeEndpoint(clock)
    server_clock = ServerClock(venue.server_ms, clock)
    await server_clock.sync()
    venue.skew = -3.0
    venue.failures = [DecodeError("garbled server time")]

    def order_endpoint(request: Request) -> Response:
        if abs(server_clock.time() - (clock.time() + venue.skew)) > 1.0:
            raise TimestampOutOfWindow("POST /api/v3/order: outside recvWindow", code=-1021)
        return Response(status=200, body=b"{}")

    service = ClockSync(server_clock)(FakeTransport(order_endpoint))
    assert (await service(Request(method="POST", path="/api/v3/order", endpoint=SIGNED))).status == 200


async def test_a_sync_whose_every_sample_failed_raises() -> None:
    """With no sample answered there is no offset: the sync fails."""
    clock = FakeClock()
    venue = TimeEndpoint(clock)
    venue.failures = [ServerError("GET /api/v3/time: status=503")] * 5
    with pytest.raises(ServerError):
        await ServerClock(venue.server_ms, clock).sync()


async def test_a_throttled_sample_ends_the_sampling() -> None:
    """A 418/429 on a time call stops the sampling: no more calls to a venue that is throttling us."""
    clock = FakeClock()
    venue = TimeEndpoint(clock)
    venue.failures = [IpBanned("GET /api/v3/time: status=418", retry_after=120.0)]
    with pytest.raises(IpBanned):
        await ServerClock(venue.server_ms, clock).sync()
    assert venue.calls == 1


async def test_a_timed_out_sample_ends_the_sampling_and_the_answered_ones_count() -> None:
    """A time call that timed out is not followed by four more (signed calls wait on the sync)."""
    clock = FakeClock()
    venue = TimeEndpoint(clock, skew=2.0)
    venue.failures = [None, Timeout("GET /api/v3/time: no response within 10s")]
    server_clock = ServerClock(venue.server_ms, clock)
    await server_clock.sync()
    assert venue.calls == 2 and server_clock.offset == pytest.approx(2.0, abs=1e-3)

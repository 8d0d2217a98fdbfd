"""ServerClock after a failed resync: requests a clock step rejected together trigger one resync, not one each."""

from __future__ import annotations

import asyncio

from lotusx.kernel.errors import ConnectError, Timeout, TimestampOutOfWindow
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.clock import ClockSync, ServerClock
from lotusx.testing import FakeClock, FakeTransport

SIGNED = Endpoint("new_order", method="POST", path="/api/v3/order", signed=True)


def order() -> Request:
    return Request(method="POST", path="/api/v3/order", endpoint=SIGNED)


class TimeEndpoint:
    """Answers the first time request, then fails every later one with ``failure`` after ``delay`` seconds."""

    def __init__(self, clock: FakeClock, failure: Exception, delay: float = 0.0) -> None:
        self.clock, self.failure, self.delay = clock, failure, delay
        self.calls = 0

    async def server_ms(self) -> int:
        self.calls += 1
        if self.calls > 1:
            await self.clock.sleep(self.delay)
            raise self.failure
        return int(self.clock.time() * 1000)


def first_send_rejected() -> FakeTransport:
    """Rejects the first send of every request for its timestamp and accepts the re-send."""
    rejected: set[int] = set()

    def handler(request: Request) -> Response:
        if request.ext["n"] not in rejected:
            rejected.add(request.ext["n"])
            raise TimestampOutOfWindow("POST /api/v3/order: outside recvWindow", code=-1021)
        return Response(status=200, body=b"{}")

    return FakeTransport(handler)


async def test_requests_rejected_together_wait_for_one_failed_resync_not_one_each() -> None:
    """Five requests rejected at once while the time endpoint hangs 10 s: one resync, all done in 10 s."""
    clock = FakeClock(auto_advance=False)
    venue = TimeEndpoint(clock, Timeout("GET /api/v3/time: no response within 10s"), delay=10.0)
    server_clock = ServerClock(venue.server_ms, clock, samples=1)
    await server_clock.sync()
    service = ClockSync(server_clock)(first_send_rejected())
    calls = [asyncio.create_task(service(order().with_ext(n=n))) for n in range(5)]
    await clock.advance(0.0)  # every call sent, rejected, and queued for the resync
    await clock.advance(10.0)
    assert all(call.done() and call.result().status == 200 for call in calls)
    assert venue.calls == 2


async def test_a_request_rejected_soon_after_a_failed_resync_does_not_sync_again() -> None:
    """Within ``retry`` seconds of a failed resync, a rejected request re-sends without another sync."""
    clock = FakeClock()
    venue = TimeEndpoint(clock, ConnectError("GET /api/v3/time: refused"))
    server_clock = ServerClock(venue.server_ms, clock, samples=1, retry=5.0)
    await server_clock.sync()
    service = ClockSync(server_clock)(first_send_rejected())
    for n in range(3):
        assert (await service(order().with_ext(n=n))).status == 200
    assert venue.calls == 2


async def test_a_resync_is_tried_again_once_retry_has_passed_since_it_failed() -> None:
    """resync(seen) after a failed one syncs again once ``retry`` seconds have passed."""
    clock = FakeClock()
    venue = TimeEndpoint(clock, ConnectError("GET /api/v3/time: refused"))
    server_clock = ServerClock(venue.server_ms, clock, samples=1, retry=5.0)
    await server_clock.sync()
    seen = server_clock.generation
    await server_clock.resync(seen)
    await clock.sleep(4.9)
    await server_clock.resync(seen)
    assert venue.calls == 2
    await clock.sleep(0.1)
    await server_clock.resync(seen)
    assert venue.calls == 3

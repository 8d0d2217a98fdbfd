"""A rotation's new connection that fails to open is a failed connection attempt like any other."""

from __future__ import annotations

from lotusx.metrics import Metrics
from lotusx.testing import FakeClock
from lotusx.ws import Heartbeat
from tests.ws.test_reconnect import VenueWs, dialect, make, next_of, quiesce, until


async def test_a_rotation_that_cannot_connect_counts_a_connect_failure() -> None:
    """ws_connect_failures_total{reason=<error type>} counts the rotation's failed attempt, not only the reconnect."""
    clock, metrics = FakeClock(auto_advance=False), Metrics()
    old, broken, fresh = VenueWs(), VenueWs(fail_connect=1), VenueWs()
    async with make(old, broken, fresh, clock=clock, metrics=metrics, rotate_before=10,
                    heartbeat=Heartbeat(interval=None, idle_timeout=10_000), dialect=dialect(lifetime=100)) as ws:
        await ws.subscribe(["a"])
        await quiesce()
        await until(lambda: clock.sleepers == 2)  # idle watch, rotation timer
        await clock.advance(90)
        assert (await next_of(ws)).reason == "rotation_failed"
        labels = {"exchange": "test", "reason": "ConnectError"}
        assert metrics.registry.get_sample_value("lotusx_ws_connect_failures_total", labels) == 1

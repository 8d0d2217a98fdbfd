"""WebSocket rotations, connect failures and lost Bybit pushes are observable."""

from __future__ import annotations

import asyncio

import msgspec
from structlog.testing import capture_logs

from lotusx.exchanges.bybit.schemas import WsFrame as BybitFrame
from lotusx.exchanges.bybit.streams import Route
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock
from lotusx.ws import Heartbeat
from tests.ws.test_reconnect import VenueWs, dialect, make, quiesce, subscribes, until


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_rotation_is_counted() -> None:
    """A proactive rotation before the venue's connection lifetime counts ws_rotations."""
    clock, metrics = FakeClock(auto_advance=False), Metrics()
    old, new = VenueWs(), VenueWs()
    async with make(old, new, clock=clock, metrics=metrics, heartbeat=Heartbeat(interval=None, idle_timeout=10_000),
                    rotate_before=10, dialect=dialect(lifetime=100)) as ws:
        await ws.subscribe(["a"])
        await quiesce()  # the idle watch and the rotation timer are asleep
        await clock.advance(90)
        await until(lambda: subscribes(new) == [["a"]])
        await until(lambda: ws.stats.rotations == 1)
        assert value(metrics, "lotusx_ws_rotations_total", exchange="test") == 1


async def test_a_failed_connect_is_counted_with_its_error_type() -> None:
    """A connection attempt that fails counts ws_connect_failures{reason=<error type>}."""
    clock, metrics = FakeClock(auto_advance=False), Metrics()
    broken, good = VenueWs(fail_connect=1), VenueWs()
    async with make(broken, good, clock=clock, metrics=metrics) as ws:
        task = asyncio.create_task(ws.subscribe(["a"]))
        await until(lambda: clock.sleepers > 0)
        await clock.advance(5)
        await asyncio.wait_for(task, 2)
        assert value(metrics, "lotusx_ws_connect_failures_total", exchange="test", reason="ConnectError") == 1


def test_a_bybit_push_failing_its_schema_is_logged() -> None:
    """A book push Route cannot read is lost: it is logged as ws message malformed, not only counted."""
    frame = BybitFrame(topic="orderbook.50.BTCUSDT", type="delta", data=msgspec.Raw(b'{"s":1}'))
    with capture_logs() as logs:
        Route(Metrics())(frame)
    assert [(log["event"], log["log_level"], log["stream"]) for log in logs] == [
        ("ws message malformed", "warning", "orderbook.50.BTCUSDT")]

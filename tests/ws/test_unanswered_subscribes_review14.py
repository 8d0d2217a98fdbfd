"""Soak: subscribes the venue never answers leave nothing behind once released, on a link that never ends.

Bybit's connections have no lifetime, so nothing but the release itself can forget a request
id whose ack was lost: each one would stay for the life of the process.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import Timeout
from lotusx.testing import FakeClock
from lotusx.ws import Heartbeat, ReconnectWs
from lotusx.ws.subscriptions import Registry
from tests.ws.test_reconnect import VenueWs, dialect, quiesce

CYCLES = 200


def unanswered(registry: Registry) -> int:
    """Request ids the registry still keeps for an answer."""
    return len(registry._requests)


class LosesAcks(VenueWs):
    """Acks every subscribe but those naming a stream that starts with ``lost``."""

    async def send(self, data: str | bytes) -> None:
        self.silent = any(stream.startswith("lost") for stream in orjson.loads(data).get("params", ()))
        await super().send(data)


async def test_released_unanswered_subscribes_are_forgotten() -> None:
    """A subscribe released before any answer came keeps no request id, however many there were."""
    registry = Registry()
    for i in range(CYCLES):
        stream = f"lost{i}"
        registry.acquire([stream])
        registry.request([stream])
        registry.release([stream])
    assert unanswered(registry) == 0


async def test_a_request_is_kept_while_one_of_its_streams_waits() -> None:
    """Releasing one stream of a request keeps the request for the stream still waiting on it."""
    registry = Registry()
    registry.acquire(["a", "b"])
    request_id = registry.request(["a", "b"])
    registry.release(["a"])
    assert registry.resolve(request_id, True) == []
    sub = registry.get("b")
    assert sub is not None and sub.acked


async def test_dropped_unanswered_subscribes_are_forgotten() -> None:
    """A subscribe dropped before any answer came keeps no request id."""
    registry = Registry()
    for i in range(CYCLES):
        stream = f"lost{i}"
        registry.acquire([stream])
        registry.request([stream])
        registry.drop([stream], RuntimeError("gone"))
    assert unanswered(registry) == 0


async def test_timed_out_then_unsubscribed_streams_leave_no_request_on_a_live_link() -> None:
    """Many subscribes that time out unanswered and are unsubscribed keep nothing on the one live link."""
    clock = FakeClock(auto_advance=False)
    venue = LosesAcks()
    ws = ReconnectWs(lambda: venue, dialect=dialect(), clock=clock, subscribe_timeout=1,
                     heartbeat=Heartbeat(interval=None, idle_timeout=1e9))
    async with ws:
        await ws.subscribe(["a"])
        for i in range(CYCLES):
            attempt = asyncio.create_task(ws.subscribe([f"lost{i}"]))
            await quiesce()
            await clock.advance(1)
            with pytest.raises(Timeout):
                await attempt
            await ws.unsubscribe([f"lost{i}"])
        assert ws.stats.reconnects == 0 and ws.stats.streams == 1
        assert unanswered(ws._running().registry) == 0

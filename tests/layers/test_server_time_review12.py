"""ServerClock against garbled server times: a reading no clock can show fails the sync, it never becomes the offset."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lotusx.kernel.errors import ConnectError, DecodeError
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.clock import ClockSync, ServerClock
from lotusx.testing import FakeClock, FakeTransport


class Readings:
    """A time endpoint answering with ``readings`` in turn (a venue's, or a custom fetch's, raw numbers)."""

    def __init__(self, *readings: Any) -> None:
        self.readings = list(readings)

    async def server_ms(self) -> int:
        reading: int = self.readings.pop(0)
        return reading


async def test_a_nan_server_time_keeps_the_last_good_offset() -> None:
    """A NaN reading fails the refresh as a garbled answer: the offset and the clock stay finite."""
    clock = FakeClock()
    venue = Readings(round(clock.time() * 1000) + 2000, math.nan)
    server_clock = ServerClock(venue.server_ms, clock, samples=1, refresh=60.0)
    await server_clock.ensure_fresh()
    await clock.sleep(60.0)
    await server_clock.ensure_fresh()
    assert server_clock.offset == pytest.approx(2.0) and math.isfinite(server_clock.time())


async def test_a_server_time_too_long_for_a_float_is_a_decode_error() -> None:
    """A reading of 400 digits (msgspec decodes any length of integer) is a DecodeError, not an OverflowError."""
    server_clock = ServerClock(Readings(10**400).server_ms, FakeClock(), samples=1)
    with pytest.raises(DecodeError, match="server time"):
        await server_clock.sync()


async def test_a_first_sync_on_an_infinite_server_time_says_the_request_was_not_sent() -> None:
    """ClockSync turns the garbled first reading into a ConnectError: the signed request never left."""
    transport = FakeTransport(lambda request: Response(status=200, body=b"{}"))
    service = ClockSync(ServerClock(Readings(math.inf).server_ms, FakeClock(), samples=1))(transport)
    signed = Endpoint("new_order", method="POST", path="/api/v3/order", signed=True)
    with pytest.raises(ConnectError, match="first clock sync failed"):
        await service(Request(method="POST", path="/api/v3/order", endpoint=signed))
    assert transport.requests == []

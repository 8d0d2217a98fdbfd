"""A clock sample's round trip starts when it leaves for the venue, not when it began waiting for rate-limit room."""

from __future__ import annotations

import pytest

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.layers import Pool
from lotusx.testing import FakeClock, FakeTransport

SKEW = 2.0  # the venue's clock runs this far ahead of ours
RECV_WINDOW_MS = 5000


def binance(clock: FakeClock) -> FakeTransport:
    """Binance's time endpoint and its timestamp rule (-1021 outside it), answering instantly."""
    def answer(request: Request) -> Response:
        server_ms = (clock.time() + SKEW) * 1000
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": %d}' % round(server_ms))
        timestamp = int(dict(request.query)["timestamp"])
        if not server_ms - RECV_WINDOW_MS <= timestamp < server_ms + 1000:
            return Response(status=400, body=b'{"code": -1021, "msg": "Timestamp for this request is outside of '
                                             b'the recvWindow."}')
        return Response(status=200, body=b'{"balances": []}')

    return FakeTransport(answer)


async def test_samples_that_each_waited_for_rate_limit_room_still_measure_the_venue_offset() -> None:
    """Under a saturated budget every sample waits its turn; the wait is not half a round trip of skew."""
    clock = FakeClock()
    budget = {"RAW_REQUESTS": [Pool("RAW_REQUESTS", 1, 10)]}  # every call waits ~10 s for the next window
    credentials = lotusx.Credentials("review16-api-key-0123456789", "review16-secret")
    async with lotusx.connect("binance", credentials=credentials, transport=binance(clock), clock=clock,
                              rate_limits=budget) as ex:
        await ex.get_balances()
        assert ex.parts.clock.offset == pytest.approx(SKEW, abs=0.01)

"""``get_order_history`` without ``until`` ends its window at the venue's now, even on a connector's first call.

Its default ``until`` was read off the connector's clock before the call synced it: on the first
call after connect that is this machine's time, and with a venue clock ahead the window ended
before the newest orders (an order placed a second ago was missing from the history).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport
from lotusx.venue import LIST_SLACK_MS

NOW_MS = 1_700_000_000_000
SKEW_MS = 3_600_000  # the venue's clock an hour ahead of this machine's
CREDS = lotusx.Credentials(api_key="test-key-0001", secret="test-secret-0001")


def _venue(clock: FakeClock, time_path: str, time_body: object, rows: bytes) -> FakeTransport:
    def handle(request: Request) -> Response:
        if request.path == time_path:
            return Response(status=200, body=orjson.dumps(time_body))
        return Response(status=200, body=rows)

    return FakeTransport(handle)


def _end(transport: FakeTransport, path: str) -> int | None:
    """The last window's end asked of ``path``; ``None`` when no window was asked at all."""
    ends = [int(dict(parse_qsl(r.query_string))["endTime"]) for r in transport.requests if r.path == path]
    return max(ends, default=None)


async def test_binance_history_ends_at_the_venue_now_on_the_first_call() -> None:
    """Binance allOrders' last window ends at the venue's time (and its slack), not this machine's."""
    clock = FakeClock(NOW_MS / 1000)
    transport = _venue(clock, "/api/v3/time", {"serverTime": NOW_MS + SKEW_MS}, b"[]")
    async with lotusx.connect("binance", credentials=CREDS, clock=clock, transport=transport) as ex:
        await ex.get_order_history("BTCUSDT", since=NOW_MS + SKEW_MS - 60_000)
    assert _end(transport, "/api/v3/allOrders") == NOW_MS + SKEW_MS + LIST_SLACK_MS


async def test_bybit_history_ends_at_the_venue_now_on_the_first_call() -> None:
    """Bybit order/history's last window ends at the venue's time (and its slack), not this machine's."""
    clock = FakeClock(NOW_MS / 1000)
    nano = (NOW_MS + SKEW_MS) * 1_000_000
    time_body = {"retCode": 0, "retMsg": "OK", "result": {"timeSecond": str(nano // 10**9), "timeNano": str(nano)},
                 "time": NOW_MS + SKEW_MS}
    rows = orjson.dumps({"retCode": 0, "retMsg": "OK", "result": {"list": [], "nextPageCursor": ""},
                         "time": NOW_MS + SKEW_MS})
    transport = _venue(clock, "/v5/market/time", time_body, rows)
    async with lotusx.connect("bybit", credentials=CREDS, clock=clock, transport=transport) as ex:
        await ex.get_order_history("BTCUSDT", since=NOW_MS + SKEW_MS - 60_000)
    assert _end(transport, "/v5/order/history") == NOW_MS + SKEW_MS + LIST_SLACK_MS

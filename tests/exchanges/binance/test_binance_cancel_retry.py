"""A cancel retried after its answer was lost: -2011 'Unknown order sent.' for an order this call cancelled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.kernel import errors as e
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

KEY, SECRET = "test-key-0001", "test-secret-0001"
NOW_MS = 1_700_000_000_000
ORDER = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "cid-1", "price": "50000.00000000",
         "origQty": "0.01000000", "executedQty": "0.00000000", "status": "NEW", "timeInForce": "GTC",
         "type": "LIMIT", "side": "BUY"}
UNKNOWN = Response(status=400, body=orjson.dumps({"code": -2011, "msg": "Unknown order sent."}))


def venue(cancel: Callable[[], Response], status: str) -> Callable[[Request], Response]:
    """DELETE /api/v3/order answers ``cancel()``; GET /api/v3/order shows the order in ``status``."""

    def handle(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
        if request.method == "DELETE":
            return cancel()
        return Response(status=200, body=orjson.dumps(ORDER | {"status": status}))

    return handle


def lost_then_unknown() -> Callable[[], Response]:
    """The first cancel is done but its answer is lost; the retry finds no order to cancel."""
    sent: list[None] = []

    def cancel() -> Response:
        sent.append(None)
        if len(sent) == 1:
            raise e.Timeout("DELETE /api/v3/order: no answer")
        return UNKNOWN

    return cancel


def connect(handler: Callable[[Request], Response]) -> tuple[Any, FakeTransport]:
    transport = FakeTransport(handler)
    return lotusx.connect("binance", credentials=Credentials(KEY, SECRET), transport=transport,
                          clock=FakeClock(NOW_MS / 1000)), transport


async def test_cancel_whose_answer_was_lost_returns_the_cancelled_order() -> None:
    """A retried cancel meeting -2011 returns the order when the venue shows it CANCELED."""
    conn, transport = connect(venue(lost_then_unknown(), "CANCELED"))
    async with conn as ex:
        cancelled = await ex.cancel_order("BTCUSDT", order_id=7)
    deletes = [r for r in transport.requests if r.method == "DELETE"]
    assert (cancelled.status, len(deletes)) == ("CANCELED", 2)


async def test_cancel_of_a_filled_order_is_still_not_found() -> None:
    """-2011 for an order that filled (not cancelled) stays NotFound."""
    conn, _ = connect(venue(lambda: UNKNOWN, "FILLED"))
    async with conn as ex:
        with pytest.raises(e.NotFound):
            await ex.cancel_order("BTCUSDT", order_id=7)

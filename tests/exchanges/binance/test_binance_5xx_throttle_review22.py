"""A Binance 5xx carrying a throttle code (-1003, -1015) is still "execution status UNKNOWN".

rest-api.md, HTTP Return Codes: "HTTP 5XX return codes are used for internal errors ... It is
important to NOT treat this as a failure operation; the execution status is UNKNOWN and could
have been a success." A throttle reads as "refused, send again": under a 5xx it is no such proof.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx.exchanges.binance.errors import classify, ws_api_error
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.layers.retry import may_have_executed
from lotusx.models import NewOrder
from lotusx.testing import FakeClock, FakeTransport

NOW_MS = 1_700_000_000_000
ORDER = Request(method="POST", path="/api/v3/order")
QUEUED = {"code": -1003, "msg": "Too many requests queued."}
FILLED = {"symbol": "BTCUSDT", "orderId": 9, "clientOrderId": "mm-503", "price": "0.00000000",
          "origQty": "0.01000000", "executedQty": "0.01000000", "cummulativeQuoteQty": "500.00000000",
          "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "BUY"}


@pytest.mark.parametrize(("status", "body"), [
    (503, QUEUED),
    (500, {"code": -1015, "msg": "Too many new orders; current limit is 100 orders per 10 SECOND."}),
])
def test_a_5xx_with_a_throttle_code_is_a_server_error(status: int, body: dict[str, object]) -> None:
    """A throttle code under a 5xx is a ServerError (may have executed), never a RateLimited refusal."""
    error = classify(ORDER, Response(status=status, body=orjson.dumps(body)))
    assert type(error) is e.ServerError and may_have_executed(error)


def test_a_ws_api_5xx_with_a_throttle_code_is_a_server_error() -> None:
    """The WebSocket API's answers follow the REST rule: a 5xx with -1003 is a ServerError."""
    assert type(ws_api_error("order.place", 503, -1003, "Too many requests queued.")) is e.ServerError


async def test_a_placement_answered_503_throttle_is_looked_up_not_sent_again() -> None:
    """POST /api/v3/order answered 503 -1003 is reconciled by client id; the order found is the answer, sent once."""
    def venue(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
        if request.method == "POST":  # it executed, but the gateway answered 503
            return Response(status=503, body=orjson.dumps(QUEUED))
        return Response(status=200, body=orjson.dumps(FILLED))

    transport = FakeTransport(venue)
    async with lotusx.connect("binance", credentials=lotusx.Credentials(api_key="k" * 64, secret="s" * 64),
                              transport=transport, clock=FakeClock(NOW_MS / 1000)) as ex:
        order = await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET",
                                              quantity=Decimal("0.01"), client_order_id="mm-503"))
    posts = [r for r in transport.requests if r.method == "POST"]
    assert (order.status, len(posts)) == ("FILLED", 1)

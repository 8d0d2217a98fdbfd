"""Binance: the unfilled order count (ORDERS) is the account's limit, apart from the IP's request weight.

rest-api.md "Unfilled Order Count": "If you have exceeded this, you will receive a 429 error
with the Retry-After header" (errors.md -1015 TOO_MANY_ORDERS). The calls that place no order
(a cancel above all) are not held back by it.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx.kernel.errors import RateLimited
from lotusx.kernel.message import Request, Response
from lotusx.models import NewOrder
from lotusx.testing import FakeClock, FakeTransport

CANCELLED = {"symbol": "BTCUSDT", "origClientOrderId": "mm-1", "orderId": 4, "orderListId": -1,
             "clientOrderId": "cancel-1", "transactTime": 1_700_000_000_000, "price": "100.00000000",
             "origQty": "1.00000000", "executedQty": "0.00000000", "origQuoteOrderQty": "0.00000000",
             "cummulativeQuoteQty": "0.00000000", "status": "CANCELED", "timeInForce": "GTC", "type": "LIMIT",
             "side": "BUY", "selfTradePreventionMode": "NONE"}


def venue(request: Request) -> Response:
    """Every new order over the account's order limit; every cancel accepted."""
    if request.path == "/api/v3/time":
        return Response(status=200, body=orjson.dumps({"serverTime": 1_700_000_000_000}))
    if request.method == "POST":
        body = {"code": -1015, "msg": "Too many new orders; current limit is 200000 orders per 1 DAY."}
        return Response(status=429, body=orjson.dumps(body), headers={"Retry-After": "3600"})
    return Response(status=200, body=orjson.dumps(CANCELLED))


async def test_a_cancel_is_not_held_back_by_the_order_limit() -> None:
    """After a -1015 refusal of a new order, a cancel still goes out at once."""
    transport = FakeTransport(venue)
    async with lotusx.connect("binance", credentials=lotusx.Credentials(api_key="k" * 64, secret="s" * 64),
                              transport=transport, clock=FakeClock(1_700_000_000), max_wait=0) as ex:
        with pytest.raises(RateLimited):
            await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                          price=Decimal(100), client_order_id="mm-2"))
        cancelled = await ex.cancel_order("BTCUSDT", client_order_id="mm-1")
    assert cancelled.status == "CANCELED"

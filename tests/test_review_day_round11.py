"""Review of the round-11 day's change: defects proven by failing tests."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import AmbiguousOrderState
from lotusx.kernel.message import Request, Response
from lotusx.models import NewOrder
from lotusx.testing import FakeClock, FakeTransport

NOW_MS = 1_700_000_000_000


async def test_a_binance_placement_in_doubt_meeting_a_filled_order_under_its_id_is_ambiguous() -> None:
    """-1007 (execution unknown), then the id's older FILLED order at another price: AmbiguousOrderState, no duplicate.

    Binance takes a client id again once its order is filled, so the order asked for may still be
    placed (it may be in the venue's backend): reporting it refused would invite a second one.
    """
    older = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "mm-bid-1", "price": "50000.00000000",
             "origQty": "0.01000000", "executedQty": "0.01000000", "status": "FILLED", "timeInForce": "GTC",
             "type": "LIMIT", "side": "BUY", "time": NOW_MS - 60_000, "updateTime": NOW_MS - 59_000}

    def handle(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
        if request.method == "POST":
            return Response(status=500, body=orjson.dumps(
                {"code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown; "
                                       "execution status unknown."}))
        return Response(status=200, body=orjson.dumps(older))

    transport = FakeTransport(handle)
    async with lotusx.connect("binance", credentials=Credentials("test-key-0001", "test-secret-0001"),
                              transport=transport, clock=FakeClock(NOW_MS / 1000)) as ex:
        with pytest.raises(AmbiguousOrderState) as raised:
            await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                          quantity=Decimal("0.01"), price=Decimal("49990"),
                                          client_order_id="mm-bid-1"))
    assert raised.value.client_order_id == "mm-bid-1"
    assert len([r for r in transport.requests if r.method == "POST"]) == 1


async def test_the_bybit_clock_samples_non_ascii_digits_in_time_nano_as_a_decode_error() -> None:
    """timeNano '¹²³' passes str.isdigit() but not int(): a DecodeError, as get_server_time raises, not a ValueError."""
    from lotusx.exchanges.bybit import server_time
    from lotusx.kernel.errors import DecodeError

    transport = FakeTransport(lambda request: Response(status=200, body=orjson.dumps(
        {"retCode": 0, "retMsg": "OK", "result": {"timeSecond": "1", "timeNano": "\u00b9\u00b2\u00b3"}})))
    with pytest.raises(DecodeError, match="whole number"):
        await server_time(transport)

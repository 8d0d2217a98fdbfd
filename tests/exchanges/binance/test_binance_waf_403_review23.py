"""A Binance HTTP 403 is the Web Application Firewall blocking the IP, not a refused key.

rest-api.md, HTTP Return Codes: "HTTP 403 return code is used when a WAF (Web Application
Firewall) rule has been violated. This can indicate a rate limit violation or a security block."
web-socket-api.md gives the WebSocket API's ``status`` 403 the same meaning. A key Binance
refuses is a 401 (-2014, -2015) or a 400 with -1022.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx.exchanges.binance.errors import classify, ws_api_error
from lotusx.exchanges.binance.schemas import ApiError
from lotusx.exchanges.binance.streams import Answer, subscribed
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.layers.retry import may_have_executed
from lotusx.models import NewOrder
from lotusx.testing import FakeClock, FakeTransport

NOW_MS = 1_700_000_000_000
ORDER = Request(method="POST", path="/api/v3/order")
WAF_PAGE = b"<html><body>403 Forbidden</body></html>"
NEW = {"symbol": "BTCUSDT", "orderId": 9, "clientOrderId": "mm-waf", "price": "1.00000000",
       "origQty": "0.01000000", "executedQty": "0.00000000", "cummulativeQuoteQty": "0.00000000",
       "status": "NEW", "timeInForce": "GTC", "type": "LIMIT", "side": "BUY"}


@pytest.mark.parametrize("body", [WAF_PAGE, b"", b'{"code": -1003, "msg": "blocked"}', b'{"message": "no code"}'])
def test_a_403_is_an_ip_ban_not_an_authentication_error(body: bytes) -> None:
    """A 403, whatever its body, is IpBanned: a throttle on the IP to wait out, never "fix your keys"."""
    error = classify(ORDER, Response(status=403, body=body))
    assert type(error) is e.IpBanned and error.status == 403
    assert not may_have_executed(error)


def test_a_403_carries_its_retry_after() -> None:
    """A 403's Retry-After is the cool-off the limiter and Retry honour."""
    error = classify(ORDER, Response(status=403, body=WAF_PAGE, headers={"Retry-After": "300"}))
    assert isinstance(error, e.IpBanned) and error.retry_after == 300.0


def test_a_401_stays_an_authentication_error() -> None:
    """A 401 without a code is still a refused key."""
    assert type(classify(ORDER, Response(status=401, body=WAF_PAGE))) is e.AuthenticationError


def test_a_ws_api_403_is_an_ip_ban() -> None:
    """The WebSocket API's status 403 is the same WAF block: IpBanned, whatever its code."""
    assert type(ws_api_error("order.place", 403, -1000, "blocked")) is e.IpBanned


def test_a_user_stream_subscription_answered_403_is_tried_again_not_ended() -> None:
    """A WAF 403 to the user stream's subscription is a throttle, never a rejection that ends the stream."""
    answer = Answer(id=1, status=403, error=ApiError(code=-1000, msg="blocked"))
    assert type(subscribed(answer)) is e.IpBanned


def venue(blocked: int, retry_after: str | None = None) -> FakeTransport:
    """Binance whose WAF answers the first ``blocked`` placements 403; a placement after them is NEW."""
    posts = 0

    def answer(request: Request) -> Response:
        nonlocal posts
        if request.path == "/api/v3/time":
            return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
        if request.method != "POST":
            raise AssertionError(f"unexpected {request.method} {request.path}")
        posts += 1
        if posts <= blocked:
            return Response(status=403, body=WAF_PAGE, headers={"Retry-After": retry_after} if retry_after else {})
        return Response(status=200, body=orjson.dumps(NEW))

    return FakeTransport(answer)


async def place(transport: FakeTransport) -> lotusx.Order:
    async with lotusx.connect("binance", credentials=lotusx.Credentials(api_key="k" * 64, secret="s" * 64),
                              transport=transport, clock=FakeClock(NOW_MS / 1000)) as ex:
        return await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=Decimal("1"),
                                             quantity=Decimal("0.01"), client_order_id="mm-waf"))


async def test_a_placement_blocked_for_a_moment_is_sent_again_without_a_lookup() -> None:
    """A placement answered 403 never reached the engine: after its Retry-After it goes again, not looked up."""
    transport = venue(blocked=1, retry_after="1")
    order = await place(transport)
    sent = [r for r in transport.requests if r.path == "/api/v3/order"]
    assert (order.status, [r.method for r in sent]) == ("NEW", ["POST", "POST"])
    assert [dict(r.query)["newClientOrderId"] for r in sent] == ["mm-waf", "mm-waf"]


async def test_a_placement_blocked_for_longer_ends_in_ip_banned_not_ambiguous() -> None:
    """A block longer than the limiter waits ends in IpBanned: a definite refusal, the order never looked up."""
    transport = venue(blocked=10)
    with pytest.raises(e.IpBanned):
        await place(transport)
    assert [r.method for r in transport.requests if r.path == "/api/v3/order"] == ["POST"]

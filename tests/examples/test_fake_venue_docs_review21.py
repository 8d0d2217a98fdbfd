"""README's "a whole connector runs offline on a fake venue", followed for a signed call."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import lotusx
from lotusx import Request, Response, Service, around
from lotusx.testing import FakeTransport

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
PLACED = (b'{"symbol":"BTCUSDT","orderId":1,"clientOrderId":"x","transactTime":1,"price":"45000","origQty":"0.01",'
          b'"executedQty":"0","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY"}')


def time_path_and_body() -> tuple[str, bytes]:
    """The server-time answer the README tells a fake venue to give, e.g. `/api/v3/time` with `{"serverTime": <ms>}`."""
    paragraph = README[README.index("A whole connector runs offline on a fake venue"):]
    found = re.search(r"answer `(/[^`]+)`\s+with\s+`(\{[^`]+\})`", paragraph[:800])
    assert found, "the README does not say what a fake venue answers for the clock sync of a signed call"
    return found.group(1), found.group(2).replace("<ms>", "1700000000000").encode()


async def desk_tag(request: Request, call_next: Service) -> Response:
    return await call_next(request.with_headers(("X-Desk", "mm-1")))


async def test_a_signed_order_on_a_fake_venue_answered_as_the_readme_says() -> None:
    """A handler routing by request.path, answering the time path as told: the order is placed, signed."""
    time_path, time_body = time_path_and_body()

    def handler(request: Request) -> Response:
        return Response(status=200, body=time_body if request.path == time_path else PLACED)

    transport = FakeTransport(handler)
    creds = lotusx.Credentials(api_key="review21-key-0001", secret="review21-secret-0001")
    async with lotusx.connect("binance", credentials=creds, transport=transport, outer=[around(desk_tag)]) as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                                     quantity=Decimal("0.01"), price=Decimal("45000")))
    assert order.status == "NEW"
    placed = [r for r in transport.requests if r.path == "/api/v3/order"]
    assert placed and "signature" in dict(placed[0].query) and placed[0].header("X-Desk") == "mm-1"

"""Binance account, review 12: balances ordered by the account update time ``u``; a MARKET order's size reconciled."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.binance.streams import USER_DIALECT, user_frames
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import AmbiguousOrderState
from lotusx.kernel.message import Request, Response
from lotusx.metrics import Metrics
from lotusx.models import NewOrder, Order
from lotusx.testing import FakeClock, FakeTransport
from tests.exchanges.binance import test_binance_encoding as encoding
from tests.exchanges.binance import test_binance_streams as scripted
from tests.exchanges.binance.test_binance_encoding import LOCAL_MS, SERVER_MS, ok
from tests.exchanges.binance.test_binance_streams import PAYLOADS, Venue

# The scripted venue of test_binance_streams and a connector pointed at it.
venue, metrics, ex = scripted.venue, scripted.metrics, scripted.ex


def position(u: int, asset: str, free: str) -> dict[str, Any]:
    """An outboundAccountPosition (user-data-stream.md "Account Update") of one asset at account time ``u``."""
    return {"e": "outboundAccountPosition", "E": u + 5, "u": u, "B": [{"a": asset, "f": free, "l": "0.00000000"}]}


async def test_a_position_older_than_the_last_of_its_asset_is_dropped(ex: Binance, venue: Venue) -> None:
    """A position that arrives after a newer one (a rotation's old connection) does not put BTC back to 1."""
    venue.user = [[position(200, "BTC", "2"), position(100, "BTC", "1"), position(300, "ETH", "5")]]
    changes = ex.watch_balances()
    try:
        got = [await asyncio.wait_for(anext(changes), 5.0) for _ in range(2)]
    finally:
        await changes.aclose()  # type: ignore[attr-defined]
    assert [{asset: b.free for asset, b in change.items()} for change in got] == [{"BTC": 2}, {"ETH": 5}]


LOST = ok({"code": -1001, "msg": "Internal error; unable to process your request."}, 503)
# GET /api/v3/order of a MARKET order placed just now (rest-api.md "Query order"), filled.
FILLED_MARKET = {"symbol": "BTCUSDT", "orderId": 8, "clientOrderId": "m-1", "price": "0.00000000",
                 "origQty": "0.50000000", "executedQty": "0.50000000", "origQuoteOrderQty": "0.000000",
                 "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "BUY", "time": SERVER_MS + 1,
                 "updateTime": SERVER_MS + 1}


async def reconciled(found: dict[str, Any], asked: NewOrder) -> Order:
    """``asked`` placed; its answer lost (503); the reconcile by client id finds ``found``."""
    def answer(request: Request) -> Response:
        if request.path == "/api/v3/order":
            return LOST if request.method == "POST" else ok(found)
        return encoding.Venue()(request)

    async with lotusx.connect("binance", credentials=Credentials(encoding.KEY, encoding.SECRET),
                              transport=FakeTransport(answer), clock=FakeClock(LOCAL_MS / 1000)) as binance:
        return await binance.place_order(asked)


BY_QUANTITY = NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.5"), client_order_id="m-1")


async def test_a_market_order_found_sized_by_a_quote_amount_is_not_the_one_asked_by_quantity() -> None:
    """Asked for 0.5 BTC, the id names a filled order for 10 USDT: not this placement (a closed order: ambiguous)."""
    quote_sized = FILLED_MARKET | {"origQty": "0.00021000", "executedQty": "0.00021000",
                                   "origQuoteOrderQty": "10.00000000"}
    with pytest.raises(AmbiguousOrderState, match="a closed order"):
        await reconciled(quote_sized, BY_QUANTITY)


async def test_a_market_order_found_as_asked_is_the_placement() -> None:
    """Asked for 0.5 BTC, the id names this moment's filled order for 0.5 BTC: it is the result."""
    order = await reconciled(FILLED_MARKET, BY_QUANTITY)
    assert (order.order_id, order.status, order.quantity) == ("8", "FILLED", Decimal("0.5"))


def test_two_positions_of_one_millisecond_are_two_events() -> None:
    """Two account updates sent in the same millisecond, with other balances: neither is dropped as a repeat."""
    identity = USER_DIALECT.identity
    assert identity is not None
    first, second = (user_event(position(100, "BTC", free)) for free in ("2", "1"))
    assert identity(first) != identity(second)
    assert identity(first) == identity(user_event(position(100, "BTC", "2.0")))  # the same state: a repeat


def user_event(event: dict[str, Any]) -> Any:
    (message,) = user_frames(Metrics()).run(orjson.dumps({"subscriptionId": 0, "event": event}).decode())
    return message


def test_two_amendments_of_one_order_in_one_millisecond_are_two_events() -> None:
    """Two REPLACED reports (order amend keep priority) differ in their quantity alone: neither is dropped."""
    identity = USER_DIALECT.identity
    assert identity is not None
    report = orjson.loads((PAYLOADS / "ws_execution_report.json").read_bytes()) | {"x": "REPLACED"}
    first, second = (user_event(report | {"q": quantity}) for quantity in ("0.9", "0.8"))
    assert identity(first) != identity(second)

"""Bybit watch_fills: the private ``execution`` stream's fills, decoded from pushes shaped as the docs' example.

docs/v5/websocket/private/execution.mdx "Stream Example" (a linear Trade); the Funding push is that
example with the fields a funding fee changes (docs/v5/enum.mdx "execType": Funding).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from aiohttp import web
from bybit_helpers import acking_private, private_venue

import lotusx
from lotusx.models import Fill
from tests.conftest import ServeApp

# docs/v5/websocket/private/execution.mdx "Stream Example", its one row
TRADE: dict[str, Any] = {
    "category": "linear", "symbol": "BTCUSDT", "closedSize": "0.5", "execFee": "26.3725275",
    "execId": "0ab1bdf7-4219-438b-b30a-32ec863018f7", "execPrice": "95900.1", "execQty": "0.5", "execType": "Trade",
    "execValue": "47950.05", "feeRate": "0.00055", "tradeIv": "", "markIv": "", "blockTradeId": "",
    "markPrice": "95901.48", "indexPrice": "", "underlyingPrice": "", "leavesQty": "0",
    "orderId": "9aac161b-8ed6-450d-9cab-c5cc67c21784", "orderLinkId": "", "orderPrice": "94942.5", "orderQty": "0.5",
    "orderType": "Market", "stopOrderType": "UNKNOWN", "side": "Sell", "execTime": "1746270400353",
    "isLeverage": "0", "isMaker": False, "seq": 140612148849382, "marketUnit": "", "execPnl": "0.05",
    "createType": "CreateByUser",
    "extraFees": [{"feeCoin": "USDT", "feeType": "GST", "subFeeType": "IND_GST", "feeRate": "0.0000675",
                   "fee": "0.006403779"}],
    "feeCurrency": "USDT"}
FUNDING = TRADE | {"execType": "Funding", "execId": "5bd7d4b2-4b83-4c4b-9ad8-0b1b1cfbd3a1", "orderType": "UNKNOWN",
                   "orderId": "1746270400000-funding", "execFee": "0.5", "feeRate": "0.0001", "closedSize": "0"}


def push(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"topic": "execution", "id": "386825804_BTCUSDT_140612148849382", "creationTime": 1746270400355,
            "data": list(rows)}


class Venue:
    """A private stream that takes any login and subscription, then sends ``pushes``."""

    def __init__(self, *pushes: dict[str, Any]) -> None:
        self.pushes = pushes

    def app(self) -> web.Application:
        return private_venue(acking_private(*self.pushes))


async def first_fill(serve_app: ServeApp, spec: str, venue: Venue) -> Fill:
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect(spec, credentials=lotusx.Credentials(api_key="k", secret="s"), rest_url=base,
                              ws_url=base.replace("http", "ws")) as ex:
        fills: AsyncIterator[Fill] = aiter(ex.watch_fills())
        try:
            return await asyncio.wait_for(anext(fills), 5.0)
        finally:
            await fills.aclose()  # type: ignore[attr-defined]


async def test_a_trade_execution_is_a_fill_with_the_venue_s_exact_figures(serve_app: ServeApp) -> None:
    """The docs' linear Trade: execId, orderId, price, quantity, fee and its coin, maker flag, execTime."""
    fill = await first_fill(serve_app, "bybit-linear", Venue(push(TRADE)))
    assert fill == Fill(trade_id="0ab1bdf7-4219-438b-b30a-32ec863018f7",
                        order_id="9aac161b-8ed6-450d-9cab-c5cc67c21784", client_order_id=None, symbol="BTCUSDT",
                        side="SELL", price=Decimal("95900.1"), quantity=Decimal("0.5"), fee=Decimal("26.3725275"),
                        fee_asset="USDT", maker=False, timestamp=1746270400353)
    assert all(type(v) is Decimal for v in (fill.price, fill.quantity, fill.fee))


async def test_a_funding_fee_is_no_fill(serve_app: ServeApp) -> None:
    """A Funding execution trades nothing: passed over, the first fill is the Trade after it."""
    fill = await first_fill(serve_app, "bybit-linear", Venue(push(FUNDING), push(TRADE)))
    assert fill.trade_id == TRADE["execId"]


async def test_executions_of_another_category_are_not_this_connector_s(serve_app: ServeApp) -> None:
    """The all-in-one topic carries every category: a spot connector passes over the linear execution."""
    spot = TRADE | {"category": "spot", "execId": "2100000000054321987", "orderId": "1900000000012345678",
                    "feeCurrency": "BTC", "side": "Buy"}
    fill = await first_fill(serve_app, "bybit", Venue(push(TRADE), push(spot)))
    assert (fill.trade_id, fill.side, fill.fee_asset) == ("2100000000054321987", "BUY", "BTC")

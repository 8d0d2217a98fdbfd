"""Binance watch_fills: executionReport TRADE events as fills, and the ones a gap hid from GET /api/v3/myTrades.

Payloads are the docs' examples (user-data-stream.md "Order Update", rest-api.md "Account trade
list"), changed only where a test says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from lotusx.exchanges.binance import Binance
from lotusx.kernel.errors import ConfigError
from lotusx.models import Fill
from tests.exchanges.binance.test_binance_streams import TERMINATED, ServeApp, loopback, recorded
from tests.exchanges.binance.test_binance_streams import Venue as UserVenue

# user-data-stream.md "Order Update", as a trade: execution type TRADE, a trade id, the last fill's figures.
TRADE_REPORT = recorded("ws_execution_report.json", x="TRADE", X="PARTIALLY_FILLED", t=28457, l="0.25000000",
                        z="0.25000000", L="0.10264400", n="0.00012500", N="ETH", m=True, T=1499405658700)
NEW_REPORT = recorded("ws_execution_report.json")  # the docs' example as it is: execution type NEW
# rest-api.md "Account trade list" (the docs' example row)
MY_TRADE = {"symbol": "BNBBTC", "id": 28457, "orderId": 100234, "orderListId": -1, "price": "4.00000100",
            "qty": "12.00000000", "quoteQty": "48.000012", "commission": "10.10000000", "commissionAsset": "BNB",
            "time": 1499865549590, "isBuyer": True, "isMaker": False, "isBestMatch": True}


class Venue(UserVenue):
    """The scripted user data venue, with GET /api/v3/myTrades answering ``my_trades`` of the symbol asked."""

    def __init__(self) -> None:
        super().__init__()
        self.my_trades: dict[str, list[dict[str, Any]]] = {}
        self.trades_asked: list[str] = []

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/api/v3/myTrades", self.list_my_trades)
        return app

    async def list_my_trades(self, request: web.Request) -> web.Response:
        symbol = request.query["symbol"]
        self.trades_asked.append(symbol)
        return web.json_response(self.my_trades.get(symbol, []))


@pytest.fixture
def venue() -> Venue:
    """The scripted venue."""
    return Venue()


@pytest.fixture
async def ex(venue: Venue, serve_app: ServeApp) -> AsyncIterator[Binance]:
    """A connector pointed at the scripted venue over loopback."""
    async with loopback(venue.app(), serve_app) as connector:
        yield connector


async def taken(source: AsyncIterator[Fill], count: int) -> list[Fill]:
    """The first ``count`` fills of ``source`` within five seconds; the iterator is closed afterwards."""
    try:
        return [await asyncio.wait_for(anext(source), 5.0) for _ in range(count)]
    finally:
        await source.aclose()  # type: ignore[attr-defined]


async def test_a_trade_report_is_a_fill_with_the_venue_s_exact_figures(ex: Binance, venue: Venue) -> None:
    """t, i, c, s, S, L, l, n, N, m, T become the fill's fields, amounts as the exact decimals sent."""
    venue.user = [[TRADE_REPORT]]
    (fill,) = await taken(ex.watch_fills(), 1)
    assert fill == Fill(trade_id="28457", order_id="4293153", client_order_id="mUvoqJxFIILMdfAW5iGSOW",
                        symbol="ETHBTC", side="BUY", price=Decimal("0.10264400"), quantity=Decimal("0.25000000"),
                        fee=Decimal("0.00012500"), fee_asset="ETH", maker=True, timestamp=1499405658700)
    assert all(type(v) is Decimal for v in (fill.price, fill.quantity, fill.fee))


async def test_a_report_that_is_no_trade_yields_no_fill(ex: Binance, venue: Venue) -> None:
    """The docs' NEW report comes first and is passed over: the first fill is the TRADE after it."""
    venue.user = [[NEW_REPORT, TRADE_REPORT]]
    (fill,) = await taken(ex.watch_fills(), 1)
    assert fill.trade_id == "28457"


async def test_fills_hidden_by_a_gap_come_from_my_trades_on_every_symbol_known(ex: Binance, venue: Venue) -> None:
    """After a terminated subscription, myTrades is asked per named and seen symbol; its fill comes, then the stream."""
    venue.user = [[NEW_REPORT, TERMINATED], [TRADE_REPORT]]
    venue.my_trades = {"BNBBTC": [MY_TRADE]}
    missed, streamed = await taken(ex.watch_fills(["BNBBTC"]), 2)
    assert (missed.trade_id, missed.order_id, missed.symbol, missed.price, missed.fee, missed.fee_asset) == (
        "28457", "100234", "BNBBTC", Decimal("4.00000100"), Decimal("10.10000000"), "BNB")
    assert (streamed.symbol, streamed.order_id) == ("ETHBTC", "4293153")
    assert sorted(venue.trades_asked) == ["BNBBTC", "ETHBTC"]  # named, and seen in an order report


async def test_symbols_are_binance_s_upper_case_names(ex: Binance) -> None:
    """A str or a lower-case symbol is refused at once, as watch_orders refuses it."""
    with pytest.raises(ConfigError):
        await anext(aiter(ex.watch_fills("BTCUSDT")))
    with pytest.raises(ConfigError):
        await anext(aiter(ex.watch_fills(["btcusdt"])))

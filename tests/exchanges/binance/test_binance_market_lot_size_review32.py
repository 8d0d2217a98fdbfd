"""Binance MARKET_LOT_SIZE: a MARKET order is checked against its own cap (filters.md "MARKET_LOT_SIZE").

LOT_SIZE applies to every order and MARKET_LOT_SIZE to MARKET orders on top, so a MARKET order's cap is
the lower of the two maxQty (a 0 is no rule, as in LOT_SIZE).
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx import Instrument, NewOrder, OrderOutsideRules
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

D = Decimal


def _info(*market: dict[str, str]) -> bytes:
    return orjson.dumps({"timezone": "UTC", "serverTime": 1565246363776, "rateLimits": [], "exchangeFilters": [],
                         "symbols": [{
                             "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
                             "isSpotTradingAllowed": True,
                             "filters": [
                                 {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
                                  "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                                 {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
                                  "stepSize": "0.00001000"},
                                 *market]}]})


async def _instrument(*market: dict[str, str]) -> Instrument:
    body = _info(*market)

    def venue(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1565246363776}')
        return Response(status=200, body=body)

    async with lotusx.connect("binance", transport=FakeTransport(venue), clock=FakeClock(1_565_246_363.776)) as ex:
        return (await ex.get_instruments(["BTCUSDT"]))["BTCUSDT"]


def _order(type_: str, quantity: str) -> NewOrder:
    price = None if type_ == "MARKET" else D("50000")
    return NewOrder(symbol="BTCUSDT", side="BUY", type=type_, quantity=D(quantity), price=price)  # type: ignore[arg-type]


MARKET_LOT = {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "89.28000000",
              "stepSize": "0.00000000"}


async def test_a_market_order_over_the_market_lot_size_is_refused() -> None:
    """maxQty 89.28 for MARKET (LOT_SIZE allows 9000): a MARKET order of 100 is OrderOutsideRules."""
    rules = await _instrument(MARKET_LOT)
    assert rules.max_market_quantity == D("89.28")
    with pytest.raises(OrderOutsideRules, match="max_market_quantity"):
        rules.check(_order("MARKET", "100"))


async def test_a_limit_order_keeps_the_lot_size_cap() -> None:
    """The market cap is not a LIMIT order's: 100 at a price passes."""
    rules = await _instrument(MARKET_LOT)
    rules.check(_order("LIMIT", "100"))


async def test_the_lower_of_the_two_caps_binds_a_market_order() -> None:
    """A MARKET_LOT_SIZE above LOT_SIZE's: LOT_SIZE still applies to the MARKET order."""
    rules = await _instrument({**MARKET_LOT, "maxQty": "20000.00000000"})
    assert rules.max_market_quantity == D(9000)


async def test_no_market_lot_size_or_a_zero_cap_is_no_rule_of_its_own() -> None:
    """Absent, or maxQty 0: max_market_quantity None, and MARKET orders are held to LOT_SIZE."""
    assert (await _instrument()).max_market_quantity is None
    assert (await _instrument({**MARKET_LOT, "maxQty": "0.00000000"})).max_market_quantity is None

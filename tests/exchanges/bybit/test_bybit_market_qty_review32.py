"""A MARKET order's own quantity cap: Bybit states one apart from the limit order's (docs/v5/market/instrument.mdx).

Linear: ``maxOrderQty`` is the "Maximum quantity for Limit and PostOnly order", ``maxMktOrderQty`` the
"Maximum quantity for Market order"; spot: ``maxLimitOrderQty`` and ``maxMarketOrderQty``. The docs'
linear BTCUSDT example caps a limit order at 1190 and a market order at 500.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from bybit_helpers import KEY, NOW_MS, SECRET, Venue, answer, connect
from test_bybit_instruments_review25 import LINEAR, SPOT

import lotusx
from lotusx import Instrument, NewOrder, OrderOutsideRules
from lotusx.testing import FakeClock, FakeTransport

D = Decimal


async def linear_btc() -> Instrument:
    """BTCUSDT's rules as the docs' linear example states them."""
    clock = FakeClock(NOW_MS / 1000)
    transport = FakeTransport(Venue(clock, market_instruments_info=lambda request: answer(LINEAR)))
    async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                              clock=clock, transport=transport) as ex:
        return (await ex.get_instruments(["BTCUSDT"]))["BTCUSDT"]


async def spot_btc() -> Instrument:
    """BTCUSDT's rules as the docs' spot example states them."""
    conn, _ = connect(market_instruments_info=lambda request: answer(SPOT))
    async with conn as ex:
        return (await ex.get_instruments(["BTCUSDT"]))["BTCUSDT"]


async def test_linear_market_order_above_max_mkt_order_qty_is_outside_the_rules() -> None:
    """Linear: a MARKET order of 600 (maxMktOrderQty 500) is refused by check(), naming the market cap."""
    btc = await linear_btc()
    with pytest.raises(OrderOutsideRules) as refused:
        btc.check(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D(600)))
    assert (refused.value.rule, refused.value.allowed) == ("max_market_quantity", D(500))


async def test_linear_limit_order_keeps_the_limit_cap() -> None:
    """Linear: a LIMIT order of 600 is within maxOrderQty 1190; the market cap does not apply to it."""
    btc = await linear_btc()
    assert btc.max_market_quantity == D(500) and btc.max_quantity == D(1190)
    btc.check(NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=D(600), price=D(50000)))


async def test_spot_market_order_above_max_market_order_qty_is_outside_the_rules() -> None:
    """Spot: a MARKET order of 40 BTC (maxMarketOrderQty 35.86978121) is refused by check()."""
    btc = await spot_btc()
    with pytest.raises(OrderOutsideRules) as refused:
        btc.check(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D(40)))
    assert (refused.value.rule, refused.value.allowed) == ("max_market_quantity", D("35.86978121"))


def test_without_a_market_cap_max_quantity_holds_for_market_orders() -> None:
    """An instrument stating no market cap (Binance's) checks a MARKET order against max_quantity, as before."""
    rules = Instrument(symbol="BTCUSDT", base="BTC", quote="USDT", trading=True, max_quantity=D(10))
    with pytest.raises(OrderOutsideRules) as refused:
        rules.check(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D(11)))
    assert refused.value.rule == "max_quantity"

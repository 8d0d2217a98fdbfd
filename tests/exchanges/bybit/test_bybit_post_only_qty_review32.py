"""Bybit spot caps a post-only order apart, above a limit order (docs/v5/market/instrument.mdx, spot lotSizeFilter):
``maxLimitOrderQty`` "For post-only and RPI orders, the maximum limit order quantity is 5x", stated as
``postOnlyMaxLimitOrderSize`` "Maximum limit order size for Post-only and RPI orders"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bybit_helpers import answer, connect
from test_bybit_instruments_review25 import SPOT

from lotusx import Instrument, NewOrder, OrderOutsideRules

D = Decimal


async def spot_btc() -> Instrument:
    """BTCUSDT's rules as the docs' spot example states them (limit 71.73956243, post-only 358.69781215)."""
    conn, _ = connect(market_instruments_info=lambda request: answer(SPOT))
    async with conn as ex:
        return (await ex.get_instruments(["BTCUSDT"]))["BTCUSDT"]


async def test_a_post_only_order_above_the_limit_cap_is_within_the_rules() -> None:
    """A LIMIT_MAKER of 100 BTC (over maxLimitOrderQty, under postOnlyMaxLimitOrderSize) passes check()."""
    btc = await spot_btc()
    assert btc.max_post_only_quantity == D("358.69781215")
    btc.check(NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT_MAKER", quantity=D(100), price=D(100_000)))


async def test_a_limit_order_of_the_same_size_is_outside_the_rules() -> None:
    """A LIMIT of 100 BTC is over maxLimitOrderQty: refused by check(), naming max_quantity."""
    btc = await spot_btc()
    with pytest.raises(OrderOutsideRules) as refused:
        btc.check(NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=D(100), price=D(100_000)))
    assert refused.value.rule == "max_quantity"


async def test_a_post_only_order_above_its_own_cap_is_outside_the_rules() -> None:
    """A LIMIT_MAKER of 400 BTC is over postOnlyMaxLimitOrderSize: refused, naming max_post_only_quantity."""
    btc = await spot_btc()
    with pytest.raises(OrderOutsideRules) as refused:
        btc.check(NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT_MAKER", quantity=D(400), price=D(100_000)))
    assert (refused.value.rule, refused.value.allowed) == ("max_post_only_quantity", D("358.69781215"))

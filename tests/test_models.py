"""The unified models: what they refuse before anything reaches a venue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from lotusx import NewOrder, Withdrawal
from lotusx.kernel.errors import ConfigError


@pytest.mark.parametrize("fields", [
    {"type": "LIMIT", "price": Decimal("50000"), "quote_quantity": Decimal("100")},
    {"type": "LIMIT_MAKER", "price": Decimal("50000"), "quantity": Decimal("1"), "quote_quantity": Decimal("100")},
    {"type": "LIMIT", "price": Decimal("50000")},
    {"type": "MARKET"},
    {"type": "MARKET", "quantity": Decimal("1"), "quote_quantity": Decimal("100")},
])
def test_an_order_sized_the_wrong_way_is_refused(fields: dict[str, Any]) -> None:
    """quote_quantity sizes MARKET orders only (a Bybit Limit's qty is base coin: 100 USDT would buy 100 BTC)."""
    with pytest.raises(ConfigError, match="quantity"):
        NewOrder(symbol="BTCUSDT", side="BUY", **fields)


@pytest.mark.parametrize("fields", [
    {"type": "LIMIT", "price": Decimal("50000"), "quantity": Decimal("0.002")},
    {"type": "MARKET", "quantity": Decimal("0.002")},
    {"type": "MARKET", "quote_quantity": Decimal("100")},
])
def test_an_order_sized_one_right_way_is_accepted(fields: dict[str, Any]) -> None:
    """Each type takes its one sizing field."""
    assert NewOrder(symbol="BTCUSDT", side="BUY", **fields).symbol == "BTCUSDT"


@pytest.mark.parametrize(("fields", "says"), [
    ({"quantity": 0.01}, r"NewOrder.quantity is a float \(0.01\): money is exact, pass Decimal\('0.01'\)"),
    ({"price": 50000.5}, r"NewOrder.price is a float .* pass Decimal\('50000.5'\)"),
    ({"price": "50000"}, r"NewOrder.price must be a Decimal, got str '50000': pass Decimal\('50000'\)"),
    ({"quantity": Decimal(0)}, "NewOrder.quantity must be a positive, finite amount, got 0"),
    ({"price": Decimal("NaN")}, "NewOrder.price must be a positive, finite amount"),
    ({"price": None}, "a LIMIT order needs a price"),
    ({"side": "buy"}, "NewOrder.side must be one of 'BUY', 'SELL', got 'buy'"),
    ({"type": "limit"}, "NewOrder.type must be one of 'LIMIT', 'MARKET', 'LIMIT_MAKER'"),
    ({"time_in_force": "gtc"}, "NewOrder.time_in_force must be one of 'GTC', 'IOC', 'FOK'"),
])
def test_an_order_a_venue_would_misread_is_refused_with_what_to_pass(fields: dict[str, Any], says: str) -> None:
    """A float (a JSON body would carry it as is), a string, a lower-case side: a ConfigError saying what to pass."""
    order: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": Decimal("0.01"),
                             "price": Decimal("50000"), **fields}
    with pytest.raises(ConfigError, match=says):
        NewOrder(**order)


def test_an_int_amount_is_taken_as_the_exact_decimal_it_is() -> None:
    """``price=50000`` is exact: it becomes ``Decimal(50000)``, so every venue sends and echoes a Decimal."""
    order = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=1, price=50000)  # type: ignore[arg-type]
    assert (type(order.quantity), type(order.price)) == (Decimal, Decimal)
    assert order.price == Decimal(50000)


def test_a_withdrawal_amount_is_exact() -> None:
    """A float withdrawal amount is refused before it is sent; an int is taken as a Decimal."""
    with pytest.raises(ConfigError, match=r"Withdrawal.amount is a float .* pass Decimal\('10.5'\)"):
        Withdrawal(asset="USDT", address="T", amount=10.5)  # type: ignore[arg-type]
    assert Withdrawal(asset="USDT", address="T", amount=10).amount == Decimal(10)  # type: ignore[arg-type]


@pytest.mark.parametrize("price", [Decimal("50000"), Decimal(0)])
def test_a_market_order_with_a_price_is_refused_saying_it_takes_none(price: Decimal) -> None:
    """A MARKET order's price would not cap its fill (Binance refuses it, Bybit ignores it): refused up front."""
    with pytest.raises(ConfigError, match="MARKET order takes no price"):
        NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.01"), price=price)

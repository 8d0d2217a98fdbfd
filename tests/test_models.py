"""The unified models: what they refuse before anything reaches a venue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from lotusx import NewOrder
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

"""An order's amounts are checked for what a venue can read when the order is made, not when it is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.models import NewOrder, Withdrawal


@pytest.mark.parametrize("field", ["quantity", "price"])
@pytest.mark.parametrize("amount", [Decimal(1) / Decimal(3), Decimal("1E+21"), Decimal("1E+999999999999"),
                                    Decimal("1E-999999999999")])
def test_an_order_amount_no_venue_reads_is_refused_when_made(field: str, amount: Decimal) -> None:
    """A price or quantity past 20 whole or fraction digits (an unquantized division, say) is a ConfigError."""
    fields = {"quantity": Decimal(1), "price": Decimal(100), field: amount}
    with pytest.raises(ConfigError, match=rf"NewOrder\.{field}: .*digits"):
        NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", **fields)


def test_a_withdrawal_amount_no_venue_reads_is_refused_when_made() -> None:
    """A withdrawal of Decimal(1) / 7 is refused before it is sent."""
    with pytest.raises(ConfigError, match=r"Withdrawal\.amount: .*digits"):
        Withdrawal(asset="BTC", address="addr", amount=Decimal(1) / Decimal(7))


def test_trailing_zeros_past_twenty_digits_are_no_extra_digits() -> None:
    """Decimal('0.5000...0') with 30 zeros is the 0.5 it is."""
    order = NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=Decimal("0.5" + "0" * 30),
                     price=Decimal("12345678901234567890.12345678901234567890"))
    assert order.quantity == Decimal("0.5")

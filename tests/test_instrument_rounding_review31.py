"""Instrument.round_price / round_quantity take the same exact inputs NewOrder does, or say what to pass."""

from __future__ import annotations

from decimal import Decimal

import pytest

import lotusx
from lotusx import Instrument

D = Decimal
BTC = Instrument(symbol="BTCUSDT", base="BTC", quote="USDT", trading=True, tick_size=D("0.01"),
                 min_price=D("0.01"), max_price=D("1000000"), step_size=D("0.00001"), min_quantity=D("0.00001"),
                 max_quantity=D("9000"), min_notional=D("5"))


@pytest.mark.parametrize("side", ["buy", "sell", "Buy", "LONG", None])
def test_round_price_refuses_a_side_it_does_not_know(side: object) -> None:
    """A lower-case or unknown side is a ConfigError, not a BUY price rounded up as if it were a SELL."""
    with pytest.raises(lotusx.ConfigError, match="'BUY', 'SELL'"):
        BTC.round_price(D("45000.004"), side)  # type: ignore[arg-type]


def test_round_price_refuses_a_float_saying_what_to_pass() -> None:
    """A float price is the ConfigError NewOrder gives, not a bare TypeError from decimal."""
    with pytest.raises(lotusx.ConfigError, match=r"float \(45000\.004\): money is exact, pass Decimal\('45000\.004'\)"):
        BTC.round_price(45000.004, "BUY")  # type: ignore[arg-type]


def test_round_quantity_refuses_a_float_saying_what_to_pass() -> None:
    """A float quantity is a ConfigError naming the Decimal to pass."""
    with pytest.raises(lotusx.ConfigError, match=r"is a float \(0\.0123\): money is exact, pass Decimal\('0\.0123'\)"):
        BTC.round_quantity(0.0123)  # type: ignore[arg-type]


def test_round_price_still_rounds_each_side_its_own_way() -> None:
    """BUY down, SELL up: the check on the side changes nothing for a valid one."""
    assert (BTC.round_price(D("45000.004"), "BUY"), BTC.round_price(D("45000.004"), "SELL")) == (
        D("45000.00"), D("45000.01"))

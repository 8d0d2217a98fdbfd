"""Instrument: a symbol's trading rules, the exact rounding a quoting loop needs, and the check before sending."""

from __future__ import annotations

import pickle
from decimal import Decimal, localcontext

import msgspec
import pytest

import lotusx
from lotusx import Instrument, NewOrder, OrderOutsideRules

D = Decimal
BTC = Instrument(symbol="BTCUSDT", base="BTC", quote="USDT", trading=True, tick_size=D("0.01"),
                 min_price=D("0.01"), max_price=D("1000000"), step_size=D("0.00001"), min_quantity=D("0.00001"),
                 max_quantity=D("9000"), min_notional=D("5"))
"""The sim's BTCUSDT rules (lotusx.sim.venue.MARKETS), as a venue states them."""


def limit(price: str, quantity: str, side: str = "BUY") -> NewOrder:
    return NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", price=D(price), quantity=D(quantity))  # type: ignore[arg-type]


def refusal(order: NewOrder, instrument: Instrument = BTC) -> OrderOutsideRules:
    with pytest.raises(OrderOutsideRules) as caught:
        instrument.check(order)
    return caught.value


def test_instrument_is_public_frozen_and_refusal_is_a_config_error() -> None:
    """lotusx.Instrument is a frozen Struct; OrderOutsideRules is a ConfigError (a mistake caught before sending)."""
    assert "Instrument" in lotusx.__all__ and "OrderOutsideRules" in lotusx.__all__
    with pytest.raises(AttributeError):
        BTC.tick_size = D(1)  # type: ignore[misc]
    assert issubclass(OrderOutsideRules, lotusx.ConfigError)
    assert not issubclass(OrderOutsideRules, lotusx.VenueError)
    assert msgspec.json.decode(msgspec.json.encode(BTC), type=Instrument) == BTC


@pytest.mark.parametrize(("price", "side", "rounded"), [
    ("50000.123", "BUY", "50000.12"), ("50000.123", "SELL", "50000.13"),
    ("50000.12", "BUY", "50000.12"), ("50000.12", "SELL", "50000.12"),
    ("50000.1299999", "BUY", "50000.12"), ("50000.1200001", "SELL", "50000.13"),
])
def test_round_price_never_more_aggressive_than_asked(price: str, side: str, rounded: str) -> None:
    """A BUY rounds down to the tick, a SELL up; a price already on the tick is unchanged."""
    assert BTC.round_price(D(price), side) == D(rounded)  # type: ignore[arg-type]


def test_round_price_to_a_tick_not_a_power_of_ten() -> None:
    """A tick of 0.5 rounds to halves, both ways."""
    halves = msgspec.structs.replace(BTC, tick_size=D("0.5"))
    assert (halves.round_price(D("100.7"), "BUY"), halves.round_price(D("100.7"), "SELL")) == (D("100.5"), D(101))


def test_rounding_is_exact_whatever_the_decimal_context() -> None:
    """A caller's low-precision context neither rounds nor fails the rules' arithmetic."""
    with localcontext() as ctx:
        ctx.prec = 4
        assert BTC.round_price(D("123456789.129"), "BUY") == D("123456789.12")
        assert BTC.round_quantity(D("1234.567891")) == D("1234.56789")
        BTC.check(limit("123456.78", "0.00005"))


def test_round_price_without_a_tick_is_the_price() -> None:
    """A venue stating no tick (Binance tickSize 0) leaves the price as asked."""
    assert msgspec.structs.replace(BTC, tick_size=None).round_price(D("1.2345"), "SELL") == D("1.2345")


@pytest.mark.parametrize(("quantity", "rounded"), [("0.123456", "0.12345"), ("0.12345", "0.12345"), ("3", "3")])
def test_round_quantity_goes_down_to_the_step(quantity: str, rounded: str) -> None:
    """A quantity rounds down to the step, never up: it never spends more than asked."""
    assert BTC.round_quantity(D(quantity)) == D(rounded)


def test_check_accepts_an_order_within_every_rule() -> None:
    """A LIMIT order on the tick and step, within the bounds and worth at least min_notional passes."""
    BTC.check(limit("50000.01", "0.0001"))
    BTC.check(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.00001")))
    BTC.check(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quote_quantity=D("1")))


@pytest.mark.parametrize(("order", "rule", "allowed"), [
    (limit("50000.005", "0.001"), "tick_size", "0.01"),
    (limit("2000000", "0.001"), "max_price", "1000000"),
    (limit("50000", "0.000015"), "step_size", "0.00001"),
    (limit("1", "9001"), "max_quantity", "9000"),
    (limit("100", "0.01"), "min_notional", "5"),
])
def test_check_refuses_each_rule_naming_it_and_its_allowed_value(order: NewOrder, rule: str, allowed: str) -> None:
    """Each broken rule is an OrderOutsideRules whose text names the rule and the value allowed."""
    error = refusal(order)
    assert (error.rule, error.allowed) == (rule, D(allowed))
    assert rule in str(error) and allowed in str(error) and "BTCUSDT" in str(error)


def test_check_refuses_below_min_price_and_min_quantity() -> None:
    """Floors apply as stated, even when they are above one tick or step."""
    floors = msgspec.structs.replace(BTC, min_price=D("10"), min_quantity=D("0.001"), min_notional=None)
    assert refusal(limit("9.99", "1"), floors).rule == "min_price"
    assert refusal(limit("10", "0.0009"), floors).rule == "min_quantity"


def test_check_refuses_a_market_order_by_what_it_can_see() -> None:
    """A MARKET order sized by quantity is checked against the step and quantity bounds (no price to value it)."""
    assert refusal(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.000011"))).rule == "step_size"
    assert refusal(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("9000.1"))).rule == "max_quantity"


def test_check_refuses_a_symbol_not_trading() -> None:
    """An instrument the venue does not trade now refuses every order."""
    halted = msgspec.structs.replace(BTC, trading=False)
    assert refusal(limit("50000", "0.001"), halted).rule == "trading"


def test_check_refuses_another_symbols_order() -> None:
    """Rules of one symbol never pass an order for another: a ConfigError, not a silent pass."""
    with pytest.raises(lotusx.ConfigError, match="ETHUSDT"):
        BTC.check(NewOrder(symbol="ETHUSDT", side="BUY", type="LIMIT", price=D(1), quantity=D(10)))


def test_no_rule_stated_means_nothing_refused() -> None:
    """An instrument without tick, step, bounds or floor passes any order."""
    bare = Instrument(symbol="BTCUSDT", base="BTC", quote="USDT", trading=True)
    bare.check(limit("0.0000001", "0.0000001"))
    assert bare.round_quantity(D("0.123")) == D("0.123")


def test_the_refusal_pickles_whole() -> None:
    """An OrderOutsideRules raised in a worker reaches its parent with rule and allowed."""
    error = pickle.loads(pickle.dumps(refusal(limit("50000.005", "0.001"))))  # noqa: S301 (our own bytes)
    assert (type(error), error.rule, error.allowed) == (OrderOutsideRules, "tick_size", D("0.01"))

"""Money on the wire: a Decimal no venue can read is a ConfigError before anything is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.kernel.client import json_body, pairs, param_value
from lotusx.kernel.errors import ConfigError


@pytest.mark.parametrize("text", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"])
def test_a_decimal_that_is_no_number_is_not_rendered(text: str) -> None:
    """NaN, sNaN and Infinity are a ConfigError, never the text 'NaN' in a query."""
    with pytest.raises(ConfigError, match="finite"):
        param_value(Decimal(text))


def test_a_json_body_holding_nan_is_refused() -> None:
    """A Bybit-style JSON body with a NaN amount is a ConfigError, not {"qty":"NaN"}."""
    with pytest.raises(ConfigError):
        json_body({"qty": Decimal("NaN")})


@pytest.mark.parametrize("text", ["1E+21", "1E+100", "1E-21", "1E-100", "123456789012345678901.5",
                                  "0.123456789012345678901", "123456789012345678901", "1.23456789012345678901E+20"])
def test_a_decimal_with_more_digits_than_a_venue_reads_is_refused(text: str) -> None:
    """Past 20 whole or 20 fraction digits (Binance -1100's '^([0-9]{1,20})(\\.[0-9]{1,20})?$') is a ConfigError."""
    with pytest.raises(ConfigError, match="digits"):
        pairs({"quantity": Decimal(text)})


@pytest.mark.parametrize("text", ["1E+999999999999", "1E-999999999999"])
def test_a_huge_exponent_is_refused_without_writing_it_out(text: str) -> None:
    """A Decimal('1E+999999999999') is refused from its exponent: its plain text would fill the memory."""
    with pytest.raises(ConfigError, match="digits"):
        param_value(Decimal(text))


@pytest.mark.parametrize(("text", "sent"), [
    ("12345678901234567890", "12345678901234567890"), ("0.12345678901234567890", "0.1234567890123456789"),
    ("1.00000000000000000000000000000000000000", "1"), ("0E-30", "0"), ("1.0E+3", "1000"),
    ("1E-20", "0.00000000000000000001"), ("-2.50", "-2.5"), ("-0.000", "0"), ("-0E+5", "0")])
def test_digits_within_bounds_and_trailing_zeros_are_sent_plainly(text: str, sent: str) -> None:
    """Trailing zeros do not count: the plain text sent has at most 20 whole and 20 fraction digits."""
    assert param_value(Decimal(text)) == sent

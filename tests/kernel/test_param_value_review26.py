"""param_value's Decimal paths: a Decimal first, a Decimal subclass through the general checks, alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.kernel.client import param_value
from lotusx.kernel.errors import ConfigError


class Price(Decimal):
    """A caller's own Decimal subclass."""


def test_decimal_subclass_is_sent_as_the_decimal_it_is() -> None:
    """A Decimal subclass is written as a Decimal of the same value is: exact, no exponent, no trailing zeros."""
    for text in ("25000.00", "1E+3", "0.00000010"):
        assert param_value(Price(text)) == param_value(Decimal(text))


def test_decimal_subclass_nan_is_refused() -> None:
    """A non-finite Decimal subclass is a ConfigError, as a Decimal is."""
    with pytest.raises(ConfigError, match="finite"):
        param_value(Price("NaN"))

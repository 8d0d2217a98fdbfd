"""The amount limits NewOrder and Withdrawal enforce are the ones their docstrings and README.md state."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lotusx import ConfigError, NewOrder, Withdrawal
from lotusx.kernel.client import MOST_DIGITS

README = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())


@pytest.mark.parametrize("model", [NewOrder, Withdrawal])
def test_the_docstring_states_the_digit_limit_the_model_enforces(model: type) -> None:
    """Each amount model says how many whole and fraction digits it takes: MOST_DIGITS."""
    doc = " ".join((model.__doc__ or "").split())
    assert f"{MOST_DIGITS} whole or fraction digits" in doc


def test_the_readme_lists_an_unquantized_amount_among_the_first_mistakes() -> None:
    """README's mistakes list names the limit, and its example is refused as it says."""
    assert f"past {MOST_DIGITS} whole or fraction digits" in README and "Decimal(1) / 3" in README
    with pytest.raises(ConfigError, match=r"NewOrder\.quantity"):
        NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal(1) / 3)


def test_the_readme_lists_a_connector_used_from_another_event_loop() -> None:
    """The foreign-loop ConfigError (a module-level connector under pytest-asyncio) is among the first mistakes."""
    assert "another event loop" in README

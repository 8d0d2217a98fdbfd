"""NewOrder: MARKET is IOC and LIMIT_MAKER is GTC by their type; a time in force a venue would drop is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.models import NewOrder, OrderType, TimeInForce


def order(type_: OrderType, tif: TimeInForce | None) -> NewOrder:
    """A one-unit buy of ``type_`` asking for ``tif``."""
    return NewOrder(symbol="BTCUSDT", side="BUY", type=type_, quantity=Decimal(1),
                    price=None if type_ == "MARKET" else Decimal(100), time_in_force=tif)


@pytest.mark.parametrize(("type_", "tif"), [("MARKET", "FOK"), ("MARKET", "GTC"), ("LIMIT_MAKER", "IOC"),
                                            ("LIMIT_MAKER", "FOK")])
def test_a_time_in_force_the_type_cannot_honour_is_refused(type_: OrderType, tif: TimeInForce) -> None:
    """Binance refuses it (-1106) and Bybit drops it (a FOK market order would fill in part): a ConfigError."""
    with pytest.raises(ConfigError, match=tif):
        order(type_, tif)


@pytest.mark.parametrize(("type_", "tif"), [("MARKET", None), ("MARKET", "IOC"), ("LIMIT_MAKER", None),
                                            ("LIMIT_MAKER", "GTC"), ("LIMIT", "FOK"), ("LIMIT", "IOC")])
def test_the_time_in_force_a_type_behaves_as_is_taken(type_: OrderType, tif: TimeInForce | None) -> None:
    """Naming what the type does anyway (or nothing) is fine; a LIMIT takes any time in force."""
    assert order(type_, tif).time_in_force == tif

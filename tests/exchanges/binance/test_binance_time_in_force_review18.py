"""Binance: a time in force the order type cannot carry is refused before anything is sent.

rest-api.md "New order": timeInForce is a parameter of LIMIT orders (and the stop-limit types);
a MARKET order fills what it can at once, a LIMIT_MAKER rests or is rejected. Left out silently,
a FOK market order would fill in part, an IOC maker would rest.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.exchanges.binance import Binance
from lotusx.kernel.errors import ConfigError
from lotusx.models import NewOrder, OrderType, TimeInForce
from lotusx.testing import FakeTransport
from tests.exchanges.binance.test_binance_encoding import ex, transport, venue

__all__ = ["ex", "transport", "venue"]  # the scripted venue's fixtures, used here


@pytest.mark.parametrize(("type_", "tif"), [("MARKET", "FOK"), ("MARKET", "GTC"), ("LIMIT_MAKER", "IOC"),
                                            ("LIMIT_MAKER", "FOK")])
async def test_a_time_in_force_the_type_does_not_honour_is_refused(ex: Binance, transport: FakeTransport,
                                                                   type_: OrderType, tif: TimeInForce) -> None:
    """MARKET takes none or IOC, LIMIT_MAKER none or GTC; anything else is a ConfigError, nothing sent."""
    price = None if type_ == "MARKET" else Decimal(100)
    with pytest.raises(ConfigError, match=tif):
        await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type=type_, quantity=Decimal(1), price=price,
                                      time_in_force=tif, client_order_id="cid-tif"))
    assert [r for r in transport.requests if r.path == "/api/v3/order"] == []

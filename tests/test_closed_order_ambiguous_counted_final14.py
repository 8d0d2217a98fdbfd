"""Every AmbiguousOrderState is counted in ambiguous_orders_total: also one as_asked raises for a closed order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.account import as_asked
from lotusx.kernel.errors import AmbiguousOrderState
from lotusx.metrics import Metrics
from lotusx.models import NewOrder, Order

ASKED = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.01"), price=Decimal(50000),
                 client_order_id="cid-1")
EARLIER = Order(order_id="7", client_order_id="cid-1", symbol="BTCUSDT", side="BUY", type="LIMIT", status="FILLED",
                price=Decimal(50000), quantity=Decimal("0.01"), filled_quantity=Decimal("0.01"))


def test_an_earlier_closed_order_under_the_id_is_counted_as_ambiguous() -> None:
    """A reusable id naming an earlier filled order: AmbiguousOrderState, counted with cause closed_order."""
    metrics = Metrics()
    with pytest.raises(AmbiguousOrderState):
        as_asked(ASKED, EARLIER, reusable=True, earlier=True, metrics=metrics, exchange="binance",
                 endpoint="place_order")
    assert metrics.registry.get_sample_value(
        "lotusx_ambiguous_orders_total",
        {"exchange": "binance", "endpoint": "place_order", "cause": "closed_order"}) == 1

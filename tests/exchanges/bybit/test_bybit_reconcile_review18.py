"""End to end on the sim: watch_orders outlasts a reconcile whose queries fail for a while after a gap."""

from __future__ import annotations

from decimal import Decimal

import lotusx
from lotusx.exchanges.bybit import Bybit
from lotusx.sim import Sim
from tests.exchanges.bybit.test_bybit_streams import BTC, first, until_live


async def test_a_reconcile_throttled_past_retry_waits_and_reports_the_cancel(bybit: Bybit, sim: Sim) -> None:
    """The first query after a gap is throttled past Retry's attempts: the stream waits, then reports the cancel."""
    orders = aiter(bybit.watch_orders())
    await until_live(bybit, orders, "live")
    await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                            price=Decimal("30000"), client_order_id="slow-1"))
    assert (await first(orders, lambda o: o.client_order_id == "slow-1")).status == "NEW"
    sim.chaos("bybit").garble_ws_data = 1  # the cancel's push is lost: a gap, reconciled by REST
    await bybit.cancel_order(BTC, client_order_id="slow-1")
    # The reconcile runs when the stream is read next: its first query meets every attempt throttled.
    sim.chaos("bybit").force_429 = 3
    cancelled = await first(orders, lambda o: o.client_order_id == "slow-1" and o.status == "CANCELED")
    assert cancelled.filled_quantity == 0
    assert bybit.metrics.reconcile_retries.labels("bybit", "orders", "RateLimited")._value.get() == 1
    await orders.aclose()

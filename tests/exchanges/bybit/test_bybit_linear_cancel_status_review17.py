"""The sim's order statuses per category, as docs/v5/enum "orderStatus" gives them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import lotusx
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.sim import Sim, SimConfig, serve

QUIET = SimConfig(driver_rate=0)  # no random flow: the best ask read is the one the order meets


async def _partly_filled_ioc(sim: Sim, venue: str, category: str) -> dict[str, Any]:
    """The wire row of an IOC buy twice the best ask level's size, at the best ask: part filled, rest cancelled."""
    keys = sim.api_keys("bybit")
    credentials = lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)
    async with lotusx.connect(venue, credentials=credentials, rest_url=sim.rest_url("bybit"),
                              ws_url=sim.ws_url("bybit")) as ex:
        [(price, size)] = sim.engine("bybit", category).books["BTCUSDT"].levels("SELL", 1)
        placed = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="IOC",
                                                      price=price, quantity=size * 2))
        answer = await ex.rest.get(ep.ORDER_REALTIME.path, [("category", category), ("symbol", "BTCUSDT"),
                                                            ("orderId", placed.order_id)], endpoint=ep.ORDER_REALTIME)
        [row] = answer["result"]["list"]
        assert Decimal(row["cumExecQty"]) == size  # part filled, the rest cancelled
        return dict(row)


async def test_a_linear_order_cancelled_after_a_fill_is_cancelled() -> None:
    """Linear has no PartiallyFilledCanceled ("Only spot has this order status"): it is Cancelled with its fill."""
    async with serve(venues=("bybit",), seed=1, config=QUIET) as sim:
        row = await _partly_filled_ioc(sim, "bybit-linear", "linear")
    assert row["orderStatus"] == "Cancelled"


async def test_a_spot_order_cancelled_after_a_fill_is_partially_filled_canceled() -> None:
    """Spot names the same outcome PartiallyFilledCanceled."""
    async with serve(venues=("bybit",), seed=1, config=QUIET) as sim:
        row = await _partly_filled_ioc(sim, "bybit", "spot")
    assert row["orderStatus"] == "PartiallyFilledCanceled"

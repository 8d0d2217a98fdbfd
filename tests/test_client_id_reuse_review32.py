"""README's client-id promises as a user meets them: what placing again under an id does on each venue."""

from __future__ import annotations

from decimal import Decimal

import pytest

import lotusx
from lotusx.sim import SimConfig, serve
from tests.sim.sim_helpers import connect_to

QUIET = SimConfig(driver_rate=0, depth_interval=0.05)  # no random flow: only the test's orders move


def market_buy(client_order_id: str) -> lotusx.NewOrder:
    return lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001"),
                           client_order_id=client_order_id)


async def test_on_binance_a_filled_orders_id_placed_again_places_a_new_order() -> None:
    """Binance takes a filled order's id again (rest-api.md "New order"): the second MARKET order is a new one."""
    async with serve(("binance",), seed=1, config=QUIET) as sim, connect_to(sim, "binance", "spot") as ex:
        first = await ex.place_order(market_buy("reuse-filled"))
        again = await ex.place_order(market_buy("reuse-filled"))
    assert (first.status, again.status) == ("FILLED", "FILLED") and again.order_id != first.order_id


async def test_on_bybit_a_filled_orders_id_placed_again_returns_that_order() -> None:
    """Bybit's ids stay unique: the same MARKET order sent again under its id is the filled one, nothing new."""
    async with serve(("bybit",), seed=1, config=QUIET) as sim, connect_to(sim, "bybit", "spot") as ex:
        first = await ex.place_order(market_buy("reuse-filled"))
        again = await ex.place_order(market_buy("reuse-filled"))
    assert again.order_id == first.order_id


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_an_id_held_by_another_symbols_order_is_ambiguous_never_that_order(venue: str) -> None:
    """The lookup asks by the order's symbol and (on the sim) misses the holder: AmbiguousOrderState, never placed."""
    async with serve((venue,), seed=1, config=QUIET) as sim, connect_to(sim, venue, "spot") as ex:
        await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                             quantity=Decimal("0.01"), price=Decimal("40000"),
                                             client_order_id="held"))
        with pytest.raises(lotusx.AmbiguousOrderState) as caught:
            await ex.place_order(lotusx.NewOrder(symbol="ETHUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                                 quantity=Decimal("0.01"), price=Decimal("2000"),
                                                 client_order_id="held"))
        assert caught.value.client_order_id == "held"
        assert [o.symbol for o in await ex.get_open_orders("ETHUSDT")] == []

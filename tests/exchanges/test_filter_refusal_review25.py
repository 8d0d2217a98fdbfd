"""An order the venue refuses by its trading rules is ``OrderRejected`` on every venue.

Bybit's refusals of an off-tick or too-small order (170134, 170136, 170140...) already were, as
placement refusals. Binance's ``-1013 Filter failure: ...`` came back as ``InvalidRequest``, the
type of a malformed request: ``except lotusx.OrderRejected`` around a quoting loop missed it on
one venue and caught it on the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

import lotusx
from lotusx.exchanges.bybit import VENUE_LINEAR
from lotusx.sim import Sim, SimConfig, serve

SYMBOL = "BTCUSDT"
CASES = [("binance", "tick", "spot"), ("binance", "notional", "spot"), ("bybit", "tick", "spot"),
         ("bybit", "notional", "spot"), ("bybit", "notional", "linear")]
# Not Bybit linear's off-tick price: its docs name no retCode for it (the sim answers 10001, params error).


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async with serve(("binance", "bybit"), seed=1, config=SimConfig(driver_rate=0)) as running:
        yield running


@pytest.mark.parametrize(("venue", "rule", "category"), CASES)
async def test_an_order_outside_the_rules_is_order_rejected(sim: Sim, venue: str, rule: str, category: str) -> None:
    """An off-tick price, or a value under the floor, is refused as ``OrderRejected``."""
    keys = sim.api_keys(venue)
    market = sim.engine(venue, category).markets[SYMBOL]
    price = market.mid * Decimal("0.9") + (market.tick / 2 if rule == "tick" else 0)
    quantity = market.step * 1000 if rule == "tick" else market.step
    async with lotusx.connect(VENUE_LINEAR if category == "linear" else venue,
                              credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                              rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)) as ex:
        with pytest.raises(lotusx.OrderRejected):
            await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                                 quantity=quantity, price=price.quantize(market.tick / 2)))

"""``get_fills`` and ``get_order_history`` without ``until`` include what the venue has just done.

The default end is now on the venue's clock as the connector estimates it, and an estimate is off
by its error (half a round trip, plus the drift since the last sync). Ended exactly there, a
window left out a fill the venue had dated a few milliseconds later: a bot that asked for its
fills as soon as the stream reported one did not get it. Nothing is dated in the future, so the
default end leaves room past the estimate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

import lotusx
from lotusx.exchanges.bybit import VENUE_LINEAR
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import MAKER

D = Decimal
SYMBOL = "BTCUSDT"
AHEAD_MS = 250  # how far the venue's clock runs ahead of the connector's estimate of it
CASES = [("binance", "spot"), ("bybit", "spot"), ("bybit", "linear")]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async with serve(("binance", "bybit"), seed=1, config=SimConfig(driver_rate=0)) as running:
        yield running


async def _taken(sim: Sim, venue: str, category: str) -> tuple[lotusx.Order, list[lotusx.Fill], list[lotusx.Order]]:
    """An IOC buy filled against a resting sell after the venue's clock moved ahead of the estimate."""
    keys = sim.api_keys(venue)
    engine = sim.engine(venue, category)
    book = engine.books[SYMBOL]
    price = book.prices("BUY")[0] + D("0.01")
    engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=D("0.001"), price=price)
    since = sim.venue(venue).now_ms() - 60_000
    async with lotusx.connect(VENUE_LINEAR if category == "linear" else venue,
                              credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                              rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)) as ex:
        await ex.get_fills(SYMBOL, since=since)  # the clock is synced: the estimate is now exact
        sim.chaos(venue).clock_skew_ms = AHEAD_MS
        order = await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="IOC",
                                                     quantity=D("0.001"), price=price))
        return order, await ex.get_fills(SYMBOL, since=since), await ex.get_order_history(SYMBOL, since=since)


@pytest.mark.parametrize(("venue", "category"), CASES)
async def test_the_default_end_includes_a_fill_dated_past_the_estimate(sim: Sim, venue: str, category: str) -> None:
    """A fill the venue dated after the connector's estimate of its now is in ``get_fills()``."""
    order, fills, _ = await _taken(sim, venue, category)
    assert [fill.order_id for fill in fills] == [order.order_id]


@pytest.mark.parametrize(("venue", "category"), CASES)
async def test_the_default_end_includes_an_order_dated_past_the_estimate(sim: Sim, venue: str, category: str) -> None:
    """An order the venue dated after the connector's estimate of its now is in ``get_order_history()``."""
    order, _, history = await _taken(sim, venue, category)
    assert order.order_id in {found.order_id for found in history}

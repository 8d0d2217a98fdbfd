"""A sim configured with markets of its own serves them, whatever their coins."""

from __future__ import annotations

from decimal import Decimal as D

import lotusx
from lotusx.sim import serve
from lotusx.sim.venue import Market, SimConfig

SOL_EUR = Market("SOLEUR", "SOL", "EUR", D("0.01"), D("0.001"), D(150))


async def test_a_market_of_coins_the_defaults_lack_has_a_seeded_book() -> None:
    """The market maker is funded in every configured market's coins, so the sim starts with both sides quoted."""
    config = SimConfig(markets=(SOL_EUR,), driver_rate=0)
    async with serve(venues=("binance",), config=config) as sim, \
            lotusx.connect("binance", rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance")) as ex:
        book = await ex.get_order_book("SOLEUR", depth=5)
    assert len(book.bids) == 5 and len(book.asks) == 5

"""examples/market_maker.py's Quoter over the simulator, with no random flow: what each requote sends and leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import MAKER
from tests.examples.loaded import example

SYMBOL = "BTCUSDT"

mm = example("market_maker")


@pytest.fixture(params=["binance", "bybit"])
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Sim, Any, str]]:
    """A quiet sim (no driver flow) and a connector to it, of each dialect."""
    name = request.param
    async with serve(venues=(name,), seed=5, config=SimConfig(driver_rate=0)) as sim:
        keys = sim.api_keys(name)
        async with lotusx.connect(name, credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(name), ws_url=sim.ws_url(name)) as ex:
            yield sim, ex, name


async def quoter_and_book(ex: Any) -> tuple[Any, Decimal, Decimal, Decimal]:
    rules = (await ex.get_instruments([SYMBOL]))[SYMBOL]
    book = await ex.get_order_book(SYMBOL, depth=5)
    return mm.Quoter(ex, rules), book.bids[0][0], book.asks[0][0], rules.tick_size


async def test_a_moved_price_is_an_amend_and_an_unchanged_one_sends_nothing(venue: tuple[Sim, Any, str]) -> None:
    """The first quote is placed; the same price again sends nothing; a new price amends it: one order rests."""
    _, ex, _ = venue
    quoter, bid, _, tick = await quoter_and_book(ex)
    await quoter.requote("BUY", bid + tick)
    await quoter.requote("BUY", bid + tick)
    await quoter.requote("BUY", bid + 2 * tick)
    assert (quoter.placed, quoter.amends, quoter.refused, quoter.filled) == (1, 1, 0, 0)
    [resting] = await ex.get_open_orders(SYMBOL)
    assert resting.price == bid + 2 * tick and resting.order_id == quoter.quotes["BUY"].order_id


async def test_a_quote_filled_away_is_placed_afresh(venue: tuple[Sim, Any, str]) -> None:
    """A quote a taker filled completely: the amend finds it gone (NotFound), a fresh one is placed at the new price."""
    sim, ex, name = venue
    quoter, bid, _, tick = await quoter_and_book(ex)
    await quoter.requote("BUY", bid + tick)
    sim.engine(name).place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=quoter.size, price=bid + tick, tif="IOC")
    await quoter.requote("BUY", bid + 2 * tick)
    assert (quoter.placed, quoter.amends, quoter.filled) == (2, 0, 1)
    [resting] = await ex.get_open_orders(SYMBOL)
    assert resting.price == bid + 2 * tick


async def test_a_requote_the_post_only_refuses_leaves_nothing_resting(venue: tuple[Sim, Any, str]) -> None:
    """An amend into the asks is refused (Binance -2021: the original cancelled; Bybit cancels it): no quote rests."""
    _, ex, _ = venue
    quoter, bid, ask, tick = await quoter_and_book(ex)
    await quoter.requote("BUY", bid + tick)
    await quoter.requote("BUY", ask)  # would take: refused, then a fresh quote there refused (or cancelled) too
    assert quoter.amends == 0 and quoter.refused >= 1
    assert await ex.get_open_orders(SYMBOL) == []

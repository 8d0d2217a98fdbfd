"""The spot REST book serves what docs/v5/market/orderbook says: ``limit`` [1, 1000] on spot, as on linear."""

from __future__ import annotations

import pytest

import lotusx
from lotusx.exchanges.bybit.connector import Bybit
from lotusx.sim import serve


async def test_a_spot_book_of_1000_levels_is_served_and_one_more_is_refused() -> None:
    """Spot's documented maximum, 1000 levels a side, is served; 1001 is the venue's InvalidRequest."""
    assert "1000 on spot" in (Bybit.get_order_book.__doc__ or "")
    async with serve(venues=("bybit",)) as sim, \
            lotusx.connect("bybit", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        book = await ex.get_order_book("BTCUSDT", depth=1000)
        assert book.bids and book.asks
        with pytest.raises(lotusx.InvalidRequest, match=r"\[1, 1000\]"):
            await ex.get_order_book("BTCUSDT", depth=1001)

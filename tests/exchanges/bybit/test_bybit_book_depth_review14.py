"""get_order_book's documented depth limit is the venue's on linear (spot: the _review17 test beside it)."""

from __future__ import annotations

import lotusx
from lotusx.exchanges.bybit.connector import Bybit
from lotusx.sim import serve


async def test_the_documented_linear_limit_is_served() -> None:
    """On linear the docstring's maximum, 1000, is served."""
    assert "1000 on linear" in (Bybit.get_order_book.__doc__ or "")
    async with serve(venues=("bybit",)) as sim, \
            lotusx.connect("bybit-linear", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        book = await ex.get_order_book("BTCUSDT", depth=1000)
        assert book.bids and book.asks

"""get_order_book's documented depth limit is the venue's: 200 levels a side on spot, 1000 on linear."""

from __future__ import annotations

import pytest

import lotusx
from lotusx.exchanges.bybit.connector import Bybit
from lotusx.sim import serve


async def test_the_documented_spot_limit_is_served_and_one_more_is_refused() -> None:
    """The docstring's spot maximum is served whole; one level more is the venue's InvalidRequest."""
    assert "200 on spot" in (Bybit.get_order_book.__doc__ or "")
    async with serve(venues=("bybit",)) as sim, \
            lotusx.connect("bybit", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        book = await ex.get_order_book("BTCUSDT", depth=200)
        assert book.bids and book.asks
        with pytest.raises(lotusx.InvalidRequest, match=r"\[1, 200\]"):
            await ex.get_order_book("BTCUSDT", depth=201)


async def test_the_documented_linear_limit_is_served() -> None:
    """On linear the docstring's maximum, 1000, is served."""
    assert "1000 on linear" in (Bybit.get_order_book.__doc__ or "")
    async with serve(venues=("bybit",)) as sim, \
            lotusx.connect("bybit-linear", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        book = await ex.get_order_book("BTCUSDT", depth=1000)
        assert book.bids and book.asks

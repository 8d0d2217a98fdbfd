"""A str where a list of symbols or ids is asked is a ConfigError, never its letters sent one by one."""

from __future__ import annotations

import pytest

import lotusx
from lotusx.sim import serve
from lotusx.testing import FakeTransport

VENUES = ("binance", "bybit")


def nothing_expected(request: lotusx.Request) -> lotusx.Response:
    raise AssertionError(f"sent {request.method} {request.path}: the mistake should have been refused first")


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("ids", ["order_ids", "client_order_ids"])
async def test_cancel_orders_refuses_a_str_of_ids(venue: str, ids: str) -> None:
    """cancel_orders(order_ids="12345") is a ConfigError saying to pass ["12345"]: not five cancels of 1..5."""
    transport = FakeTransport(nothing_expected)
    async with lotusx.connect(venue, credentials=lotusx.Credentials("k" * 64, "s" * 64), transport=transport) as ex:
        with pytest.raises(lotusx.ConfigError, match=r"\['12345'\]"):
            await ex.cancel_orders("BTCUSDT", **{ids: "12345"})
    assert transport.requests == []


@pytest.mark.parametrize("venue", VENUES)
async def test_watch_order_books_refuses_a_str_of_symbols(venue: str) -> None:
    """watch_order_books("BTCUSDT") is a ConfigError saying to pass ['BTCUSDT'], not books of B, T, C..."""
    async with serve(venues=(venue,)) as sim, lotusx.connect(venue, rest_url=sim.rest_url(venue),
                                                             ws_url=sim.ws_url(venue)) as ex:
        with pytest.raises(lotusx.ConfigError, match=r"\['BTCUSDT'\]"):
            await anext(ex.watch_order_books("BTCUSDT"))


@pytest.mark.parametrize("watch", ["watch_orders", "watch_fills"])
async def test_bybit_account_watches_refuse_a_str_of_symbols_as_binance_does(watch: str) -> None:
    """Bybit's watch_orders("BTCUSDT") / watch_fills("BTCUSDT") refuse the str as Binance's do."""
    async with serve(venues=("bybit",)) as sim:
        keys = sim.api_keys("bybit")
        async with lotusx.connect("bybit", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
            with pytest.raises(lotusx.ConfigError, match=r"\['BTCUSDT'\]"):
                await anext(getattr(ex, watch)("BTCUSDT"))

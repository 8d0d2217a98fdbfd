"""proxy= beside a transport= of other settings: the WebSockets go through the proxy too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from http_proxy import HttpProxy

import lotusx
from lotusx import ConfigError
from lotusx.sim import Sim, SimConfig, serve
from lotusx.transport import AiohttpRest


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """The Binance sim, quiet."""
    async with serve(("binance",), seed=1, config=SimConfig(driver_rate=0, depth_interval=0.02)) as running:
        yield running


async def test_an_aiohttp_transport_with_the_same_proxy_routes_the_streams_through_it_too(sim: Sim) -> None:
    """transport=AiohttpRest(url, timeout=..., proxy=P) with proxy=P: REST and WebSockets both go through P."""
    async with HttpProxy() as proxy:
        rest = AiohttpRest(sim.rest_url("binance"), timeout=30.0, proxy=proxy.url)
        async with lotusx.connect("binance", transport=rest, ws_url=sim.ws_url("binance"), proxy=proxy.url) as ex:
            await ex.get_ticker("BTCUSDT")
            async for book in ex.watch_order_book("BTCUSDT"):
                assert book.bids
                break
        await rest.aclose()
    hosts = {head.split(" ", 1)[1].split("/")[2] for head in proxy.heads}
    assert hosts == {sim.rest_url("binance").split("/")[2], sim.ws_url("binance").split("/")[2]}


async def test_an_aiohttp_transport_without_that_proxy_is_refused() -> None:
    """Its REST calls would bypass the proxy: a ConfigError, as for any transport= beside proxy=."""
    with pytest.raises(ConfigError, match="transport="):
        async with lotusx.connect("binance", transport=AiohttpRest("http://127.0.0.1:1"),
                                  proxy="http://127.0.0.1:3128"):
            pass

"""``proxy=``: REST calls and WebSockets through an HTTP proxy on loopback, its password kept out of sight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from http_proxy import HttpProxy

import lotusx
from lotusx import AuthenticationError, ConfigError, ConnectError
from lotusx.kernel.message import Request
from lotusx.sim import Sim, SimConfig, serve
from lotusx.testing import FakeTransport
from lotusx.transport import AiohttpRest, AiohttpWs

PASSWORD = "pr0xy-s3cret"
TIME = Request(method="GET", path="/api/v3/time")


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """The Binance sim, quiet."""
    async with serve(("binance",), seed=1, config=SimConfig(driver_rate=0, depth_interval=0.02)) as running:
        yield running


async def test_rest_calls_go_through_the_proxy(sim: Sim) -> None:
    """AiohttpRest(proxy=) sends the call to the proxy, which forwards it to the venue."""
    async with HttpProxy() as proxy, AiohttpRest(sim.rest_url("binance"), proxy=proxy.url) as rest:
        response = await rest(TIME)
    assert response.status == 200
    assert proxy.heads == [f"GET {sim.rest_url('binance')}/api/v3/time"]


async def test_websocket_goes_through_the_proxy(sim: Sim) -> None:
    """AiohttpWs(proxy=) opens its upgrade through the proxy."""
    url = sim.ws_url("binance") + "/stream"
    async with HttpProxy() as proxy:
        session = AiohttpWs(url, proxy=proxy.url)
        await session.connect()
        try:
            await session.send('{"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 7}')
            frame = await asyncio.wait_for(session.next(), 5)
        finally:
            await session.close()
    assert frame.data == '{"result":null,"id":7}'
    assert proxy.heads == [f"GET {url}"]


async def test_connect_sends_rest_and_streams_through_the_proxy(sim: Sim) -> None:
    """lotusx.connect(proxy=) routes the connector's REST calls and its streams through the proxy."""
    async with HttpProxy(user="trader", password=PASSWORD) as proxy, lotusx.connect(
            "binance", rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"), proxy=proxy.url) as ex:
        await ex.get_ticker("BTCUSDT")
        async for book in ex.watch_order_book("BTCUSDT"):
            assert book.bids
            break
    hosts = {head.split(" ", 1)[1].split("/")[2] for head in proxy.heads}
    assert hosts == {sim.rest_url("binance").split("/")[2], sim.ws_url("binance").split("/")[2]}
    assert all(auth is not None and auth.startswith("Basic ") for auth in proxy.authorizations)


async def test_wrong_proxy_password_is_an_authentication_error(sim: Sim) -> None:
    """A proxy's 407 is an AuthenticationError, which no retry cures; its text holds no password."""
    async with HttpProxy(user="trader", password=PASSWORD) as proxy:
        wrong = proxy.url.replace(PASSWORD, "wrong-" + PASSWORD)
        async with lotusx.connect("binance", rest_url=sim.rest_url("binance"), proxy=wrong) as ex:
            with pytest.raises(AuthenticationError, match="407") as caught:
                await ex.get_ticker("BTCUSDT")
    assert PASSWORD not in str(caught.value)


async def test_websocket_refused_by_the_proxy_is_an_authentication_error(sim: Sim) -> None:
    """A ws:// upgrade the proxy answers with 407 is an AuthenticationError, not a retried connect."""
    async with HttpProxy(user="trader", password=PASSWORD) as proxy:
        session = AiohttpWs(sim.ws_url("binance") + "/ws/btcusdt@trade", proxy=proxy.url.replace(PASSWORD, "x"))
        with pytest.raises(AuthenticationError, match="407") as caught:
            await session.connect()
    assert PASSWORD not in str(caught.value)


async def test_unreachable_proxy_is_a_connect_error_without_its_password() -> None:
    """A proxy nobody listens on is a ConnectError (nothing was sent); the error and repr hide the password."""
    async with HttpProxy() as proxy:
        port = proxy.url.rsplit(":", 1)[1]
    dead = f"http://trader:{PASSWORD}@127.0.0.1:{port}"
    rest = AiohttpRest("http://127.0.0.1:9", proxy=dead)
    try:
        with pytest.raises(ConnectError) as caught:
            await rest(TIME)
    finally:
        await rest.aclose()
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(rest)
    assert caught.value.__context__ is None


def test_a_proxy_that_is_no_http_url_is_refused_at_once() -> None:
    """proxy= takes http:// or https:// URLs; a socks5:// one is a ConfigError, its password hidden."""
    with pytest.raises(ConfigError, match="http://") as caught:
        AiohttpRest("https://api.binance.com", proxy=f"socks5://u:{PASSWORD}@127.0.0.1:1080")
    assert PASSWORD not in str(caught.value)


def test_websocket_refuses_a_malformed_proxy() -> None:
    """AiohttpWs checks its proxy as AiohttpRest does."""
    with pytest.raises(ConfigError, match="proxy"):
        AiohttpWs("wss://stream.binance.com:9443/ws", proxy="127.0.0.1:3128")


async def test_connect_refuses_rest_url_or_proxy_beside_its_own_transport() -> None:
    """transport= replaces the transport rest_url= and proxy= configure: both together are a ConfigError."""
    fake = FakeTransport(lambda request: None)
    for options in ({"rest_url": "http://127.0.0.1:1"}, {"proxy": "http://127.0.0.1:3128"}):
        with pytest.raises(ConfigError, match="transport="):
            async with lotusx.connect("binance", transport=fake, **options):
                pass


def test_parts_repr_hides_the_proxy() -> None:
    """The connector's parts never show the proxy URL (it may hold a password)."""
    connector = lotusx.venue.open_venue(lotusx.venue.find_venue("binance"),
                                        proxy=f"http://trader:{PASSWORD}@127.0.0.1:3128")
    assert PASSWORD not in repr(connector.parts)


async def test_https_tunnel_refused_by_the_proxy_is_an_authentication_error() -> None:
    """An https:// call whose CONNECT the proxy answers with 407 is an AuthenticationError, never sent on."""
    async with HttpProxy(user="trader", password=PASSWORD) as proxy, AiohttpRest(
            "https://127.0.0.1:9", proxy=proxy.url.replace(PASSWORD, "x")) as rest:
        with pytest.raises(AuthenticationError, match="407") as caught:
            await rest(TIME)
    assert proxy.heads == ["CONNECT 127.0.0.1:9"]
    assert PASSWORD not in str(caught.value)
    assert caught.value.__context__ is None


async def test_wss_tunnel_refused_by_the_proxy_is_an_authentication_error() -> None:
    """A wss:// connect whose CONNECT the proxy answers with 407 is an AuthenticationError."""
    async with HttpProxy(user="trader", password=PASSWORD) as proxy:
        session = AiohttpWs("wss://127.0.0.1:9/ws", proxy=proxy.url.replace(PASSWORD, "x"))
        with pytest.raises(AuthenticationError, match="407"):
            await session.connect()
    assert proxy.heads == ["CONNECT 127.0.0.1:9"]

"""Review round 11: what goes on the wire (AiohttpRest against a real aiohttp server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import enum
import math

import pytest
from aiohttp import web

from lotusx import ConfigError, ConnectError, Disconnected, Request
from lotusx.kernel.client import RestClient
from lotusx.kernel.message import Response
from lotusx.testing import FakeTransport
from lotusx.transport import AiohttpRest
from tests.conftest import ServeApp


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_a_dropped_put_or_delete_is_not_re_sent_by_aiohttp(serve_app: ServeApp, method: str) -> None:
    """A PUT/DELETE the server read and then dropped is sent once and reported Disconnected(sent=True)."""
    hits = 0

    async def drop_first(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        if hits == 1:
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.05)
        return web.Response(text="done")

    app = web.Application()
    app.router.add_route(method, "/order", drop_first)
    server = await serve_app(app)
    async with AiohttpRest(str(server.make_url(""))) as transport:
        with pytest.raises(Disconnected) as info:
            await transport(Request(method=method, path="/order", body=b"x" if method == "PUT" else None))
    assert info.value.sent is True
    assert hits == 1


async def test_a_redirect_does_not_carry_the_key_and_signature_to_another_host(serve_app: ServeApp) -> None:
    """A venue's 307 to another origin is answered as is: the API key, signed query and order never go there."""
    stolen: list[tuple[str | None, str]] = []

    async def steal(request: web.Request) -> web.Response:
        stolen.append((request.headers.get("X-MBX-APIKEY"), request.rel_url.raw_query_string))
        return web.Response(text="{}")

    other = web.Application()
    other.router.add_route("*", "/steal", steal)
    elsewhere = await serve_app(other)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(str(elsewhere.make_url("/steal")))

    venue = web.Application()
    venue.router.add_post("/order", redirect)
    server = await serve_app(venue)
    request = Request(method="POST", path="/order", query=(("symbol", "BTCUSDT"), ("signature", "s1gn4ture")),
                      headers=(("X-MBX-APIKEY", "the-api-key"),), body=b"")
    async with AiohttpRest(str(server.make_url(""))) as transport:
        response = await transport(request)
    assert stolen == []
    assert response.status == 307


@pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan, math.inf])
def test_a_timeout_that_bounds_nothing_is_a_config_error(seconds: float) -> None:
    """timeout/connect_timeout of 0, negative or NaN (aiohttp: no timeout at all) or inf is a ConfigError."""
    with pytest.raises(ConfigError):
        AiohttpRest("http://127.0.0.1:1", timeout=seconds)
    with pytest.raises(ConfigError):
        AiohttpRest("http://127.0.0.1:1", connect_timeout=seconds)


class Side(str, enum.Enum):  # noqa: UP042 (the str mixin users write, not StrEnum)
    BUY = "BUY"


async def test_a_str_enum_parameter_is_sent_as_its_value_in_the_query_as_in_a_json_body() -> None:
    """A str-mixin Enum parameter goes on the wire as its value ('BUY'), never as 'Side.BUY'."""
    transport = FakeTransport(lambda request: Response(status=200, body=b"{}"))
    client = RestClient(transport)
    await client.get("/api/v3/order", {"symbol": "BTCUSDT", "side": Side.BUY})
    await client.post("/api/v3/order", {"side": Side.BUY}, params={"side": Side.BUY})
    assert [r.query_string for r in transport.requests] == ["symbol=BTCUSDT&side=BUY", "side=BUY"]
    assert transport.requests[1].body == b'{"side":"BUY"}'


async def test_a_connect_timeout_is_a_connect_error_and_nothing_reached_the_server(serve_app: ServeApp) -> None:
    """No connection in time (aiohttp's ConnectionTimeoutError) proves nothing was sent: ConnectError, not Timeout."""
    hits = 0

    async def count(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(text="{}")

    app = web.Application()
    app.router.add_post("/order", count)
    server = await serve_app(app)
    # A microsecond to connect: on loopback it runs out before the connection is made, every time.
    async with AiohttpRest(str(server.make_url("")), connect_timeout=1e-6) as transport:
        with pytest.raises(ConnectError, match="cannot connect"):
            await transport(Request(method="POST", path="/order", body=b"x"))
    assert hits == 0


@pytest.mark.parametrize("path", ["@elsewhere/x", "api/v3/order"])
async def test_a_path_without_a_leading_slash_is_a_config_error_and_is_not_sent(path: str) -> None:
    """Glued to the base URL, such a path names another host or path: refused before anything is sent."""
    async with AiohttpRest("http://127.0.0.1:1") as transport:
        with pytest.raises(ConfigError, match="must start with '/'"):
            await transport(Request(method="GET", path=path))

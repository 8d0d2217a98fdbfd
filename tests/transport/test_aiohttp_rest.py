"""AiohttpRest against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from aiohttp import ClientConnectionResetError, web
from aioresponses import aioresponses

from lotusx import ConfigError, ConnectError, Disconnected, Request, Timeout
from lotusx.transport import AiohttpRest
from tests.conftest import ServeApp


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {"method": request.method, "raw_query": request.rel_url.raw_query_string,
         "query": list(request.query.items()), "body": body.decode(),
         "content_type": request.headers.get("Content-Type"), "key": request.headers.get("X-Key")},
        status=int(request.headers.get("X-Status", "200")), headers={"X-Used-Weight": "42"})


@pytest.fixture
async def echo_url(serve_app: ServeApp) -> str:
    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    server = await serve_app(app)
    return str(server.make_url(""))


async def test_ordered_query_is_sent_as_encoded(echo_url: str) -> None:
    """Ordered params arrive in order, byte for byte as request.query_string encodes them."""
    query = (("symbol", "BTC/USDT"), ("note", "a b&c=d+e"), ("z", "1"), ("a", "ü"))
    request = Request(method="GET", path="/echo", query=query)
    async with AiohttpRest(echo_url) as transport:
        data = (await transport(request)).decode()
    assert data["raw_query"] == request.query_string
    assert data["query"] == [list(p) for p in query]


async def test_json_body_headers_and_status_round_trip(echo_url: str) -> None:
    """Body, content type and custom headers reach the server; status and headers come back."""
    request = Request(method="POST", path="/echo", body=b'{"a":1}',
                      headers=(("Content-Type", "application/json"), ("X-Key", "k1"), ("X-Status", "201")))
    async with AiohttpRest(echo_url) as transport:
        response = await transport(request)
    data = response.decode()
    assert (response.status, data["body"], data["content_type"], data["key"]) == (
        201, '{"a":1}', "application/json", "k1")
    assert response.header("x-used-weight") == "42"
    assert response.elapsed > 0


async def test_form_body_is_sent_verbatim(echo_url: str) -> None:
    """A urlencoded body is sent exactly as given."""
    request = Request(method="PUT", path="/echo", body=b"a=1&b=x%20y",
                      headers=(("Content-Type", "application/x-www-form-urlencoded"),))
    async with AiohttpRest(echo_url) as transport:
        data = (await transport(request)).decode()
    assert (data["method"], data["body"]) == ("PUT", "a=1&b=x%20y")


async def test_no_content_type_unless_given(echo_url: str) -> None:
    """A GET without a body carries no Content-Type of aiohttp's choosing."""
    async with AiohttpRest(echo_url) as transport:
        data = (await transport(Request(method="GET", path="/echo"))).decode()
    assert data["content_type"] is None


async def test_a_body_without_content_type_gets_none_of_aiohttps_choosing(echo_url: str) -> None:
    """A raw body sent without a Content-Type header arrives without one (no octet-stream guess)."""
    async with AiohttpRest(echo_url) as transport:
        data = (await transport(Request(method="POST", path="/echo", body=b"a=1"))).decode()
    assert (data["body"], data["content_type"]) == ("a=1", None)


async def test_sequential_calls_reuse_one_connection(serve_app: ServeApp) -> None:
    """Ten sequential calls arrive over a single keep-alive TCP connection."""
    peers: set[tuple[str, int]] = set()

    async def count(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/c", count)
    server = await serve_app(app)
    async with AiohttpRest(str(server.make_url(""))) as transport:
        for _ in range(10):
            assert (await transport(Request(method="GET", path="/c"))).status == 200
    assert len(peers) == 1


async def test_connection_refused_is_connect_error() -> None:
    """A closed port raises ConnectError: the request never left."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with AiohttpRest(f"http://127.0.0.1:{port}") as transport:
        with pytest.raises(ConnectError, match="GET /x"):
            await transport(Request(method="GET", path="/x", query=(("signature", "topsecret"),)))


async def test_hanging_server_is_timeout(serve_app: ServeApp) -> None:
    """A server that never answers raises Timeout."""
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/hang", hang)
    server = await serve_app(app)
    try:
        async with AiohttpRest(str(server.make_url("")), timeout=0.2) as transport:
            with pytest.raises(Timeout):
                await transport(Request(method="GET", path="/hang"))
    finally:
        release.set()


async def test_disconnect_before_response_is_disconnected(serve_app: ServeApp) -> None:
    """The server closing the socket after reading the request raises Disconnected(sent=True)."""

    async def drop(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.05)
        return web.Response()

    app = web.Application()
    app.router.add_post("/drop", drop)
    server = await serve_app(app)
    async with AiohttpRest(str(server.make_url(""))) as transport:
        with pytest.raises(Disconnected) as info:
            await transport(Request(method="POST", path="/drop", body=b"x"))
    assert info.value.sent is True


async def test_disconnect_mid_response_is_disconnected(serve_app: ServeApp) -> None:
    """A body cut short mid-response raises Disconnected, not a partial body."""

    async def partial(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()
        return response

    app = web.Application()
    app.router.add_get("/partial", partial)
    server = await serve_app(app)
    async with AiohttpRest(str(server.make_url(""))) as transport:
        with pytest.raises(Disconnected):
            await transport(Request(method="GET", path="/partial"))


async def test_a_connection_reset_is_disconnected_not_a_protocol_error(serve_app: ServeApp) -> None:
    """A reset from the peer is a lost connection (retried as one), with sent=True: it may come after the request."""

    async def reset(request: web.Request) -> web.Response:
        assert request.transport is not None
        sock = request.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a RST
        request.transport.abort()
        await asyncio.sleep(0.05)
        return web.Response()

    app = web.Application()
    app.router.add_get("/reset", reset)
    server = await serve_app(app)
    async with AiohttpRest(str(server.make_url(""))) as transport:
        with pytest.raises(Disconnected) as info:
            await transport(Request(method="GET", path="/reset"))
    assert info.value.sent is True
    assert "reset" in str(info.value).lower()


def test_base_url_must_be_absolute_http() -> None:
    """A relative or non-HTTP base URL is a ConfigError."""
    with pytest.raises(ConfigError):
        AiohttpRest("ftp://example.com")
    with pytest.raises(ConfigError):
        AiohttpRest("/api")


async def test_tls_verification_is_on_by_default() -> None:
    """The pool verifies certificates unless ssl=False is passed explicitly."""
    async with AiohttpRest("https://127.0.0.1:1") as transport:
        assert transport.session.connector is not None
        assert transport.session.connector._ssl is True  # type: ignore[attr-defined]
    assert "AiohttpRest('https://127.0.0.1:1'" in repr(transport)


async def test_a_write_on_a_closing_pooled_socket_is_disconnected_not_a_protocol_error() -> None:
    """aiohttp's "Cannot write to closing transport" (a keep-alive socket the peer dropped) is a lost connection too."""
    async with AiohttpRest("http://venue.test") as transport:
        with aioresponses() as venue:
            venue.get("http://venue.test/api/v3/depth",
                      exception=ClientConnectionResetError("Cannot write to closing transport"))
            with pytest.raises(Disconnected) as info:
                await transport(Request(method="GET", path="/api/v3/depth"))
    assert info.value.sent is True

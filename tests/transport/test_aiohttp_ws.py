"""AiohttpWs against a real aiohttp WebSocket server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import WSMsgType, web

from lotusx import ConfigError, ConnectError, Disconnected, WsKind, register_secret
from lotusx.transport import AiohttpWs
from tests.conftest import ServeApp


async def scripted(request: web.Request) -> web.WebSocketResponse:
    """Echo text and binary; on 'ping-me' send a ping; on 'close' close with 4001."""
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT and msg.data == "ping-me":
            await ws.ping(b"hb")
        elif msg.type is WSMsgType.TEXT and msg.data == "close":
            await ws.close(code=4001, message=b"bye")
        elif msg.type is WSMsgType.TEXT:
            await ws.send_str("echo:" + msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
        elif msg.type is WSMsgType.PING:
            await ws.send_str("got-ping:" + msg.data.decode())
        elif msg.type is WSMsgType.PONG:
            await ws.send_str("got-pong:" + msg.data.decode())
    return ws


@pytest.fixture
async def ws_url(serve_app: ServeApp) -> str:
    app = web.Application()
    app.router.add_get("/ws", scripted)
    server = await serve_app(app)
    return str(server.make_url("/ws")).replace("http://", "ws://")


async def test_text_and_binary_round_trip(ws_url: str) -> None:
    """Text frames arrive as str, binary frames as bytes."""
    ws = AiohttpWs(ws_url)
    await ws.connect()
    await ws.send("hello")
    await ws.send(b"\x01\x02\x03")
    text, binary = await ws.next(), await ws.next()
    await ws.close()
    assert (text.kind, text.data) == (WsKind.TEXT, "echo:hello")
    assert (binary.kind, binary.data) == (WsKind.BINARY, b"\x03\x02\x01")


async def test_pump_hands_payloads_to_the_sink_until_it_asks_to_stop(ws_url: str) -> None:
    """pump() passes each data payload to the sink and returns None once the sink returns True."""
    ws = AiohttpWs(ws_url)
    await ws.connect()
    for message in ("a", "b", "c"):
        await ws.send(message)
    got: list[str | bytes] = []

    def sink(data: str | bytes) -> bool:
        got.append(data)
        return len(got) == 2

    first = await ws.pump(sink)
    second = await ws.pump(lambda data: got.append(data) is None)
    await ws.close()
    assert (first, second, got) == (None, None, ["echo:a", "echo:b", "echo:c"])


async def test_pump_returns_a_control_frame_as_next_would(ws_url: str) -> None:
    """A frame that is not data ends pump() and comes back as next() gives it: a ping, answered."""
    ws = AiohttpWs(ws_url)
    await ws.connect()
    await ws.send("ping-me")
    frame = await ws.pump(lambda data: pytest.fail(f"no data expected, got {data!r}"))
    answer = await ws.next()
    await ws.close()
    assert frame is not None and (frame.kind, frame.data) == (WsKind.PING, b"hb")
    assert answer.data == "got-pong:hb"


async def test_server_ping_is_visible_and_answered(ws_url: str) -> None:
    """A server ping is returned as a PING frame and answered with a pong automatically."""
    ws = AiohttpWs(ws_url)
    await ws.connect()
    await ws.send("ping-me")
    frame = await ws.next()
    answer = await ws.next()
    await ws.close()
    assert (frame.kind, frame.data) == (WsKind.PING, b"hb")
    assert answer.data == "got-pong:hb"


async def test_client_ping_and_pong_reach_the_server(ws_url: str) -> None:
    """ping() and pong() send protocol control frames."""
    ws = AiohttpWs(ws_url, auto_pong=False)
    await ws.connect()
    await ws.ping(b"p1")
    await ws.pong(b"p2")
    got = [(await ws.next()).data, (await ws.next()).data]
    await ws.close()
    assert got == ["got-ping:p1", "got-pong:p2"]


async def test_server_close_reports_the_code_then_disconnected(ws_url: str) -> None:
    """A server close arrives once as a CLOSE frame with its code; next() then raises."""
    ws = AiohttpWs(ws_url)
    await ws.connect()
    await ws.send("close")
    frame = await ws.next()
    assert (frame.kind, frame.close_code) == (WsKind.CLOSE, 4001)
    with pytest.raises(Disconnected):
        await ws.next()
    with pytest.raises(Disconnected):
        await ws.send("late")


async def test_connect_refused_is_connect_error() -> None:
    """Connecting to a closed port raises ConnectError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectError):
        await AiohttpWs(f"ws://127.0.0.1:{port}/ws?listenKey=secretkey").connect()


async def test_close_is_idempotent(ws_url: str) -> None:
    """close() twice is fine and later sends raise Disconnected."""
    ws = AiohttpWs(ws_url)
    await ws.connect()
    await ws.close()
    await ws.close()
    with pytest.raises(Disconnected):
        await ws.ping()


def test_url_must_be_websocket() -> None:
    """A non-ws URL is a ConfigError; repr hides the query (listen keys)."""
    with pytest.raises(ConfigError):
        AiohttpWs("http://x")
    assert "secret" not in repr(AiohttpWs("wss://h/ws?listenKey=secret"))


# Binance puts the listen key in the path (/ws/<listenKey>), not in the query.
LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a"


async def test_connect_error_hides_a_listen_key_in_the_path() -> None:
    """A failed connect to /ws/<listenKey> names the stream without the key, in str and repr."""
    register_secret(LISTEN_KEY)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectError) as caught:
        await AiohttpWs(f"ws://127.0.0.1:{port}/ws/{LISTEN_KEY}").connect()
    assert LISTEN_KEY not in str(caught.value) and LISTEN_KEY not in repr(caught.value)


def test_repr_hides_a_listen_key_in_the_path() -> None:
    """repr of a user-stream session does not show the listen key in its path."""
    register_secret(LISTEN_KEY)
    assert LISTEN_KEY not in repr(AiohttpWs(f"wss://h/ws/{LISTEN_KEY}"))


def test_config_error_hides_a_listen_key_in_the_url() -> None:
    """A user-stream URL with the wrong scheme is refused without echoing the listen key."""
    register_secret(LISTEN_KEY)
    with pytest.raises(ConfigError) as caught:
        AiohttpWs(f"https://h/ws/{LISTEN_KEY}")
    assert LISTEN_KEY not in str(caught.value)


async def test_abrupt_connection_loss_is_disconnected(serve_app: ServeApp) -> None:
    """A peer that drops the TCP connection without a close frame raises Disconnected."""

    async def vanish(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert request.transport is not None
        request.transport.abort()
        return ws

    app = web.Application()
    app.router.add_get("/gone", vanish)
    server = await serve_app(app)
    ws = AiohttpWs(str(server.make_url("/gone")).replace("http://", "ws://"))
    await ws.connect()
    with pytest.raises(Disconnected):
        await ws.next()
    with pytest.raises(Disconnected):
        await ws.send("after")


async def test_shared_session_is_not_closed_by_the_transport(ws_url: str) -> None:
    """A session passed in stays open after close(); the caller owns it."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        ws = AiohttpWs(ws_url, session=session, compress=15)
        await ws.connect()
        await ws.send("hi")
        assert (await ws.next()).data == "echo:hi"
        await ws.close()
        assert not session.closed


async def test_malformed_frame_is_protocol_error(serve_app: ServeApp) -> None:
    """Bytes that are not a valid WebSocket frame raise ProtocolError."""
    from lotusx import ProtocolError

    async def garbage(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert request.transport is not None
        request.transport.write(b"\x8f\x05abcde")  # reserved opcode 0xF
        await asyncio.sleep(0.5)
        return ws

    app = web.Application()
    app.router.add_get("/garbage", garbage)
    server = await serve_app(app)
    ws = AiohttpWs(str(server.make_url("/garbage")).replace("http://", "ws://"))
    await ws.connect()
    with pytest.raises(ProtocolError):
        await ws.next()


async def test_writes_after_the_peer_vanished_are_disconnected(serve_app: ServeApp) -> None:
    """send/ping/pong on a connection whose socket is gone raise Disconnected(sent=False)."""
    gone = asyncio.Event()

    async def vanish(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert request.transport is not None
        request.transport.abort()
        gone.set()
        return ws

    app = web.Application()
    app.router.add_get("/gone", vanish)
    server = await serve_app(app)
    ws = AiohttpWs(str(server.make_url("/gone")).replace("http://", "ws://"))
    await ws.connect()
    await gone.wait()
    await asyncio.sleep(0.1)

    async def keep_writing(write: Callable[[], Awaitable[None]]) -> None:
        for _ in range(50):  # the first write may still be buffered by the kernel
            await write()
            await asyncio.sleep(0.01)

    for write in (lambda: ws.send("x"), lambda: ws.send(b"x"), ws.ping, ws.pong):
        with pytest.raises(Disconnected) as info:
            await keep_writing(write)
        assert info.value.sent is False
    await ws.close()

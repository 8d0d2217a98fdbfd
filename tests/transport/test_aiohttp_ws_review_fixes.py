"""AiohttpWs: a failed auto-pong and a slow or cancelled opening handshake, over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from lotusx import ConnectError, Disconnected, WsKind
from lotusx.transport import AiohttpWs
from tests.conftest import ServeApp


async def test_a_ping_the_peer_vanished_after_is_disconnected(serve_app: ServeApp) -> None:
    """When the auto-pong cannot be written because the socket is gone, next() raises Disconnected."""
    gone = asyncio.Event()

    async def ping_and_vanish(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.ping(b"hb")
        await asyncio.sleep(0.05)  # the ping reaches the client before the connection drops
        assert request.transport is not None
        request.transport.abort()
        gone.set()
        return ws

    app = web.Application()
    app.router.add_get("/ws", ping_and_vanish)
    server = await serve_app(app)
    ws = AiohttpWs(str(server.make_url("/ws")).replace("http://", "ws://"))
    await ws.connect()
    await asyncio.wait_for(gone.wait(), 2)
    await asyncio.sleep(0.1)  # the client has seen the connection drop
    with pytest.raises(Disconnected):
        await asyncio.wait_for(ws.next(), 2)
    with pytest.raises(Disconnected):
        await ws.next()
    await ws.close()


async def test_a_delivered_ping_is_still_answered_and_returned(serve_app: ServeApp) -> None:
    """On a live socket the auto-pong goes out and the PING frame is returned as before."""

    async def ping_once(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.ping(b"hb")
        answer = await ws.receive()
        await ws.send_str(f"{answer.type.name}:{answer.data.decode()}")
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", ping_once)
    server = await serve_app(app)
    ws = AiohttpWs(str(server.make_url("/ws")).replace("http://", "ws://"))
    await ws.connect()
    frames = [await asyncio.wait_for(ws.next(), 2) for _ in range(2)]
    await ws.close()
    assert [(f.kind, f.data) for f in frames] == [(WsKind.PING, b"hb"), (WsKind.TEXT, "PONG:hb")]


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    """A loopback server that accepts TCP and never answers the HTTP upgrade."""
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # until the client goes away

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/ws"
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_connect_timeout_bounds_an_unanswered_handshake(silent_url: str) -> None:
    """A venue that never answers the upgrade makes connect() raise ConnectError after connect_timeout."""
    ws = AiohttpWs(silent_url, connect_timeout=0.2)
    with pytest.raises(ConnectError):
        await asyncio.wait_for(ws.connect(), 2)


async def test_a_timed_out_connect_closes_its_own_session(silent_url: str) -> None:
    """The ClientSession the transport made for itself is closed when the handshake times out."""
    ws = AiohttpWs(silent_url, connect_timeout=0.2)
    connecting = asyncio.ensure_future(ws.connect())
    # One turn of the loop: connect() makes its session before its first await. A timed wait could
    # outlast the 0.2 s timeout under load, and find the session already closed and let go.
    await asyncio.sleep(0)
    session = ws._session
    assert session is not None
    with pytest.raises(ConnectError):
        await asyncio.wait_for(connecting, 2)
    assert session.closed


async def test_a_cancelled_connect_closes_its_own_session(silent_url: str) -> None:
    """Cancelling connect() mid-handshake (a close() racing it) closes the session it made."""
    ws = AiohttpWs(silent_url, connect_timeout=5)
    connecting = asyncio.ensure_future(ws.connect())
    await asyncio.sleep(0.05)
    session = ws._session
    assert session is not None
    connecting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(connecting, 2)
    assert session.closed


async def test_a_timed_out_connect_leaves_a_shared_session_open(silent_url: str) -> None:
    """A session passed in belongs to the caller: a connect timeout does not close it."""
    async with aiohttp.ClientSession() as session:
        ws = AiohttpWs(silent_url, connect_timeout=0.2, session=session)
        with pytest.raises(ConnectError):
            await asyncio.wait_for(ws.connect(), 2)
        assert not session.closed

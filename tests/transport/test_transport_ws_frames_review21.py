"""Review round 21: AiohttpWs against large frames (a real aiohttp WebSocket server on 127.0.0.1)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from lotusx import ProtocolError, WsKind
from lotusx.transport import AiohttpWs
from tests.conftest import ServeApp

# A Binance 5000-level depth snapshot is some 300 kB of JSON; Bybit's orderbook.1000 some 60 kB.
SNAPSHOT = '{"bids":[' + ",".join(['["12345.67000000","0.12345000"]'] * 10000) + "]}"


@pytest.fixture
async def big_frames_url(serve_app: ServeApp) -> str:
    """A server sending one snapshot-sized text frame, then one frame of 17 MiB, then waiting."""
    async def send(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(SNAPSHOT)
        await ws.send_bytes(bytes(17 * 1024 * 1024))
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/ws", send)
    server = await serve_app(app)
    return str(server.make_url("/ws")).replace("http://", "ws://")


async def test_a_full_depth_snapshot_fits_the_default_cap_and_a_bigger_frame_is_a_protocol_error(
        big_frames_url: str) -> None:
    """A 5000-level snapshot arrives whole; a frame over max_msg_size (16 MiB) is a typed error, the socket closed."""
    ws = AiohttpWs(big_frames_url)
    await ws.connect()
    try:
        frame = await asyncio.wait_for(ws.next(), 10)
        assert (frame.kind, len(frame.data)) == (WsKind.TEXT, len(SNAPSHOT))
        with pytest.raises(ProtocolError, match="1009"):
            await asyncio.wait_for(ws.next(), 10)
        assert ws._ws is not None and ws._ws.closed
    finally:
        await ws.close()

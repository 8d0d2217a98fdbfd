"""AiohttpWs review 12: closing a socket whose peer never answers the close frame, over loopback."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from lotusx import Disconnected
from lotusx.transport import AiohttpWs
from tests.conftest import ServeApp


async def stream_and_ignore_close(request: web.Request) -> web.WebSocketResponse:
    """Send a message every 10 ms and never answer a close frame, until the client is gone."""
    ws = web.WebSocketResponse(autoclose=False)
    await ws.prepare(request)
    sequence = 0
    try:
        while True:
            await ws.send_str(f'{{"u":{sequence}}}')
            sequence += 1
            await asyncio.sleep(0.01)
    except ConnectionError:
        pass
    return ws


async def test_close_returns_when_the_peer_streams_on_and_never_answers_the_close(serve_app: ServeApp) -> None:
    """close() gives up on the closing handshake after connect_timeout instead of reading the stream forever."""
    app = web.Application()
    app.router.add_get("/ws", stream_and_ignore_close)
    server = await serve_app(app)
    ws = AiohttpWs(str(server.make_url("/ws")).replace("http://", "ws://"), connect_timeout=0.2)
    await ws.connect()
    await asyncio.wait_for(ws.next(), 2)
    await asyncio.wait_for(ws.close(), 5)  # a guard against the hang, not a timing assertion
    with pytest.raises(Disconnected):
        await ws.next()

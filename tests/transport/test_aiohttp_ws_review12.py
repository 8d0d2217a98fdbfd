"""AiohttpWs review 12, over loopback: a peer that never answers the close frame; a throttled or banned upgrade."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from lotusx import ConnectError, Disconnected, IpBanned, RateLimited
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


def refuse_upgrade(status: int, headers: dict[str, str]) -> web.Application:
    """An app answering the WebSocket upgrade with ``status`` and ``headers`` instead of 101."""

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_get("/ws", refuse)
    return app


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (418, IpBanned)])
async def test_a_throttled_upgrade_says_when_to_come_back(serve_app: ServeApp, status: int,
                                                          error: type[RateLimited]) -> None:
    """An upgrade refused with 429/418 raises RateLimited/IpBanned carrying the Retry-After seconds."""
    server = await serve_app(refuse_upgrade(status, {"Retry-After": "120"}))
    ws = AiohttpWs(str(server.make_url("/ws")).replace("http://", "ws://"))
    with pytest.raises(error) as raised:
        await ws.connect()
    assert (type(raised.value), raised.value.retry_after, raised.value.status) == (error, 120.0, status)


async def test_another_refused_upgrade_is_still_a_connect_error(serve_app: ServeApp) -> None:
    """An upgrade refused with another status (503) is a ConnectError, retried on the usual back-off."""
    server = await serve_app(refuse_upgrade(503, {"Retry-After": "120"}))
    ws = AiohttpWs(str(server.make_url("/ws")).replace("http://", "ws://"))
    with pytest.raises(ConnectError) as raised:
        await ws.connect()
    assert raised.value.status == 503

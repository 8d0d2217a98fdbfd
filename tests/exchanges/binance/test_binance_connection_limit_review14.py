"""Binance: "a limit of 300 connections per attempt every 5 minutes per IP" is charged before each WS connection.

Streams and the WebSocket API each have the limit (web-socket-streams.md "WebSocket Limits",
web-socket-api.md "Connection limits"); every attempt counts, reconnects included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import WSMsgType, web

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.binance.endpoints import WS_CONNECTIONS
from lotusx.layers.limiter import Pool
from lotusx.metrics import Metrics
from tests.conftest import ServeApp


class Streams:
    """A /stream endpoint that counts upgrades and acks every SUBSCRIBE."""

    def __init__(self) -> None:
        self.upgrades = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/stream", self.stream)
        return app

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        self.upgrades += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(orjson.dumps({"result": None, "id": orjson.loads(message.data)["id"]}).decode())
        return ws


@pytest.fixture
async def one_connection(serve_app: ServeApp) -> AsyncIterator[tuple[Binance, Streams, Metrics]]:
    """A Binance connector allowed one stream connection per 5 minutes, on a counting server."""
    streams, metrics = Streams(), Metrics()
    server = await serve_app(streams.app())
    url = f"ws://127.0.0.1:{server.port}"
    async with lotusx.connect("binance", rest_url=url.replace("ws", "http"), ws_url=url, metrics=metrics,
                              rate_limits={WS_CONNECTIONS: [Pool(WS_CONNECTIONS, 1, 300)]}, max_wait=0) as ex:
        yield ex, streams, metrics


async def test_a_connection_over_the_ip_limit_is_not_attempted(one_connection: tuple[Binance, Streams, Metrics]
                                                               ) -> None:
    """With the window's one connection taken, a second stream waits instead of connecting."""
    ex, streams, metrics = one_connection
    first = ex.watch_trades("BTCUSDT")
    pending = asyncio.ensure_future(anext(first))
    for _ in range(200):
        if streams.upgrades:
            break
        await asyncio.sleep(0.01)
    second = ex.watch_trades("ETHUSDT")
    waiting = asyncio.ensure_future(anext(second))
    def refused() -> float:
        return metrics.registry.get_sample_value(
            "lotusx_ws_connect_failures_total", {"exchange": "binance", "reason": "RateLimited"}) or 0.0

    for _ in range(200):
        if refused() or streams.upgrades > 1:
            break
        await asyncio.sleep(0.01)
    pending.cancel()
    waiting.cancel()
    await asyncio.gather(pending, waiting, return_exceptions=True)
    await first.aclose()
    await second.aclose()
    assert (streams.upgrades, refused()) == (1, 1.0)

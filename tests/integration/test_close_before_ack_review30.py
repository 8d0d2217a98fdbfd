"""Closing a connector while its watches still wait for the venue's subscription ack ends them quietly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import lotusx
from lotusx import Credentials

CREDS = Credentials(api_key="close-before-ack-key-0001", secret="close-before-ack-secret-0001")


@pytest.fixture
async def silent_venue() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A loopback server whose WebSockets accept every frame and answer none (no login, no ack).

    A plain GET gets the server time, in both venues' shapes at once (a login asks it first).
    """
    connected = asyncio.Event()

    async def socket(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            now = int(time.time() * 1000)
            return web.json_response({"serverTime": now, "retCode": 0, "retMsg": "OK", "retExtInfo": {}, "time": now,
                                      "result": {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}})
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connected.set()
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", socket)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", connected
    finally:
        await runner.cleanup()


async def drain(stream: Any) -> int:
    count = 0
    async for _ in stream:
        count += 1
    return count


@pytest.mark.parametrize("venue", ["binance", "bybit"])
@pytest.mark.parametrize("watch", ["watch_order_book", "watch_trades"])
async def test_a_public_watch_waiting_for_its_ack_ends_when_the_connector_closes(
        venue: str, watch: str, silent_venue: tuple[str, asyncio.Event]) -> None:
    """A public watch whose subscription the venue has not confirmed finishes its `async for`, no StreamError."""
    url, connected = silent_venue
    async with lotusx.connect(venue, rest_url=url, ws_url=url.replace("http", "ws")) as ex:
        watcher = asyncio.create_task(drain(getattr(ex, watch)("BTCUSDT")))
        await asyncio.wait_for(connected.wait(), 5)
        await asyncio.sleep(0.05)
        assert not watcher.done()
    assert await asyncio.wait_for(watcher, 5) == 0


async def test_a_private_watch_waiting_for_its_login_ends_when_the_connector_closes(
        silent_venue: tuple[str, asyncio.Event]) -> None:
    """Bybit's watch_orders, its login unanswered, finishes its `async for` when the connector closes."""
    url, connected = silent_venue
    async with lotusx.connect("bybit", credentials=CREDS, rest_url=url, ws_url=url.replace("http", "ws")) as ex:
        watcher = asyncio.create_task(drain(ex.watch_orders()))
        await asyncio.wait_for(connected.wait(), 5)
        await asyncio.sleep(0.05)
        assert not watcher.done()
    assert await asyncio.wait_for(watcher, 5) == 0

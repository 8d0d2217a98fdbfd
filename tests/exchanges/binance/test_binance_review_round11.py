"""Binance review, round 11: venue behaviour the connector missed, each checked against the official docs.

binance/binance-spot-api-docs: web-socket-streams.md "Server Shutdown" (the combined-stream form
``{"stream": "!serverShutdown", "data": {...}}``), web-socket-api.md "Connection events"
(``{"event": {"e": "serverShutdown", ...}}`` on the WebSocket API).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import WSMsgType, web

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.models import Order, Trade
from tests.conftest import ServeApp
from tests.exchanges.binance.test_binance_streams import TRADE, Venue, first, loopback, recorded

SHUTDOWN = {"e": "serverShutdown", "E": 1770123456789}


class Overlap(Venue):
    """Connection 1 announces a shutdown; a trade made while connection 2 subscribes goes out on both
    (each connection carries every trade of its streams), then a later one only on connection 2."""

    def __init__(self) -> None:
        super().__init__()
        self.sockets: list[web.WebSocketResponse] = []

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        self.stream_connections += 1
        first = self.stream_connections == 1
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            ack = orjson.dumps({"result": None, "id": orjson.loads(msg.data)["id"]}).decode()
            if first:
                await ws.send_str(ack)
                await ws.send_str(orjson.dumps({"stream": "btcusdt@trade", "data": TRADE | {"t": 1}}).decode())
                await ws.send_str(orjson.dumps({"stream": "!serverShutdown", "data": SHUTDOWN}).decode())
                continue
            overlap = {"stream": "btcusdt@trade", "data": TRADE | {"t": 2}}
            await self.sockets[0].send_str(orjson.dumps(overlap).decode())  # the old connection has it too
            await asyncio.sleep(0.1)
            await ws.send_str(ack)
            for trade in (overlap, {"stream": "btcusdt@trade", "data": TRADE | {"t": 3}}):
                await ws.send_str(orjson.dumps(trade).decode())
        return ws


@pytest.fixture
def venue() -> Venue:
    """The scripted venue of test_binance_streams."""
    return Venue()


@pytest.fixture
async def ex(venue: Venue, serve_app: ServeApp) -> AsyncIterator[Binance]:
    """A connector pointed at the scripted venue over loopback."""
    async with loopback(venue.app(), serve_app) as connector:
        yield connector


async def test_combined_stream_server_shutdown_rotates_the_connection(ex: Binance, venue: Venue) -> None:
    """The combined-stream form {"stream": "!serverShutdown", "data"} makes the stream open a new connection."""
    venue.first_connection = [{"stream": "!serverShutdown", "data": SHUTDOWN}]
    venue.market = [{"stream": "btcusdt@trade", "data": TRADE}]
    trades = ex.watch_trades("BTCUSDT")
    try:
        await asyncio.wait_for(anext(trades), 5.0)
        for _ in range(150):
            if venue.stream_connections >= 2:
                break
            await asyncio.sleep(0.02)
        assert venue.stream_connections == 2
    finally:
        await trades.aclose()  # type: ignore[attr-defined]


async def test_ws_api_server_shutdown_moves_the_user_subscription_to_a_new_connection(
        ex: Binance, venue: Venue) -> None:
    """A WebSocket API serverShutdown ({"event": {...}}, no subscriptionId) makes the user stream subscribe anew."""
    venue.user = [[orjson.dumps({"event": SHUTDOWN}).decode()], [recorded("ws_execution_report.json")]]
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"
    assert (venue.api_connections, len(venue.requests)) == (2, 2)


async def test_a_trade_both_connections_carry_during_a_rotation_comes_once(serve_app: ServeApp) -> None:
    """While a rotation overlaps two connections, a trade both deliver reaches watch_trades once (by trade id)."""
    venue = Overlap()
    server = await serve_app(venue.app())
    base = f"ws://127.0.0.1:{server.port}"
    async with lotusx.connect("binance", rest_url=base.replace("ws", "http"), ws_url=base) as ex:
        trades = ex.watch_trades("BTCUSDT")
        try:
            seen: list[Trade] = [await asyncio.wait_for(anext(trades), 5.0) for _ in range(3)]
        finally:
            await trades.aclose()  # type: ignore[attr-defined]
    assert venue.stream_connections == 2
    assert [trade.trade_id for trade in seen] == ["1", "2", "3"]

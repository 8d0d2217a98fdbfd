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

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.kernel.credentials import Credentials
from lotusx.metrics import Metrics
from lotusx.models import Order
from tests.conftest import ServeApp
from tests.exchanges.binance.test_binance_streams import KEY, SECRET, TRADE, Venue, first, recorded

SHUTDOWN = {"e": "serverShutdown", "E": 1770123456789}


@pytest.fixture
def venue() -> Venue:
    """The scripted venue of test_binance_streams."""
    return Venue()


@pytest.fixture
async def ex(venue: Venue, serve_app: ServeApp) -> AsyncIterator[Binance]:
    """A connector pointed at the scripted venue over loopback."""
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("binance", credentials=Credentials(KEY, SECRET), rest_url=base,
                              ws_url=base.replace("http", "ws"), ws_api_url=base.replace("http", "ws"),
                              metrics=Metrics()) as connector:
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

"""Closing a connector over real sockets (aiohttp both ends, loopback) with REST calls and streams in flight."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import lotusx
from lotusx import ConfigError, LotusXError
from lotusx.sim import Sim, SimConfig, serve
from tests.conftest import ServeApp

FAST = SimConfig(driver_rate=50.0, ping_interval=0.05, pong_timeout=0.5, idle_timeout=1.0)


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async with serve(("binance",), seed=1, config=FAST) as running:
        yield running


@pytest.mark.filterwarnings("error::ResourceWarning")
async def test_closing_with_calls_and_streams_in_flight_ends_every_task_and_leaks_no_socket(
        sim: Sim, serve_app: ServeApp) -> None:
    """Every REST call ends in a typed error, every stream's consumer returns, and no session or socket is left."""
    held, release = asyncio.Event(), asyncio.Event()
    arrived = 0

    async def hold(request: web.Request) -> web.Response:
        nonlocal arrived
        arrived += 1
        if arrived == 5:
            held.set()
        await release.wait()
        return web.Response(text="{}")

    app = web.Application()
    app.router.add_get("/api/v3/ticker/bookTicker", hold)
    rest = await serve_app(app)
    books = asyncio.Event()

    async def watch(ex: Any) -> int:
        seen = 0
        async for _ in ex.watch_ticker("BTCUSDT"):
            seen += 1
            books.set()
        return seen

    async with lotusx.connect("binance", rest_url=str(rest.make_url("")), ws_url=sim.ws_url("binance")) as ex:
        calls = [asyncio.create_task(ex.get_ticker("BTCUSDT")) for _ in range(5)]
        watchers = [asyncio.create_task(watch(ex)) for _ in range(2)]
        await asyncio.wait_for(asyncio.gather(held.wait(), books.wait()), 10)
    outcomes = await asyncio.wait_for(asyncio.gather(*calls, *watchers, return_exceptions=True), 10)
    release.set()

    assert all(isinstance(o, LotusXError) for o in outcomes[:5]), outcomes
    assert all(isinstance(o, int) and o > 0 for o in outcomes[5:]), outcomes
    with pytest.raises(ConfigError, match="closed"):
        await ex.get_ticker("BTCUSDT")
    await ex.aclose()  # twice: nothing to do, no error
    gc.collect()  # an unclosed session or socket warns here, and the warning is an error

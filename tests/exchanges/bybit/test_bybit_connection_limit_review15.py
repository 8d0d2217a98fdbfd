"""Bybit: "Do not build over 500 connections in 5 minutes. This is counted per WebSocket domain."

docs/v5/ws/connect "IP Limits" (and docs/v5/rate-limit "Websocket IP limit"): every connection
attempt, public or private, reconnects included, is charged to one pool before it is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import lotusx
from lotusx.exchanges.bybit import LIMITS, Bybit
from lotusx.exchanges.bybit.endpoints import WS_CONNECTIONS
from lotusx.layers.limiter import Pool
from lotusx.metrics import Metrics
from lotusx.sim import Sim

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def one_connection(sim: Sim, credentials: lotusx.Credentials) -> AsyncIterator[tuple[Bybit, Metrics]]:
    """A spot connector allowed one WebSocket connection per 5 minutes, on the sim."""
    metrics = Metrics()
    async with lotusx.connect("bybit", credentials=credentials, rest_url=sim.rest_url("bybit"),
                              ws_url=sim.ws_url("bybit"), metrics=metrics, max_wait=0,
                              rate_limits={WS_CONNECTIONS: [Pool(WS_CONNECTIONS, 1, 300)]}) as ex:
        yield ex, metrics


def refused(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value(
        "lotusx_ws_connect_failures_total", {"exchange": "bybit", "reason": "RateLimited"}) or 0.0


async def refused_while(stream: Callable[[], Any], metrics: Metrics) -> float:
    """Start ``stream`` and wait (bounded) until its connection attempt is refused; then stop it."""
    messages = stream()
    waiting = asyncio.ensure_future(anext(messages))
    for _ in range(300):
        if refused(metrics):
            break
        await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await messages.aclose()
    return refused(metrics)


def test_the_pool_is_the_documented_500_in_5_minutes_halved() -> None:
    """Both categories charge 250 a 5 minutes: the docs do not say how the window is counted."""
    assert all(Pool(WS_CONNECTIONS, 250, 300) in pools for pools in (LIMITS["spot"], LIMITS["linear"]))


async def test_a_public_connection_over_the_limit_is_not_attempted(one_connection: tuple[Bybit, Metrics]) -> None:
    """With the window's one connection taken by a stream, a second public stream is refused, not connected."""
    ex, metrics = one_connection
    await ex.subscribe(["publicTrade.BTCUSDT"])
    assert await refused_while(lambda: ex.watch_trades("ETHUSDT"), metrics) == 1.0


async def test_the_private_stream_charges_the_same_pool(one_connection: tuple[Bybit, Metrics]) -> None:
    """The private stream is on the same domain: its connection is refused once the public one took the window."""
    ex, metrics = one_connection
    await ex.subscribe(["publicTrade.BTCUSDT"])
    assert await refused_while(ex.watch_orders, metrics) == 1.0

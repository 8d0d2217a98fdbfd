"""Fixtures for the simulator tests: a quiet, fast sim and signed-request clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from sim_helpers import Binance, Bybit

from lotusx.sim import Sim, SimConfig, serve

FAST = SimConfig(driver_rate=0, depth_interval=0.02, ping_interval=0.05, pong_timeout=0.5, idle_timeout=1.0)
"""No random flow (books move only when a test trades), quick depth events and heartbeats."""


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Both venues on loopback, seed 1, fast timings, no random order flow."""
    async with serve(("binance", "bybit"), seed=1, config=FAST) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def binance(sim: Sim, http: aiohttp.ClientSession) -> Binance:
    """A Binance client holding the sim's HMAC key."""
    keys = sim.api_keys("binance")
    return Binance(http, sim.rest_url("binance"), keys.hmac_key, keys.hmac_secret)


@pytest.fixture
def bybit(sim: Sim, http: aiohttp.ClientSession) -> Bybit:
    """A Bybit client holding the sim's HMAC key."""
    keys = sim.api_keys("bybit")
    return Bybit(http, sim.rest_url("bybit"), keys.hmac_key, keys.hmac_secret)



"""Fixtures for the Bybit connector tests: a fast embedded sim and connectors on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import lotusx
from lotusx.exchanges.bybit import Bybit
from lotusx.sim import Sim, SimConfig, serve

FAST = SimConfig(depth_interval=0.02, driver_rate=0)
"""Quick depth events and no random flow: books move only when a test trades, so they compare exactly."""


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Bybit alone on loopback, seed 1."""
    async with serve(("bybit",), seed=1, config=FAST) as running:
        yield running


@pytest.fixture
def credentials(sim: Sim) -> lotusx.Credentials:
    """The sim's HMAC key."""
    keys = sim.api_keys("bybit")
    return lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)


@pytest.fixture
async def bybit(sim: Sim, credentials: lotusx.Credentials) -> AsyncIterator[Bybit]:
    """A spot connector on the sim."""
    async with lotusx.connect("bybit", credentials=credentials, rest_url=sim.rest_url("bybit"),
                              ws_url=sim.ws_url("bybit")) as ex:
        yield ex

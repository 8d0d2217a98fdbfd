"""A connector's ``aclose()`` cancelled half-way (a timeout or a TaskGroup around the ``async with`` exit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import lotusx
from lotusx.sim import Sim, SimConfig, serve

FAST = SimConfig(driver_rate=0, depth_interval=0.02, ping_interval=0.05, pong_timeout=0.5, idle_timeout=1.0)


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async with serve(("binance", "bybit"), seed=1, config=FAST) as running:
        yield running


async def first_book(ex: Any, symbol: str) -> asyncio.Task[None]:
    """A task watching ``symbol``'s book, returned once the first book came."""
    got = asyncio.Event()

    async def watch() -> None:
        async for _ in ex.watch_order_book(symbol):
            got.set()

    task = asyncio.create_task(watch())
    await asyncio.wait_for(got.wait(), 5)
    return task


async def cancelled_aclose(ex: Any) -> None:
    """Start ``ex.aclose()`` and cancel it at its first await (closing the raw stream)."""
    closing = asyncio.create_task(ex.aclose())
    await asyncio.sleep(0)  # under way: the raw stream's close is awaited
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(closing, 5)


@pytest.mark.parametrize(("venue", "symbol", "topic"), [("binance", "BTCUSDT", "btcusdt@trade"),
                                                        ("bybit", "BTCUSDT", "publicTrade.BTCUSDT")])
async def test_a_cancelled_aclose_still_ends_every_watcher_and_closes_rest(sim: Sim, venue: str, symbol: str,
                                                                          topic: str) -> None:
    """Cancelled while closing its first stream, aclose() still ends the watchers and refuses later calls."""
    ex = await lotusx.connect(venue, rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)).__aenter__()
    try:
        watcher = await first_book(ex, symbol)
        await ex.subscribe([topic])  # the raw stream: closed first
        await cancelled_aclose(ex)
        await asyncio.wait_for(watcher, 5)  # its `async for` ended: the stream was closed
        assert ex.rest.closed
        with pytest.raises(lotusx.ConfigError, match="closed"):
            await ex.get_order_book(symbol, 5)
    finally:
        await asyncio.wait_for(ex.aclose(), 5)

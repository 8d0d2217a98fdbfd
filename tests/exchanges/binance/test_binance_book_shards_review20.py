"""Binance books over several connections: one connection's reconnect resyncs only its own books."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

import lotusx
from lotusx.exchanges.binance import connector
from lotusx.metrics import Metrics
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import MAKER
from lotusx.ws import ReconnectWs

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """A quiet Binance: its books move only when the test trades."""
    async with serve(("binance",), seed=1, config=SimConfig(driver_rate=0, depth_interval=0.02)) as running:
        yield running


async def test_a_reconnect_of_eths_connection_leaves_btcs_book_alone(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    """BTC and ETH books on two connections: ETH's dropping resyncs ETH only; BTC's next diff applies."""
    monkeypatch.setattr(connector, "DIALECT", dataclasses.replace(connector.DIALECT, max_streams=1))
    metrics = Metrics()
    async with lotusx.connect("binance", rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"),
                              metrics=metrics) as binance:
        books = binance.watch_order_books(["BTCUSDT", "ETHUSDT"])
        assert {(await asyncio.wait_for(anext(books), 5)).symbol for _ in range(2)} == {"BTCUSDT", "ETHUSDT"}
        ws = next(stream for stream in binance.parts.streams if isinstance(stream, ReconnectWs))
        eth = ws.shard_of("ethusdt@depth@100ms")
        assert eth is not None and eth != ws.shard_of("btcusdt@depth@100ms")
        ws._shards[eth].drop("test")  # one connection of the two, as the venue would
        assert (await asyncio.wait_for(anext(books), 5)).symbol == "ETHUSDT"  # its snapshot, once resumed
        engine = sim.engine("binance")
        price = engine.books["BTCUSDT"].levels("SELL", 1)[0][0]
        engine.place(MAKER, "BTCUSDT", "SELL", "LIMIT", quantity=Decimal("0.001"), price=price)
        assert (await asyncio.wait_for(anext(books), 5)).symbol == "BTCUSDT"
        await books.aclose()

    def resyncs(symbol: str) -> float:
        return sum(sample.value for family in metrics.registry.collect() for sample in family.samples
                   if sample.name.endswith("book_resyncs_total") and sample.labels["symbol"] == symbol)

    assert (resyncs("ETHUSDT"), resyncs("BTCUSDT")) == (1, 0)

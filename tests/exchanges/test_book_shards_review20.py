"""Books over several connections, on either venue: one connection's reconnect resyncs only its own books."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest

import lotusx
from lotusx.exchanges.binance import connector
from lotusx.exchanges.bybit import streams
from lotusx.metrics import Metrics
from lotusx.sim import SimConfig, serve
from lotusx.sim.venue import MAKER
from lotusx.ws import ReconnectWs

pytestmark = pytest.mark.timeout(30)


@dataclasses.dataclass(frozen=True)
class Case:
    venue: str
    topic: str  # the book stream's name, {} for the symbol
    category: tuple[str, ...]  # the sim engine's category arguments

    def stream(self, symbol: str) -> str:
        """The book stream of ``symbol`` (Binance names streams in lower case)."""
        return self.topic.format(symbol.lower() if self.venue == "binance" else symbol)

    def one_book_a_connection(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Shrink the venue's per-connection cap so that each book gets a connection of its own."""
        if self.venue == "binance":
            monkeypatch.setattr(connector, "DIALECT", dataclasses.replace(connector.DIALECT, max_streams=1))
        else:
            monkeypatch.setattr(streams, "PUBLIC_ARGS_CHARS", 30)


CASES = [Case("binance", "{}@depth@100ms", ()), Case("bybit", "orderbook.50.{}", ("spot",))]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.venue)
async def test_a_reconnect_of_eths_connection_leaves_btcs_alone(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """BTC and ETH books on two connections: ETH's dropping resyncs ETH only; BTC's next update applies."""
    case.one_book_a_connection(monkeypatch)
    metrics = Metrics()
    async with serve((case.venue,), seed=1, config=SimConfig(driver_rate=0, depth_interval=0.02)) as sim, \
            lotusx.connect(case.venue, rest_url=sim.rest_url(case.venue), ws_url=sim.ws_url(case.venue),
                           metrics=metrics) as exchange:
        books = exchange.watch_order_books(["BTCUSDT", "ETHUSDT"])
        assert {(await asyncio.wait_for(anext(books), 5)).symbol for _ in range(2)} == {"BTCUSDT", "ETHUSDT"}
        ws = next(stream for stream in exchange.parts.streams if isinstance(stream, ReconnectWs))
        eth = ws.shard_of(case.stream("ETHUSDT"))
        assert eth is not None and eth != ws.shard_of(case.stream("BTCUSDT"))
        ws._shards[eth].drop("test")  # one connection of the two, as the venue would
        assert (await asyncio.wait_for(anext(books), 5)).symbol == "ETHUSDT"  # its new snapshot
        engine = sim.engine(case.venue, *case.category)
        price = engine.books["BTCUSDT"].levels("SELL", 1)[0][0]
        engine.place(MAKER, "BTCUSDT", "SELL", "LIMIT", quantity=Decimal("0.001"), price=price)
        assert (await asyncio.wait_for(anext(books), 5)).symbol == "BTCUSDT"
        await books.aclose()

    def resyncs(symbol: str) -> float:
        return sum(sample.value for family in metrics.registry.collect() for sample in family.samples
                   if sample.name.endswith("book_resyncs_total") and sample.labels["symbol"] == symbol)

    assert (resyncs("ETHUSDT"), resyncs("BTCUSDT")) == (1, 0)

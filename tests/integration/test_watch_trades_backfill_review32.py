"""watch_trades after a reconnect: the trades made while the socket was down come too, once each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

import lotusx
from lotusx.metrics import Metrics
from lotusx.models import Trade
from lotusx.sim import Sim, serve
from lotusx.sim.chaos import Chaos
from lotusx.sim.venue import USER, SimConfig
from tests.conftest import eventually

BTC = "BTCUSDT"


@dataclass
class Watched:
    """A live ``watch_trades(BTC)`` on the sim: what it yielded since it went live, and a way to make a trade."""

    sim: Sim
    chaos: Chaos
    base: str
    streamed: list[Trade]
    take: Callable[[str], Awaitable[object]]
    metrics: Metrics


@contextlib.asynccontextmanager
async def watching(name: str) -> AsyncIterator[Watched]:
    """The sim of venue ``name``, a connector to it, and its trades of BTC watched from a task, once live."""
    base = "bybit" if name.startswith("bybit") else name
    async with serve(venues=(base,), config=SimConfig(driver_rate=0)) as sim:
        keys = sim.api_keys(base)
        async with lotusx.connect(name, credentials=lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(base), ws_url=sim.ws_url(base)) as ex:
            streamed: list[Trade] = []

            async def watch() -> None:
                async for trade in ex.watch_trades(BTC):
                    streamed.append(trade)

            def take(quantity: str) -> Awaitable[object]:
                return ex.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="MARKET",
                                                      quantity=Decimal(quantity)))

            task = asyncio.create_task(watch())
            try:
                async with asyncio.timeout(10):
                    while not streamed:  # until the subscription is live: one of these trades comes
                        await take("0.001")
                        await asyncio.sleep(0.05)
                streamed.clear()
                yield Watched(sim, sim.chaos(base), base, streamed, take, ex.metrics)
                await asyncio.sleep(0.2)  # nothing more comes: no trade twice
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def quantities(trades: list[Trade]) -> list[Decimal]:
    return [trade.quantity for trade in trades]


@pytest.mark.parametrize("name", ["binance", "bybit", "bybit-linear"])
async def test_a_trade_made_while_the_stream_was_down_is_yielded_after_the_reconnect(name: str) -> None:
    """The trades of the outage are fetched from the recent trades once the stream is back; none twice."""
    async with watching(name) as w:
        w.chaos.refuse_ws = True
        w.chaos.drop_ws_once = 1  # the next trade is sent, then the socket closes
        await w.take("0.002")
        await eventually(lambda: len(w.streamed) == 1 and w.sim.venue(w.base).hub.listeners == 0, "the drop")
        await w.take("0.003")  # while the stream is down
        w.chaos.refuse_ws = False
        await eventually(lambda: len(w.streamed) >= 2, "the missed trade")
        await w.take("0.004")  # the stream again
        await eventually(lambda: len(w.streamed) >= 3, "the next trade")
    assert quantities(w.streamed) == [Decimal("0.002"), Decimal("0.003"), Decimal("0.004")]


@pytest.mark.parametrize("knob", ["garble_ws_data", "truncate_ws_data"])
@pytest.mark.parametrize("name", ["binance", "bybit"])
async def test_a_trade_message_that_cannot_be_read_is_fetched_instead(name: str, knob: str) -> None:
    """A trade push that fails its schema or is cut short is found in the recent trades at the next message."""
    async with watching(name) as w:
        setattr(w.chaos, knob, 1)
        await w.take("0.002")  # its push cannot be read
        await w.take("0.003")
        await eventually(lambda: len(w.streamed) >= 2, "the trades")
    assert quantities(w.streamed) == [Decimal("0.002"), Decimal("0.003")]


def requests(metrics: Metrics, endpoint: str) -> float:
    """REST requests the connector sent to ``endpoint`` that the venue answered with a 2xx."""
    sample = metrics.registry.get_sample_value(
        "lotusx_requests_total", {"exchange": "binance", "endpoint": endpoint, "status_class": "2xx"})
    return sample or 0.0


async def test_binance_walks_the_trades_an_outage_hid_from_the_last_id() -> None:
    """Binance: 2,500 trades made while the stream is down come from historicalTrades in 3 pages, in id order, once."""
    async with watching("binance") as w:
        w.chaos.refuse_ws = True
        w.chaos.drop_ws_once = 1
        await w.take("0.002")
        await eventually(lambda: len(w.streamed) == 1 and w.sim.venue(w.base).hub.listeners == 0, "the drop")
        engine = w.sim.engine("binance")
        for _ in range(2500):  # others trade while the stream is down: straight into the venue, for speed
            engine.place(USER, BTC, "BUY", "MARKET", quantity=Decimal("0.00001"))
        w.chaos.refuse_ws = False
        await w.take("0.004")  # the stream again
        newest = engine.trades[BTC][-1].trade_id
        await eventually(lambda: bool(w.streamed) and int(w.streamed[-1].trade_id) == newest, "every trade")
    ids = [int(trade.trade_id) for trade in w.streamed]
    assert ids == list(range(ids[0], newest + 1)) and len(ids) > 2500
    assert (requests(w.metrics, "historical_trades"), requests(w.metrics, "trades")) == (3, 0)

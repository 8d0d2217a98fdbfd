"""Bybit public streams for many symbols: "up to 10 args for each subscription request" is per request.

docs/v5/ws/connect "Public channel - Args limits": spot takes at most 10 args per subscribe
request, and one public connection at most 21,000 characters of args. So 300 spot symbols fit
on one connection, subscribed in requests of 10 (the sim refuses a larger one), not 30 connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.exchanges.bybit import Bybit
from lotusx.exchanges.bybit.streams import BookMessage, TradeMessage
from lotusx.kernel.errors import SubscriptionRejected
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Market
from lotusx.ws import Gap

pytestmark = pytest.mark.timeout(60)

SYMBOLS = [f"T{i:03d}USDT" for i in range(300)]
# Quoted in USDT on BTC's funds (the sim's market maker holds BTC), cheap to trade.
MANY = SimConfig(depth_interval=0.02, driver_rate=0, markets=tuple(
    Market(symbol, "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal(100)) for symbol in SYMBOLS))


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Bybit listing 300 symbols, on loopback."""
    async with serve(("bybit",), seed=1, config=MANY) as running:
        yield running


@pytest.fixture
async def bybit(sim: Sim) -> AsyncIterator[Bybit]:
    """A spot connector on that sim."""
    async with lotusx.connect("bybit", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        yield ex


def books(symbols: list[str], depth: int = 50) -> list[str]:
    return [f"orderbook.{depth}.{symbol}" for symbol in symbols]


def trades(symbols: list[str]) -> list[str]:
    return [f"publicTrade.{symbol}" for symbol in symbols]


async def topics_seen(messages: AsyncIterator[Any], wanted: set[str], kind: type,
                      stop: Callable[[Any], bool] = lambda m: False) -> set[str]:
    """The topics of ``kind`` messages, read until each of ``wanted`` came (bounded: a few per topic)."""
    seen: set[str] = set()
    for _ in range(20 * len(wanted) + 100):
        message = await anext(messages)
        if stop(message):
            break
        if isinstance(message, kind):
            seen.add(message.topic)
            if wanted <= seen:
                break
    return seen


def trade_everywhere(sim: Sim) -> None:
    """A small market buy on every symbol: each publicTrade topic gets one trade."""
    engine = sim.engine("bybit", "spot")
    for symbol in SYMBOLS:
        engine.place("user", symbol, "BUY", "MARKET", quantity=Decimal("0.001"))


async def test_300_spot_symbols_share_one_connection_and_every_stream_is_live(sim: Sim, bybit: Bybit) -> None:
    """Books and trades of 300 spot symbols go on one connection; each book gets its snapshot, each trade comes."""
    await bybit.subscribe(books(SYMBOLS) + trades(SYMBOLS))
    ws = bybit.stream()
    assert ws.stats.connections == 1
    messages = aiter(ws)
    assert await topics_seen(messages, set(books(SYMBOLS)), BookMessage) == set(books(SYMBOLS))
    trade_everywhere(sim)
    assert await topics_seen(messages, set(trades(SYMBOLS)), TradeMessage) == set(trades(SYMBOLS))


async def test_a_request_the_venue_refuses_fails_only_its_bad_topic(bybit: Bybit) -> None:
    """An unknown symbol fails the request of 10 it went in, asked for again in halves: every good topic streams."""
    good = books(SYMBOLS[:25])
    with pytest.raises(SubscriptionRejected, match=r"NOPEUSDT.*handler not found"):
        await bybit.subscribe([*good[:12], "orderbook.50.NOPEUSDT", *good[12:]])
    ws = bybit.stream()
    assert ws.stats.streams == 25
    assert await topics_seen(aiter(ws), set(good), BookMessage) == set(good)


async def test_resubscribe_after_a_dropped_connection_restores_every_topic(sim: Sim, bybit: Bybit) -> None:
    """The venue dropping the connection: the next one resubscribes all 300 books, 10 a request, and each resyncs."""
    await bybit.subscribe(books(SYMBOLS))
    messages = aiter(bybit.stream())
    await topics_seen(messages, set(books(SYMBOLS)), BookMessage)
    # This connection sent 30 acks and 300 snapshots: it is closed after its next message, a delta.
    sim.chaos("bybit").drop_ws_after = 331
    sim.engine("bybit", "spot").place("user", SYMBOLS[0], "BUY", "MARKET", quantity=Decimal("0.001"))
    for _ in range(10):  # the delta, then the Gap
        if isinstance(await anext(messages), Gap):
            break
    again = await topics_seen(messages, set(books(SYMBOLS)), BookMessage, stop=lambda m: isinstance(m, Gap))
    sim.chaos("bybit").drop_ws_after = None
    assert again == set(books(SYMBOLS))
    assert (bybit.stream().stats.connections, bybit.stream().stats.streams) == (1, 300)


async def test_topics_past_the_args_budget_go_on_a_second_connection(bybit: Bybit) -> None:
    """900 topics (over 21,000 characters) take two connections, each within the budget the sim enforces."""
    topics = books(SYMBOLS) + books(SYMBOLS, 1000) + trades(SYMBOLS)
    assert len(orjson.dumps(topics)) > 21_000  # as the sim measures a connection's args
    await bybit.subscribe(topics)
    assert (bybit.stream().stats.connections, bybit.stream().stats.streams) == (2, 900)

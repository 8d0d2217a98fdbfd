"""A session recorded against the simulator replays offline, with no sim running, to equal typed results."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import lotusx
from lotusx import ConfigError, Credentials, NewOrder, OrderBook, Trade
from lotusx.sim import serve
from lotusx.testing import FakeWs, Record, RecordWs, ReplayWs, replay_transport
from lotusx.transport import AiohttpWs

pytestmark = pytest.mark.timeout(60)
SYMBOL = "BTCUSDT"


async def first_trades(ex: Any, count: int) -> list[Trade]:
    """The first ``count`` public trades ``watch_trades`` yields."""
    got: list[Trade] = []
    async for trade in ex.watch_trades(SYMBOL):
        got.append(trade)
        if len(got) == count:
            break
    return got


async def a_session(ex: Any) -> tuple[object, ...]:
    """What a strategy does and sees: a book, an order placed, three public trades."""
    book = await ex.get_order_book(SYMBOL, 5)
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.001"),
                                          client_order_id="replay-1"))
    trades = await asyncio.wait_for(first_trades(ex, 3), 20)
    return book, order, trades


async def test_a_recorded_session_replays_offline_to_equal_typed_results(tmp_path: Path) -> None:
    """Book, order and trades read from the recordings equal the live run's, prices exact Decimals."""
    rest, ws = tmp_path / "rest.jsonl", tmp_path / "ws.jsonl"
    async with serve(venues=("binance",), seed=1) as sim:
        keys = sim.api_keys("binance")
        creds = Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)
        async with lotusx.connect("binance", credentials=creds, rest_url=sim.rest_url("binance"),
                                  ws_url=sim.ws_url("binance"), inner=[Record(rest)],
                                  ws_session=lambda url: RecordWs(AiohttpWs(url), ws)) as ex:
            live = await a_session(ex)
    replayed = ReplayWs(ws)
    async with lotusx.connect("binance", credentials=creds, transport=replay_transport(rest),
                              ws_session=lambda url: replayed) as ex:
        again = await a_session(ex)
    assert again == live
    book, _, trades = again
    assert all(type(v) is Decimal for t in trades for v in (t.price, t.quantity))
    assert all(type(v) is Decimal for level in book.bids for v in level) and len(book.bids) == 5
    text = rest.read_text() + ws.read_text()
    assert keys.hmac_key not in text and keys.hmac_secret not in text


async def first_books(ex: Any, count: int) -> list[OrderBook]:
    """The first ``count`` books ``watch_order_book`` yields (a REST snapshot, then the stream's diffs)."""
    got: list[OrderBook] = []
    async for book in ex.watch_order_book(SYMBOL, 5):
        got.append(book)
        if len(got) == count:
            break
    return got


async def test_a_recorded_book_stream_replays_to_the_same_books(tmp_path: Path) -> None:
    """The maintained book, synced from a recorded snapshot and recorded diffs, is the live run's, book by book."""
    rest, ws = tmp_path / "rest.jsonl", tmp_path / "ws.jsonl"
    async with serve(venues=("binance",), seed=1) as sim, lotusx.connect(
            "binance", rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"), inner=[Record(rest)],
            ws_session=lambda url: RecordWs(AiohttpWs(url), ws)) as ex:
        live = await asyncio.wait_for(first_books(ex, 5), 20)
    replayed = ReplayWs(ws)
    async with lotusx.connect("binance", transport=replay_transport(rest), ws_session=lambda url: replayed) as ex:
        assert await asyncio.wait_for(first_books(ex, 5), 20) == live

async def test_a_bybit_session_replays_without_its_key_or_signature_recorded(tmp_path: Path) -> None:
    """Bybit's header-signed calls are recorded with no key nor signature and replay to equal results."""
    rest = tmp_path / "rest.jsonl"
    order = NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.001"), client_order_id="replay-2")
    async with serve(venues=("bybit",), seed=1) as sim:
        keys = sim.api_keys("bybit")
        creds = Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)
        async with lotusx.connect("bybit", credentials=creds, rest_url=sim.rest_url("bybit"),
                                  inner=[Record(rest)]) as ex:
            live = (await ex.get_order_book(SYMBOL, 5), await ex.place_order(order))
    async with lotusx.connect("bybit", credentials=creds, transport=replay_transport(rest)) as ex:
        assert (await ex.get_order_book(SYMBOL, 5), await ex.place_order(order)) == live
    text = rest.read_text()
    assert keys.hmac_key not in text and keys.hmac_secret not in text and "X-BAPI" not in text

async def test_a_replayed_connector_refuses_a_call_the_recording_never_saw(tmp_path: Path) -> None:
    """A call beyond the recording raises ConfigError naming it, instead of a venue error or a 404."""
    rest = tmp_path / "rest.jsonl"
    async with serve(venues=("binance",), seed=1) as sim, lotusx.connect(
            "binance", rest_url=sim.rest_url("binance"), inner=[Record(rest)]) as ex:
        await ex.get_order_book(SYMBOL, 5)
    async with lotusx.connect("binance", transport=replay_transport(rest)) as ex:
        await ex.get_order_book(SYMBOL, 5)
        with pytest.raises(ConfigError, match="GET /api/v3/depth"):
            await ex.get_order_book(SYMBOL, 5)


async def test_ws_session_that_is_not_a_function_is_a_config_error() -> None:
    """ws_session= given a session instead of a function of the URL says what it takes."""
    with pytest.raises(ConfigError, match="ws_session= takes a function"):
        async with lotusx.connect("binance", ws_session=FakeWs()):  # type: ignore[arg-type]
            pass

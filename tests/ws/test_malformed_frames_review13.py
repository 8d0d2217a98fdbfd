"""One malformed frame: typed, counted and passed on by the venues' frame stages, never raised out of them."""

from __future__ import annotations

import gzip
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from lotusx.book import BookEvent, DiffSync, Gap
from lotusx.exchanges.binance.schemas import TradeEvent
from lotusx.exchanges.binance.streams import DIALECT, market_frames, user_frames
from lotusx.exchanges.bybit.schemas import WsFrame
from lotusx.exchanges.bybit.streams import WalletMessage, bybit_frames
from lotusx.metrics import Metrics
from lotusx.ws import Malformed, Parse
from lotusx.ws.deflate import Inflate
from lotusx.ws.frames import Drop
from tests.ws.test_reconnect import VenueWs, make, next_of

PAYLOADS = Path(__file__).parents[1] / "exchanges"


def recorded(venue: str, name: str) -> Any:
    return orjson.loads((PAYLOADS / venue / "payloads" / name).read_bytes())


def malformed(metrics: Metrics, exchange: str, reason: str) -> float:
    return metrics.registry.get_sample_value("lotusx_ws_malformed_frames_total",
                                             {"exchange": exchange, "reason": reason}) or 0.0


def combined(stream: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"stream": stream, "data": data})


TRADE = combined("bnbbtc@trade", recorded("binance", "ws_trade.json"))


class TestNotUtf8:
    def test_a_garbled_byte_in_the_stream_name_is_reported_not_raised(self) -> None:
        """A frame cut short with a non-UTF-8 byte in its head's name comes out as a Malformed."""
        metrics = Metrics()
        out = Parse(errors=True, metrics=metrics, exchange="x", name_key="stream")(b'{"stream":"btc\xffusdt@depth","d')
        assert type(out) is Malformed and out.reason == "json" and out.stream == "btc\ufffdusdt@depth"
        assert malformed(metrics, "x", "json") == 1

    def test_invalid_utf8_inside_binance_data_is_a_malformed_naming_the_stream(self) -> None:
        """Binance: invalid UTF-8 inside ``data`` (left raw by the envelope) is a counted Malformed, not raised."""
        metrics = Metrics()
        frame = TRADE.replace(b'"BNBBTC"', b'"BNB\xbeBTC"')
        [out] = market_frames(metrics)(frame)
        assert type(out) is Malformed and out.stream == "bnbbtc@trade"
        assert malformed(metrics, "binance", "json") == 1

    def test_invalid_utf8_inside_bybit_data_passes_the_frame_on_counted(self) -> None:
        """Bybit: invalid UTF-8 inside a topic's ``data`` passes the untyped frame on, counted."""
        metrics = Metrics()
        delta = orjson.dumps(recorded("bybit", "ws_orderbook_delta.json"))
        frame = delta.replace(b'"s":"BTCUSDT"', b'"s":"BTC\xffUSDT"')
        [out] = bybit_frames(metrics)(frame)
        assert type(out) is WsFrame and out.topic == "orderbook.50.BTCUSDT"
        assert malformed(metrics, "bybit", "json") == 1

    async def test_one_such_frame_costs_no_reconnect(self) -> None:
        """Through ReconnectWs: after a frame garbled in its stream name, the next trade comes on the same socket."""
        metrics, venue = Metrics(), VenueWs()
        async with make(venue, dialect=DIALECT, frames=market_frames(metrics), metrics=metrics) as ws:
            await ws.subscribe(["bnbbtc@trade"])
            venue.feed(TRADE.replace(b"bnbbtc@", b"bnb\x80btc@")[:40], TRADE)
            first, second = await next_of(ws), await next_of(ws)
        assert type(first) is Malformed and isinstance(second, TradeEvent)
        assert venue.connects == 1


class TestBybitPushWithoutData:
    @pytest.mark.parametrize("topic", ["wallet", "order", "orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"])
    def test_is_passed_on_counted(self, topic: str) -> None:
        """A topic push with no ``data`` passes the untyped frame on (its topic lost a message), counted."""
        metrics = Metrics()
        [out] = bybit_frames(metrics)(orjson.dumps({"topic": topic, "creationTime": 1700034722104}))
        assert type(out) is WsFrame and out.topic == topic
        assert malformed(metrics, "bybit", "json") == 1


class TestNoAmount:
    @pytest.mark.parametrize(("stream", "name", "field", "value"), [
        ("bnbbtc@trade", "ws_trade.json", "p", b'"NaN"'),
        ("bnbbtc@trade", "ws_trade.json", "q", b'"-100"'),
        ("bnbusdt@bookTicker", "ws_book_ticker.json", "a", b'"Infinity"'),
        ("bnbusdt@bookTicker", "ws_book_ticker.json", "B", b"-1e400"),  # a JSON number
    ])
    def test_binance_market_event_fails_its_schema(self, stream: str, name: str, field: str, value: bytes) -> None:
        """A NaN, Infinity or negative price or quantity in a Binance event is a Malformed, not a Decimal handed on."""
        metrics = Metrics()
        frame = combined(stream, recorded("binance", name) | {field: "?"}).replace(b'"?"', value)
        [out] = market_frames(metrics)(frame)
        assert type(out) is Malformed and out.stream == stream
        assert malformed(metrics, "binance", "schema") == 1

    @pytest.mark.parametrize(("path", "value"), [(("q",), "sNaN"), (("z",), "-1"), (("B", 0, "f"), "NaN")])
    def test_binance_account_event_fails_its_schema(self, path: tuple[Any, ...], value: str) -> None:
        """An execution report or account position with an amount that is no amount is a Malformed."""
        metrics = Metrics()
        event = recorded("binance", "ws_execution_report.json" if path[0] != "B" else "ws_account_position.json")
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        [out] = user_frames(metrics)(orjson.dumps({"subscriptionId": 0, "event": event}))
        assert type(out) is Malformed and out.reason == "schema"

    @pytest.mark.parametrize(("name", "field", "value"), [
        ("ws_public_trade.json", "p", "abc"),  # watch_trades' Decimal("abc") raised decimal.InvalidOperation
        ("ws_public_trade.json", "v", "NaN"),
        ("ws_order.json", "qty", "-1"),
        ("ws_order.json", "price", "Infinity"),
        ("ws_wallet.json", "walletBalance", "NaN"),
    ])
    def test_bybit_push_fails_its_schema(self, name: str, field: str, value: str) -> None:
        """A Bybit push with an amount that is no amount passes on untyped (its topic lost a message), counted."""
        metrics = Metrics()
        push = recorded("bybit", name)
        row = push["data"][0]
        (row["coin"][0] if field == "walletBalance" else row)[field] = value
        [out] = bybit_frames(metrics)(orjson.dumps(push))
        assert type(out) is WsFrame
        assert malformed(metrics, "bybit", "schema") == 1

    def test_a_bybit_balance_below_zero_is_read(self) -> None:
        """A unified account's walletBalance may be below zero (a borrowed coin): still a WalletMessage."""
        push = recorded("bybit", "ws_wallet.json")
        push["data"][0]["coin"][0]["walletBalance"] = "-0.5"
        [out] = bybit_frames(Metrics())(orjson.dumps(push))
        assert type(out) is WalletMessage and out.accounts[0].coin[0].walletBalance == Decimal("-0.5")


class TestInflateCutShort:
    def test_a_large_gzip_frame_cut_short_is_malformed_not_passed_on(self) -> None:
        """A gzip frame past the one-call size, cut short, is counted and dropped, not handed on in part."""
        metrics = Metrics()
        stage = Inflate(max_size=1 << 20, metrics=metrics, exchange="x")
        whole = gzip.compress(os.urandom(20_000).hex().encode())
        assert len(whole) * 1032 > stage.max_size  # the capped decompressor's path
        with pytest.raises(Drop):
            stage(whole[: len(whole) // 2])
        assert malformed(metrics, "x", "inflate") == 1


class TestBookUpdateIds:
    def test_a_diff_whose_first_id_is_past_its_last_is_a_gap(self) -> None:
        """A diff with U > u on a synced book discards the book (Gap), rather than dropping it as stale."""
        sync = DiffSync("BNBBTC")
        sync.on_snapshot([("0.0024", "10")], [("0.0026", "100")], 156)
        outcome = sync.on_event(BookEvent(157, 0, [("0.0024", "0")], []))
        assert isinstance(outcome, Gap) and not sync.synced


"""A seeded mutation test: 2 000 mutants of real venue frames through the connectors' own frame stages.

Each mutant is one recorded frame (tests/exchanges/*/payloads) with one fault: cut short, a byte
flipped, bytes that are not UTF-8, a value of another JSON type, a field missing or added, a huge
number, "NaN"/"Infinity"/a negative amount, an empty level list, unicode; compressed variants cut
short or flipped, and a decompression bomb. For every mutant: nothing but a typed message, a
counted ``Malformed`` (or Bybit's counted untyped frame) or nothing comes out, no exception; no
amount is NaN, infinite or below zero; a book fed the result holds only real levels or waits for
a resync; and the recorded frame decodes as before right after it.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import orjson

from lotusx.book import BookEvent, DiffSync, SnapshotDeltaSync, readable
from lotusx.exchanges.binance import schemas as bs
from lotusx.exchanges.binance.streams import DIALECT, Ack, Answer, market_frames, user_frames
from lotusx.exchanges.bybit import schemas as ys
from lotusx.exchanges.bybit.streams import BookMessage, Control, OrderMessage, TradeMessage, WalletMessage, bybit_frames
from lotusx.metrics import Metrics
from lotusx.models import OrderBook
from lotusx.ws import Frames, Gap, Malformed, frames
from lotusx.ws.deflate import Inflate
from tests.conftest import json_paths
from tests.ws.test_reconnect import VenueWs, make, next_of

SEED = 20261207
COUNT = 2_000
PAYLOADS = Path(__file__).parents[1] / "exchanges"
HUGE = ("1e400", "-1e400", "9" * 400, "-" + "9" * 400)  # written into the JSON as numbers
SPECIAL: tuple[Any, ...] = (None, True, 0, -1, 1.5, "", "NaN", "Infinity", "-Infinity", "sNaN", "-5", "abc", [], {},
                            ["1", "2"], "\u00e9\u4e2d\U0001f600", "\ud7ff", *HUGE)
BYBIT_DATA_TOPICS = ("orderbook.", "publicTrade.", "order", "wallet")


def recorded(venue: str, name: str) -> Any:
    return orjson.loads((PAYLOADS / venue / "payloads" / name).read_bytes())


def binance_market() -> dict[str, Any]:
    return {"depth": {"stream": "bnbbtc@depth@100ms", "data": recorded("binance", "ws_depth_update.json")},
            "trade": {"stream": "bnbbtc@trade", "data": recorded("binance", "ws_trade.json")},
            "bookTicker": {"stream": "bnbusdt@bookTicker", "data": recorded("binance", "ws_book_ticker.json")},
            "ack": {"result": None, "id": 3}}


def binance_user() -> dict[str, Any]:
    return {"execution": {"subscriptionId": 0, "event": recorded("binance", "ws_execution_report.json")},
            "position": recorded("binance", "ws_api_account_position.json"),
            "answer": recorded("binance", "ws_api_subscribed.json")}


def bybit() -> dict[str, Any]:
    return {name: recorded("bybit", f"ws_{name}.json") for name in (
        "orderbook_snapshot", "orderbook_delta", "public_trade", "order", "wallet", "auth", "pong_public",
        "pong_private", "subscribe")}


# What each recorded frame decodes to, unmutated.
EXPECTED: dict[str, type] = {
    "depth": bs.DepthUpdate, "trade": bs.TradeEvent, "bookTicker": bs.BookTickerEvent, "ack": Ack,
    "execution": bs.ExecutionReport, "position": bs.AccountPosition, "answer": Answer,
    "orderbook_snapshot": BookMessage, "orderbook_delta": BookMessage, "public_trade": TradeMessage,
    "order": OrderMessage, "wallet": WalletMessage, "auth": Control, "pong_public": Control,
    "pong_private": Control, "subscribe": Control,
}


def dumps(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for huge in HUGE:  # huge numbers travel as marked strings: json cannot write 1e400 as a number
        text = text.replace(f'"#{huge}"', huge)
    return text.encode("utf-8", "surrogatepass")


def mutate_value(rng: random.Random, frame: Any) -> Any:
    """One field of a copy of ``frame`` changed, removed, or one added."""
    copy = orjson.loads(orjson.dumps(frame))
    path = rng.choice(list(json_paths(copy)))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    special = rng.choice(SPECIAL)
    special = f"#{special}" if special in HUGE else special
    operation = rng.randrange(4)
    if operation < 2:
        del parent[path[-1]]  # a field missing, an empty level list, a level without its size
    elif operation == 2 and isinstance(parent, dict):
        parent[f"x{rng.randrange(99)}"] = special
    else:
        parent[path[-1]] = special
    return copy


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """``data`` cut short, with a byte flipped, or with bytes that are not UTF-8 cut in."""
    at = rng.randrange(len(data))
    operation = rng.randrange(3)
    if operation == 0:
        return data[:at]
    if operation == 1:
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
    return data[:at] + rng.choice((b"\xff", b"\x80\xc3", b"\xed\xa0\x80", b"\xc0\xaf")) + data[at:]


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)  # no clock in the header: the same mutants every run


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def mutant(rng: random.Random, frame: Any) -> tuple[str | bytes, bool]:
    """One mutant of ``frame``: text, bytes, or compressed bytes (``True``) cut short, flipped or of a mutant."""
    kind = rng.randrange(10)
    if kind < 6:
        data = dumps(mutate_value(rng, frame))
        return data.decode("utf-8", "replace") if kind < 2 else data, False
    if kind < 8:
        return mutate_bytes(rng, dumps(frame)), False
    compress = gzipped if kind == 8 else raw_deflate
    if rng.random() < 0.3:
        return compress(mutate_bytes(rng, dumps(frame))), True
    return mutate_bytes(rng, compress(dumps(frame))), True


def malformed(metrics: Metrics) -> float:
    """Every frame counted as malformed or dropped for its size, whatever the reason."""
    return sum(sample.value for counter in (metrics.ws_malformed, metrics.ws_dropped)
               for family in counter.collect() for sample in family.samples if sample.name.endswith("_total"))


def amounts(value: Any, path: str = "") -> Iterator[tuple[str, Decimal]]:
    if isinstance(value, Decimal):
        yield path, value
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from amounts(getattr(value, name), f"{type(value).__name__}.{name}")
    elif isinstance(value, list | tuple):
        for item in value:
            yield from amounts(item, path)


def real_amount(path: str, value: Decimal) -> bool:
    signed = path == "CoinBalance.walletBalance"  # a unified account's borrowed coin
    return value.is_finite() and (signed or value >= 0)


class Books:
    """A Binance and a Bybit book, each synced afresh (one update short of the recorded diff) for
    every message, and fed it as the connectors' watchers would."""

    def feed(self, message: Any) -> None:
        self.binance = DiffSync("BNBBTC")
        self.binance.on_snapshot([("0.0024", "5")], [("0.0026", "50")], 156)
        self.bybit = SnapshotDeltaSync("BTCUSDT")
        self.bybit.on_message("snapshot", 177400506, [("30247.20", "1")], [("30248.70", "1")])
        if isinstance(message, bs.DepthUpdate):
            self.binance.on_event(BookEvent(message.U, message.u, message.b, message.a, message.E))
        elif type(message) is Malformed and message.stream == "bnbbtc@depth@100ms":
            self.binance.on_lost("unreadable")
        elif isinstance(message, BookMessage) and message.data.s == "BTCUSDT":
            self.bybit.on_message(message.kind, message.data.u, message.data.b, message.data.a)
        elif (type(message) is ys.WsFrame and message.topic == "orderbook.50.BTCUSDT") or (
                type(message) is Malformed and message.stream == "orderbook.50.BTCUSDT"):
            self.bybit.reset()  # what watch_order_books does for its topic's lost push

    def check(self) -> None:
        for sync in (self.binance, self.bybit):
            if sync.synced:  # read as the connectors read it: a level no amount is a Gap there
                book = readable(sync)
                for side in ((book.bids, book.asks) if isinstance(book, OrderBook) else ()):
                    assert all(p.is_finite() and p > 0 and q.is_finite() and q > 0 for p, q in side), side


def pipelines(metrics: Metrics) -> list[tuple[Frames, Frames, dict[str, Any]]]:
    """The connectors' pipelines as they are, and behind Inflate as a venue that compresses would put them."""
    inflate = Inflate(max_size=64 * 1024, metrics=metrics, exchange="x")
    return [(plain, frames(inflate, plain), table) for plain, table in (
        (market_frames(metrics), binance_market()), (user_frames(metrics), binance_user()),
        (bybit_frames(metrics), bybit()))]


def test_every_mutant_is_typed_counted_or_ignored_and_the_next_frame_decodes() -> None:
    """2 000 seeded mutants: no exception, no amount that is no amount, books kept right, counted, still decoding."""
    rng, metrics, books = random.Random(SEED), Metrics(), Books()
    seen: Counter[str] = Counter()
    chosen = [(plain, inflated, kind, frame) for plain, inflated, table in pipelines(metrics)
              for kind, frame in table.items()]
    for number in range(COUNT):
        plain, inflated, kind, frame = rng.choice(chosen)
        data, compressed = mutant(rng, frame)
        before = malformed(metrics)
        try:
            out = (inflated if compressed else plain)(data)
        except Exception as exc:  # the stages are documented never to raise: a raise here is the bug
            raise AssertionError(f"mutant {number} of {kind} raised {exc!r}: {data!r}") from exc
        counted = malformed(metrics) > before
        for message in out:
            lost = type(message) is Malformed or (
                type(message) is ys.WsFrame and (message.topic or "").startswith(BYBIT_DATA_TOPICS))
            assert counted or not lost, f"mutant {number} of {kind} lost uncounted: {data!r}"
            bad = [(path, value) for path, value in amounts(message) if not real_amount(path, value)]
            assert not bad, f"mutant {number} of {kind} carries {bad}: {data!r}"
            books.feed(message)
            books.check()
            seen["malformed" if lost else "typed"] += 1
        seen["ignored" if not out else "out"] += 1
        for pipeline, good in ((plain, dumps(frame)), (inflated, gzipped(dumps(frame)))):
            assert [type(m) for m in pipeline(good)] == [EXPECTED[kind]], f"after mutant {number} of {kind}"
    # The mutants reached every outcome: a change that stopped them doing so would show here.
    assert min(seen["malformed"], seen["typed"], seen["ignored"]) > COUNT // 20, seen


def test_a_decompression_bomb_is_dropped_counted_and_the_next_frame_decodes() -> None:
    """A gzip frame inflating far past the cap is never inflated whole: dropped, counted, the stream goes on."""
    metrics = Metrics()
    _, pipeline, table = pipelines(metrics)[2]
    assert pipeline(gzipped(b" " * (16 << 20))) == []  # 256 times the cap
    assert metrics.ws_dropped.labels("x", "too_large")._value.get() == 1
    assert [type(m) for m in pipeline(gzipped(dumps(table["public_trade"])))] == [TradeMessage]


async def test_mutants_through_reconnect_ws_never_cost_a_reconnect() -> None:
    """Through ReconnectWs (FakeWs): 60 mutated Binance frames, each followed by a good trade that arrives."""
    rng, metrics, venue = random.Random(SEED + 1), Metrics(), VenueWs()
    table = binance_market()
    good = dumps(table["trade"])
    async with make(venue, dialect=DIALECT, frames=market_frames(metrics), metrics=metrics) as ws:
        await ws.subscribe(["bnbbtc@trade"])
        for _ in range(60):
            data, compressed = mutant(rng, table[rng.choice(["depth", "trade", "bookTicker"])])
            venue.feed(data if not compressed else b"\xff" + data, good)  # Binance compresses nothing
            while not isinstance(message := await next_of(ws), bs.TradeEvent) or message.t != 12345:
                assert not isinstance(message, Gap), "a mutant cost a reconnect"
    assert venue.connects == 1


"""Streams against the sim over loopback: books through gaps and disconnects, trades, tickers,
private order and wallet streams (re-authenticated after a reconnect), raw subscribe/stream.

The sim is quiet (no random flow): the book changes only when a test places an order, so the
maintained book can be compared with the engine's exactly. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import pytest
from aiohttp import web
from bybit_helpers import private_venue

import lotusx
from lotusx.exchanges.bybit import VENUE_LINEAR, Bybit
from lotusx.exchanges.bybit.endpoints import LINEAR, SPOT
from lotusx.exchanges.bybit.streams import (
    BookMessage,
    Control,
    TradeMessage,
    bybit_frames,
    login_ack,
    public_dialect,
)
from lotusx.kernel.errors import AuthenticationError, ConfigError
from lotusx.metrics import Metrics
from lotusx.models import OrderBook
from lotusx.sim import Sim
from tests.conftest import ServeApp

BTC, ETH = "BTCUSDT", "ETHUSDT"
T = TypeVar("T")
LIMIT = 10.0  # seconds any one wait may take


async def first(stream: AsyncIterator[T], accept: Callable[[T], bool], limit: float = LIMIT) -> T:
    """The first item of ``stream`` that ``accept``s, within ``limit`` seconds."""

    async def scan() -> T:
        async for item in stream:
            if accept(item):
                return item
        raise AssertionError("stream ended")

    return await asyncio.wait_for(scan(), limit)


async def until_streamed(pending: asyncio.Future[T], act: Callable[[], Awaitable[object]]) -> T:
    """What ``pending`` waits for, doing ``act`` again every 0.25 s until it comes (10 s at most).

    What happens before the subscription is acked is never streamed, and no wait for the ack can be
    told long enough on a loaded machine: so the action is repeated until its result is streamed.
    """
    for _ in range(40):
        await act()
        done, _ = await asyncio.wait([pending], timeout=0.25)
        if done:
            return pending.result()
    pending.cancel()
    raise AssertionError("nothing was ever streamed")


def rest(sim: Sim, book: OrderBook) -> bool:
    """Whether ``book`` equals the engine's book (the snapshot depth, 50 levels a side)."""
    engine = sim.engine("bybit").books[book.symbol]
    return (book.bids, book.asks) == (engine.levels("BUY", 50), engine.levels("SELL", 50))


def resyncs(ex: Bybit, symbol: str, reason: str) -> float:
    return ex.metrics.book_resyncs.labels("bybit", symbol, reason)._value.get()  # type: ignore[no-any-return]


def bid(price: str) -> lotusx.NewOrder:
    return lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.01"), price=Decimal(price))


def has(price: str) -> Callable[[OrderBook], bool]:
    return lambda book: book.symbol == BTC and Decimal(price) in {p for p, _ in book.bids}


async def test_book_resyncs_only_the_gapped_symbol(bybit: Bybit, sim: Sim) -> None:
    """An injected sequence gap resubscribes that symbol; the result equals the engine's book."""
    books = aiter(bybit.watch_order_books([BTC, ETH], depth=None))
    await first(books, lambda b: b.symbol == BTC)
    sim.chaos("bybit").sequence_gap = 3
    await bybit.place_order(bid("49000"))
    synced = await first(books, has("49000"))
    assert resyncs(bybit, BTC, "sequence gap") == 1 and resyncs(bybit, ETH, "sequence gap") == 0
    assert bybit.metrics.ws_reconnects.labels("bybit", "disconnected")._value.get() == 0
    assert rest(sim, synced)
    await bybit.place_order(bid("48000"))  # deltas flow again after the resync
    assert rest(sim, await first(books, has("48000")))
    await books.aclose()


async def test_book_survives_a_forced_disconnect(bybit: Bybit, sim: Sim) -> None:
    """A dropped connection reconnects, the book restarts from a snapshot and equals the engine's."""
    books = aiter(bybit.watch_order_book(BTC, depth=None))
    await first(books, lambda b: True)
    sim.chaos("bybit").drop_ws_after = 3  # ack, snapshot, then the next delta closes the socket
    await bybit.place_order(bid("49100"))
    for _ in range(200):
        if resyncs(bybit, BTC, "reconnect"):
            break
        await asyncio.sleep(0.02)
    sim.chaos("bybit").drop_ws_after = None
    await bybit.place_order(bid("48100"))
    book = await first(books, has("48100"))
    assert resyncs(bybit, BTC, "reconnect") >= 1 and has("49100")(book) and rest(sim, book)
    await books.aclose()


async def test_trades_stream(bybit: Bybit) -> None:
    """watch_trades yields the taker trades the engine makes."""
    trades = aiter(bybit.watch_trades(BTC))
    pending = asyncio.ensure_future(first(trades, lambda t: True))
    trade = await until_streamed(pending, lambda: bybit.place_order(
        lotusx.NewOrder(symbol=BTC, side="SELL", type="MARKET", quantity=Decimal("0.001"))))
    assert (trade.symbol, trade.side) == (BTC, "SELL") and trade.quantity > 0
    await trades.aclose()


async def test_ticker_stream_follows_the_best_bid(bybit: Bybit) -> None:
    """watch_ticker yields the top of the book, again when the best bid improves."""
    tickers = aiter(bybit.watch_ticker(BTC))
    start = await first(tickers, lambda t: True)
    better = start.bid + Decimal("0.01")
    await bybit.place_order(bid(str(better)))
    moved = await first(tickers, lambda t: t.bid == better)
    assert moved.ask == start.ask and moved.bid_quantity == Decimal("0.01")
    await tickers.aclose()


async def test_private_streams_reauthenticate_after_a_reconnect(bybit: Bybit, sim: Sim) -> None:
    """watch_orders logs in; after the socket is dropped it logs in again and keeps delivering."""
    orders = aiter(bybit.watch_orders())
    await until_live(bybit, orders, "live-1")
    # This socket sent more than 3 already: the order event closes it. A new one sends its 2 acks.
    sim.chaos("bybit").drop_ws_after = 3
    await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                            price=Decimal("30000"), client_order_id="ws-1"))
    assert (await first(orders, lambda o: o.client_order_id == "ws-1")).status == "NEW"
    closed = bybit.metrics.ws_reconnects.labels("bybit", "server_close")
    for _ in range(200):
        if closed._value.get():
            break
        await asyncio.sleep(0.02)
    sim.chaos("bybit").drop_ws_after = None
    assert closed._value.get() == 1
    await until_live(bybit, orders, "live-2")  # back-off, new socket, auth, resubscribe
    await bybit.cancel_order(BTC, client_order_id="ws-1")
    cancelled = await first(orders, lambda o: o.client_order_id == "ws-1" and o.status == "CANCELED")
    assert cancelled.order_id
    await orders.aclose()


async def test_a_login_refused_for_an_expired_stamp_is_sent_again_on_a_resynced_clock(bybit: Bybit, sim: Sim) -> None:
    """The venue's clock jumps 30 s after ours synced: the auth's ``expires`` is past there ("Params
    Error"), so the clock is resynced and the login sent again, instead of ending the stream."""
    chaos = sim.chaos("bybit")
    await bybit.place_order(bid("30000"))  # a signed call: our clock synced to the venue's
    chaos.clock_skew_ms = 30_000
    try:
        orders = aiter(bybit.watch_orders())
        await until_live(bybit, orders, "live")  # refused, back-off, resync, a new socket, auth, subscribe
        await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                                price=Decimal("30000"), client_order_id="ws-skew"))
        skewed = await first(orders, lambda o: o.client_order_id == "ws-skew")
        assert skewed.status == "NEW"  # the stream lived through the refusal
        await orders.aclose()
    finally:
        chaos.clock_skew_ms = 0


class RefusingAuth:
    """A venue whose private stream answers every auth with "Params Error"; it counts the attempts."""

    def __init__(self) -> None:
        self.attempts = 0

    def app(self) -> web.Application:
        return private_venue(self.private)

    async def private(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if orjson.loads(message.data).get("op") == "auth":
                self.attempts += 1
                await ws.send_str(orjson.dumps({"op": "auth", "success": False, "ret_msg": "Params Error",
                                                "conn_id": "c"}).decode())
        return ws


async def test_a_login_refused_again_on_a_resynced_clock_ends_the_stream(serve_app: ServeApp) -> None:
    """A second "Params Error", on the clock resynced for the first, is not the clock's fault:
    the stream ends with an AuthenticationError after two attempts, never retrying forever."""
    venue = RefusingAuth()
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit", credentials=lotusx.Credentials(api_key="k", secret="s"), rest_url=base,
                              ws_url=base.replace("http", "ws")) as ex:
        with pytest.raises(AuthenticationError, match="login rejected"):
            await asyncio.wait_for(anext(aiter(ex.watch_orders())), LIMIT)
    assert venue.attempts == 2


async def test_a_cancel_missed_while_the_private_stream_was_down_is_reported(bybit: Bybit, sim: Sim) -> None:
    """The socket drops before a cancel is streamed: once it is live again, watch_orders reports it."""
    orders = aiter(bybit.watch_orders())
    await until_live(bybit, orders, "live")
    await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                            price=Decimal("30000"), client_order_id="gap-1"))
    assert (await first(orders, lambda o: o.client_order_id == "gap-1")).status == "NEW"
    closed = bybit.metrics.ws_reconnects.labels("bybit", "server_close")
    sim.chaos("bybit").drop_ws_after = 1  # the next private event goes out, then the socket closes
    try:
        await bybit.place_order(bid("30001"))
        await bybit.cancel_order(BTC, client_order_id="gap-1")  # too late for the old socket
        for _ in range(200):
            if closed._value.get():
                break
            await asyncio.sleep(0.02)
    finally:
        sim.chaos("bybit").drop_ws_after = None
    cancelled = await first(orders, lambda o: o.client_order_id == "gap-1" and o.status == "CANCELED")
    assert cancelled.filled_quantity == 0
    await orders.aclose()


@pytest.mark.parametrize(("knob", "reason"), [("garble_ws_data", "schema"), ("truncate_ws_data", "json")])
async def test_an_unreadable_order_message_is_reconciled_by_rest(bybit: Bybit, sim: Sim, knob: str,
                                                                 reason: str) -> None:
    """The cancel's push fails its schema or is not JSON: counted, and watch_orders reports the cancel from REST."""
    cid = f"{reason}-1"
    orders = aiter(bybit.watch_orders())
    await until_live(bybit, orders, "live")
    await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                            price=Decimal("30000"), client_order_id=cid))
    assert (await first(orders, lambda o: o.client_order_id == cid)).status == "NEW"
    setattr(sim.chaos("bybit"), knob, 1)
    await bybit.cancel_order(BTC, client_order_id=cid)
    cancelled = await first(orders, lambda o: o.client_order_id == cid and o.status == "CANCELED")
    assert cancelled.filled_quantity == 0
    assert bybit.metrics.ws_malformed.labels("bybit", reason)._value.get() == 1
    await orders.aclose()


@asynccontextmanager
async def private_stream_down(bybit: Bybit, sim: Sim) -> AsyncIterator[None]:
    """Inside the block the private stream is down: dropped after streaming a probe order, reconnects refused."""
    chaos = sim.chaos("bybit")
    closed = bybit.metrics.ws_reconnects.labels("bybit", "server_close")
    chaos.drop_ws_after, chaos.refuse_ws = 1, True
    try:
        probe = await bybit.place_order(bid("30000"))
        for _ in range(250):
            if closed._value.get():
                break
            await asyncio.sleep(0.02)
        assert closed._value.get() == 1, "the private stream never dropped"
        await bybit.cancel_order(BTC, order_id=probe.order_id)
        yield
    finally:
        chaos.drop_ws_after, chaos.refuse_ws = None, False


async def until_live(bybit: Bybit, orders: AsyncIterator[lotusx.Order], marker: str) -> list[lotusx.Order]:
    """Every update until the stream is surely live, gap reconciled: a marker placed after one came back comes too.

    A marker placed before the subscription is acked is never streamed (so others follow it),
    or comes with a reconcile, ahead of the rest of it (so one more is placed once it came).
    """
    got: list[lotusx.Order] = []
    wanted: set[str] = set()

    def note(order: lotusx.Order) -> bool:
        got.append(order)
        return order.client_order_id in wanted

    async def place(client_order_id: str) -> None:
        wanted.add(client_order_id)
        await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                                price=Decimal("30000"), client_order_id=client_order_id))

    pending = asyncio.ensure_future(first(orders, note))
    for attempt in range(40):
        await place(f"{marker}-{attempt}")
        done, _ = await asyncio.wait([pending], timeout=0.25)
        if done:
            break
    else:
        pending.cancel()
        raise AssertionError("no marker order was ever streamed")
    await pending
    wanted.clear()
    await place(f"{marker}-last")
    await first(orders, note)
    return got


def states(got: list[lotusx.Order], client_order_id: str) -> list[tuple[str, Decimal, Decimal]]:
    """(status, filled, quantity) of every update reported for one order."""
    return [(o.status, o.filled_quantity, o.quantity) for o in got if o.client_order_id == client_order_id]


def charged(bybit: Bybit, endpoint: str) -> float:
    """REST calls to ``endpoint`` that went through the stack and were answered 2xx."""
    return bybit.metrics.registry.get_sample_value(
        "lotusx_requests_total", {"exchange": "bybit", "endpoint": endpoint, "status_class": "2xx"}) or 0.0


async def test_orders_another_client_placed_and_closed_during_a_gap_are_reported_once(
        bybit: Bybit, sim: Sim, credentials: lotusx.Credentials) -> None:
    """Placed and filled, or placed and cancelled, while the stream was down: each reported once, exactly."""
    orders = aiter(bybit.watch_orders())
    got = await until_live(bybit, orders, "live-1")
    async with lotusx.connect("bybit", credentials=credentials, rest_url=sim.rest_url("bybit"),
                              ws_url=sim.ws_url("bybit")) as other, private_stream_down(bybit, sim):
        await other.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="MARKET", quantity=Decimal("0.00321"),
                                                client_order_id="gap-filled"))
        rested = await other.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT",
                                                         quantity=Decimal("0.00123"), price=Decimal("30000"),
                                                         client_order_id="gap-cancelled"))
        await other.cancel_order(BTC, order_id=rested.order_id)
    got += await until_live(bybit, orders, "live-2")
    assert states(got, "gap-filled") == [("FILLED", Decimal("0.00321"), Decimal("0.00321"))]
    assert states(got, "gap-cancelled") == [("CANCELED", Decimal(0), Decimal("0.00123"))]
    assert charged(bybit, "order_history") >= 1
    await orders.aclose()  # type: ignore[attr-defined]


async def test_an_order_reported_before_a_gap_is_not_reported_again_after_it(bybit: Bybit, sim: Sim) -> None:
    """An order filled and streamed just before the gap lies in the reconcile's window, yet comes once."""
    orders = aiter(bybit.watch_orders())
    await until_live(bybit, orders, "live-1")
    await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="SELL", type="MARKET", quantity=Decimal("0.00042"),
                                            client_order_id="before-gap"))
    filled = await first(orders, lambda o: o.client_order_id == "before-gap" and o.status == "FILLED")
    assert filled.filled_quantity == Decimal("0.00042")
    async with private_stream_down(bybit, sim):
        pass
    got = await until_live(bybit, orders, "live-2")
    assert charged(bybit, "order_history") >= 1
    assert states(got, "before-gap") == []
    await orders.aclose()  # type: ignore[attr-defined]


async def test_balance_stream(bybit: Bybit) -> None:
    """watch_balances yields the wallet after an order locks funds."""
    wallets = aiter(bybit.watch_balances())
    pending = asyncio.ensure_future(first(wallets, lambda w: "USDT" in w and w["USDT"].locked > 0))
    placed: list[lotusx.Order] = []

    async def bid_alone() -> None:  # one bid open at a time: what is locked is one bid's
        if placed:
            await bybit.cancel_order(BTC, order_id=placed.pop().order_id)
        placed.append(await bybit.place_order(bid("30000")))

    wallet = await until_streamed(pending, bid_alone)
    assert wallet["USDT"].locked == Decimal("300")
    await wallets.aclose()


async def test_raw_subscribe_and_stream(bybit: Bybit) -> None:
    """subscribe/stream deliver the venue's typed messages for raw topics."""
    with pytest.raises(ConfigError):
        await anext(aiter(bybit.stream()))
    await bybit.subscribe([f"orderbook.1.{BTC}", f"publicTrade.{BTC}"])
    messages = aiter(bybit.stream())
    snapshot = await first(messages, lambda m: isinstance(m, BookMessage))
    assert isinstance(snapshot, BookMessage) and snapshot.kind == "snapshot" and snapshot.topic == f"orderbook.1.{BTC}"
    await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="MARKET", quantity=Decimal("0.001")))
    assert isinstance(await first(messages, lambda m: isinstance(m, TradeMessage)), TradeMessage)


async def test_private_stream_needs_credentials(sim: Sim) -> None:
    """Without credentials a private stream is a configuration error."""
    async with lotusx.connect("bybit", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        with pytest.raises(ConfigError):
            await anext(aiter(ex.watch_orders()))


def test_dialect_ops_acks_and_pongs() -> None:
    """Subscribe carries req_id; acks, pongs and auth answers are recognised; args limits per category."""
    dialect = public_dialect(SPOT)
    assert dialect.subscribe is not None and dialect.ack is not None and dialect.pong is not None
    sent = '{"op":"subscribe","args":["publicTrade.BTCUSDT"],"req_id":"7"}'
    assert dialect.subscribe(["publicTrade.BTCUSDT"], 7) == sent
    refused = Control("subscribe", False, "error:handler not found", "7")
    assert dialect.ack(refused) == (7, False, "error:handler not found")
    assert dialect.ack(Control("subscribe", True, "", None)) is None
    assert dialect.pong(Control("pong", False, "", None)) and not dialect.pong(Control("auth", True, "", None))
    assert (SPOT.max_args, LINEAR.max_args) == (10, None)



async def test_linear_book_streams_from_the_linear_endpoint(sim: Sim, credentials: lotusx.Credentials) -> None:
    """VENUE_LINEAR maintains its book from /v5/public/linear, equal to the linear engine's."""
    async with lotusx.connect(VENUE_LINEAR, credentials=credentials, rest_url=sim.rest_url("bybit"),
                              ws_url=sim.ws_url("bybit")) as ex:
        books = aiter(ex.watch_order_book(BTC, depth=None))
        book = await first(books, lambda b: True)
        engine = sim.engine("bybit", "linear").books[BTC]
        assert (book.bids, book.asks) == (engine.levels("BUY", 50), engine.levels("SELL", 50))
        await books.aclose()


class ScriptedBook:
    """A public Bybit stream on loopback: acks every op and answers the n-th subscribe with ``scripts[n]``.

    A script is a list of ``(kind, data, cut)`` pushes on ``topic`` (``orderbook.50.BTCUSDT``
    unless given): ``cut`` sends the push one byte short (not JSON). Past the last script, the
    last one is sent again.
    """

    def __init__(self, *scripts: list[tuple[str, Any, bool]], topic: str = f"orderbook.50.{BTC}") -> None:
        self.scripts = list(scripts)
        self.topic = topic
        self.subscribes = 0

    @classmethod
    def snapshots(cls, *datas: dict[str, Any]) -> ScriptedBook:
        """One whole snapshot per subscribe."""
        return cls(*([("snapshot", data, False)] for data in datas))

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.get(SPOT.public_path, self.stream)])
        return app

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            op = orjson.loads(msg.data)
            if op.get("op") == "ping":
                continue
            await ws.send_str(orjson.dumps({"success": True, "ret_msg": "", "op": op["op"],
                                            "req_id": op["req_id"], "conn_id": "c"}).decode())
            if op["op"] == "subscribe":
                self.subscribes += 1
                for kind, data, cut in self.scripts[min(self.subscribes, len(self.scripts)) - 1]:
                    text = orjson.dumps({"topic": self.topic, "type": kind, "ts": 1, "data": data}).decode()
                    await ws.send_str(text[:-1] if cut else text)
        return ws


@asynccontextmanager
async def watched(venue: ScriptedBook, serve_app: ServeApp
                  ) -> AsyncIterator[tuple[Any, AsyncGenerator[OrderBook, None]]]:
    """A connector whose public stream is ``venue``, served on loopback, and its BTC book."""
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit", rest_url=base, ws_url=base.replace("http", "ws")) as ex:
        books = ex.watch_order_book(BTC)
        try:
            yield ex, books
        finally:
            await books.aclose()


def level(price: str, u: int, size: str = "1") -> dict[str, Any]:
    return {"s": BTC, "b": [[price, size]], "a": [], "u": u}


async def test_a_book_snapshot_that_fails_its_schema_is_asked_again(serve_app: ServeApp) -> None:
    """An unreadable snapshot resubscribes its topic (a fresh snapshot) instead of leaving the book waiting forever."""
    venue = ScriptedBook.snapshots({"s": BTC, "b": [["100"]], "a": [], "u": 5},  # a level without its size
                                   level("100", 9))
    async with watched(venue, serve_app) as (_, books):
        book = await first(books, lambda b: True, limit=3.0)
    assert (book.sequence, book.bids, venue.subscribes) == (9, [(Decimal(100), Decimal(1))], 2)


async def test_a_book_snapshot_that_is_not_json_is_asked_again(serve_app: ServeApp) -> None:
    """A snapshot cut short (not JSON) resubscribes its topic instead of leaving the book waiting forever."""
    venue = ScriptedBook([("snapshot", level("100", 5), True), ("delta", level("101", 6), False)],
                         [("snapshot", level("100", 9), False)])
    async with watched(venue, serve_app) as (ex, books):
        book = await first(books, lambda b: True, limit=3.0)
        assert ex.metrics.ws_malformed.labels("bybit", "json")._value.get() == 1
    assert (book.sequence, book.bids, venue.subscribes) == (9, [(Decimal(100), Decimal(1))], 2)


async def test_a_book_delta_that_is_not_json_resyncs_a_quiet_book(serve_app: ServeApp) -> None:
    """A delta cut short (not JSON) resyncs the book at once, not only when a later delta shows the hole."""
    venue = ScriptedBook([("snapshot", level("100", 5), False), ("delta", level("101", 6), True)],
                         [("snapshot", level("101", 9), False)])
    async with watched(venue, serve_app) as (_, books):
        assert (await first(books, lambda b: True, limit=3.0)).sequence == 5
        book = await first(books, lambda b: True, limit=3.0)
    assert (book.sequence, book.bids, venue.subscribes) == (9, [(Decimal(101), Decimal(1))], 2)


def test_a_refused_login_never_carries_the_signed_string_it_echoes() -> None:
    """A refusal echoing origin_string[expires, key, ...] comes back without it, as a REST error's text does."""
    refused = {"success": False, "ret_msg": "error sign! origin_string[GET/realtime1700000000000 key-0001]",
               "op": "auth", "conn_id": "c"}
    (message,) = bybit_frames(Metrics()).run(orjson.dumps(refused).decode())
    assert login_ack(message) == (False, "error sign! origin_string[redacted]")

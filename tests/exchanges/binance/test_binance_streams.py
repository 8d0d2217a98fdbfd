"""Binance streams against a scripted venue on 127.0.0.1: bad frames, raw streams, listen keys.

The venue here is a few lines of aiohttp: it acknowledges SUBSCRIBE requests and then sends
exactly the frames a test scripts, which the simulator cannot be made to send (garbage, schema
mismatches, ``listenKeyExpired``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.binance import schemas as s
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import ConfigError
from lotusx.metrics import Metrics
from lotusx.models import Order, Ticker, Trade
from lotusx.testing import FakeClock

PAYLOADS = Path(__file__).parent / "payloads"
KEEPALIVE_ERRORS = {-1100: "Illegal characters found in parameter 'listenKey'.",
                    -1125: "This listenKey does not exist."}
ServeApp = Callable[[web.Application], Awaitable[TestServer]]


def recorded(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((PAYLOADS / name).read_bytes())
    return data | changes


TRADE = recorded("ws_trade.json", s="BTCUSDT")
GARBAGE: list[str | dict[str, Any]] = [
    "this is not JSON {",  # Parse: json
    {"stream": "btcusdt@trade", "data": {"e": "trade", "E": 1}},  # Route: schema (fields missing)
    {"stream": "btcusdt@kline_1m", "data": {"e": "kline"}},  # a stream kind we never decode
    {"e": "somethingNew"},  # neither envelope nor ack
]


class Venue:
    """Scripted Binance: ``market`` frames after each SUBSCRIBE; ``user[key]`` on ``/ws/<key>``."""

    def __init__(self) -> None:
        self.market: list[str | dict[str, Any]] = []
        self.first_connection: list[dict[str, Any]] = []  # sent before ``market`` on the first /stream only
        self.stream_connections = 0
        self.keepalives: list[tuple[str, str | None]] = []
        self.keepalive_errors: list[int] = []  # venue codes the next keepalives are answered with
        self.listen_key_refusals = 0  # refuse this many listen key requests
        self.user: dict[str, list[dict[str, Any]]] = {}
        self.listen_keys = 0
        self.user_connections: list[str] = []
        self.open_orders: list[dict[str, Any]] = []  # GET /api/v3/openOrders, asked after a reconnect
        self.all_orders: dict[str, list[dict[str, Any]]] = {}  # GET /api/v3/allOrders by symbol, asked too
        self.history_asked: list[tuple[str, int, int]] = []  # (symbol, startTime, endTime)
        self.user_open = 0  # user-stream sockets open right now

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.get("/api/v3/time", self.time), web.post("/api/v3/userDataStream", self.listen_key),
                        web.put("/api/v3/userDataStream", self.keepalive),
                        web.get("/stream", self.stream), web.get("/ws/{key}", self.user_stream),
                        web.get("/api/v3/openOrders", self.list_open_orders),
                        web.get("/api/v3/allOrders", self.list_all_orders),
                        web.get("/api/v3/account", self.account)])
        return app

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": 1_700_000_000_000})

    async def listen_key(self, request: web.Request) -> web.Response:
        if self.listen_key_refusals:
            self.listen_key_refusals -= 1
            return web.json_response({"code": -1100, "msg": KEEPALIVE_ERRORS[-1100]}, status=400)
        self.listen_keys += 1
        return web.json_response({"listenKey": f"listen-key-{self.listen_keys:04d}"})

    async def list_open_orders(self, request: web.Request) -> web.Response:
        return web.json_response(self.open_orders)

    async def list_all_orders(self, request: web.Request) -> web.Response:
        symbol = request.query["symbol"]
        self.history_asked.append((symbol, int(request.query["startTime"]), int(request.query["endTime"])))
        return web.json_response(self.all_orders.get(symbol, []))

    async def account(self, request: web.Request) -> web.Response:
        return web.Response(body=(PAYLOADS / "account.json").read_bytes(), content_type="application/json")

    async def keepalive(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.keepalives.append((str(form["listenKey"]), request.headers.get("X-MBX-APIKEY")))
        if self.keepalive_errors:
            code = self.keepalive_errors.pop(0)
            return web.json_response({"code": code, "msg": KEEPALIVE_ERRORS[code]}, status=400)
        return web.json_response({})

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        self.stream_connections += 1
        extra = self.first_connection if self.stream_connections == 1 else []
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(orjson.dumps({"result": None, "id": orjson.loads(msg.data)["id"]}).decode())
                for frame in [*extra, *self.market]:
                    await ws.send_str(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
        return ws

    async def user_stream(self, request: web.Request) -> web.WebSocketResponse:
        key = request.match_info["key"]
        self.user_connections.append(key)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.user_open += 1
        try:
            for event in self.user.get(key, []):
                await ws.send_str(orjson.dumps(event).decode())
            async for _ in ws:  # stay open and silent, as Binance does after listenKeyExpired
                pass
        finally:
            self.user_open -= 1
        return ws


@pytest.fixture
def venue() -> Venue:
    """The scripted venue."""
    return Venue()


@pytest.fixture
def metrics() -> Metrics:
    """A private metrics registry."""
    return Metrics()


@pytest.fixture
async def ex(venue: Venue, serve_app: ServeApp, metrics: Metrics) -> AsyncIterator[Binance]:
    """A connector pointed at the scripted venue over loopback."""
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("binance", credentials=Credentials("k" * 64, "s" * 64), rest_url=base,
                              ws_url=base.replace("http", "ws"), metrics=metrics) as connector:
        yield connector


async def first(source: AsyncIterator[Any]) -> Any:
    """The first item of ``source`` within five seconds; the iterator is closed afterwards."""
    try:
        return await asyncio.wait_for(anext(source), 5.0)
    finally:
        await source.aclose()  # type: ignore[attr-defined]


def malformed(metrics: Metrics, reason: str) -> float:
    value = metrics.registry.get_sample_value("lotusx_ws_malformed_frames_total",
                                              {"exchange": "binance", "reason": reason})
    return value or 0.0


async def test_bad_frames_do_not_kill_the_trade_stream(ex: Binance, venue: Venue, metrics: Metrics) -> None:
    """Garbage, a schema mismatch and unknown kinds are counted and skipped; the next trade arrives."""
    venue.market = [*GARBAGE, {"stream": "btcusdt@trade", "data": TRADE}]
    trade: Trade = await first(ex.watch_trades("BTCUSDT"))
    assert (trade.symbol, trade.trade_id, trade.price, trade.quantity, trade.side) == (
        "BTCUSDT", "12345", Decimal("0.001"), Decimal("100"), "SELL")
    assert (malformed(metrics, "json"), malformed(metrics, "schema")) == (1.0, 1.0)


async def test_ticker_stream_after_bad_frames(ex: Binance, venue: Venue) -> None:
    """watch_ticker skips what it cannot read and yields the book ticker, exactly."""
    venue.market = [*GARBAGE, {"stream": "btcusdt@bookTicker", "data": recorded("ws_book_ticker.json")}]
    ticker: Ticker = await first(ex.watch_ticker("BTCUSDT"))
    assert (ticker.bid, ticker.bid_quantity, ticker.ask, ticker.ask_quantity) == (
        Decimal("25.35190000"), Decimal("31.21000000"), Decimal("25.36520000"), Decimal("40.66000000"))


async def test_raw_stream_needs_subscribe(ex: Binance) -> None:
    """stream() before subscribe() is a ConfigError."""
    with pytest.raises(ConfigError):
        await anext(ex.stream())


async def test_raw_stream_yields_decoded_events(ex: Binance, venue: Venue) -> None:
    """subscribe() + stream(): the raw escape hatch yields the typed venue events."""
    venue.market = [{"stream": "btcusdt@trade", "data": TRADE}]
    await ex.subscribe(["btcusdt@trade"])
    event = await asyncio.wait_for(anext(ex.stream()), 5.0)
    assert isinstance(event, s.TradeEvent) and event.t == 12345


async def test_user_stream_needs_credentials(venue: Venue, serve_app: ServeApp) -> None:
    """watch_orders without credentials is a ConfigError, before any request."""
    server = await serve_app(venue.app())
    async with lotusx.connect("binance", rest_url=f"http://127.0.0.1:{server.port}") as ex:
        with pytest.raises(ConfigError):
            await anext(ex.watch_orders())
    assert venue.listen_keys == 0


async def test_order_update_from_user_stream(ex: Binance, venue: Venue) -> None:
    """An executionReport on /ws/<listenKey> becomes an Order with exact amounts."""
    venue.user["listen-key-0001"] = [recorded("ws_execution_report.json")]
    order: Order = await first(ex.watch_orders())
    assert (order.order_id, order.client_order_id, order.status, order.price, order.quantity) == (
        "4293153", "mUvoqJxFIILMdfAW5iGSOW", "NEW", Decimal("0.10264410"), Decimal("1.00000000"))
    assert venue.user_connections == ["listen-key-0001"]


async def test_cancel_report_carries_original_client_id(ex: Binance, venue: Venue) -> None:
    """A cancel's executionReport maps to the order's original client id (``C``), not the cancel's."""
    venue.user["listen-key-0001"] = [recorded("ws_execution_report.json", c="cancel-req", C="my-order", X="CANCELED",
                                              x="CANCELED")]
    order: Order = await first(ex.watch_orders())
    assert (order.client_order_id, order.status) == ("my-order", "CANCELED")


async def test_balance_update_from_user_stream(ex: Binance, venue: Venue) -> None:
    """An outboundAccountPosition becomes a balance mapping with exact free and locked."""
    venue.user["listen-key-0001"] = [recorded("ws_account_position.json")]
    balances = await first(ex.watch_balances())
    assert (balances["ETH"].free, balances["ETH"].locked) == (Decimal("10000.000000"), Decimal("0.000000"))


async def test_expired_listen_key_moves_to_a_new_one(ex: Binance, venue: Venue) -> None:
    """After listenKeyExpired the stream goes silent; the connector opens a new key and reconnects."""
    venue.user["listen-key-0001"] = [{"e": "listenKeyExpired", "E": 1576653824250,
                                      "listenKey": "listen-key-0001"}]
    venue.user["listen-key-0002"] = [recorded("ws_execution_report.json")]
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"
    assert venue.user_connections == ["listen-key-0001", "listen-key-0002"]


async def test_orders_opened_while_the_listen_key_was_dead_are_reported(ex: Binance, venue: Venue) -> None:
    """After the new key's stream is live, the open orders the venue lists come first, then the stream."""
    venue.user["listen-key-0001"] = [{"e": "listenKeyExpired", "E": 1576653824250,
                                      "listenKey": "listen-key-0001"}]
    venue.user["listen-key-0002"] = [recorded("ws_execution_report.json")]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    orders = ex.watch_orders()
    try:
        got = [await asyncio.wait_for(anext(orders), 5.0) for _ in range(2)]
    finally:
        await orders.aclose()  # type: ignore[attr-defined]
    assert [(o.symbol, o.order_id, o.status) for o in got] == [("LTCBTC", "1", "NEW"), ("ETHBTC", "4293153", "NEW")]


async def test_an_unreadable_order_event_is_reconciled_by_rest(ex: Binance, venue: Venue, metrics: Metrics) -> None:
    """An executionReport that fails its schema is counted, then the open orders are asked as after a gap."""
    broken = {**recorded("ws_execution_report.json"), "i": "not-an-order-id"}
    venue.user["listen-key-0001"] = [broken]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    order: Order = await first(ex.watch_orders())
    assert (order.symbol, order.order_id, order.status) == ("LTCBTC", "1", "NEW")
    assert malformed(metrics, "schema") == 1.0


async def test_an_event_type_we_do_not_model_is_no_reason_to_reconcile(ex: Binance, venue: Venue) -> None:
    """An unknown event type (balanceUpdate, listStatus...) is dropped, without a REST reconcile."""
    venue.user["listen-key-0001"] = [{"e": "someNewEvent", "E": 1}, recorded("ws_execution_report.json")]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"  # the stream's own next event, not the REST answer


async def test_orders_closed_while_the_listen_key_was_dead_are_looked_up_on_every_known_symbol(
        ex: Binance, venue: Venue) -> None:
    """The history is asked per named or open symbol, on the venue's clock from before the gap to just past now."""
    venue.user["listen-key-0001"] = [{"e": "listenKeyExpired", "E": 1576653824250,
                                      "listenKey": "listen-key-0001"}]
    venue.user["listen-key-0002"] = [recorded("ws_execution_report.json")]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    venue.all_orders = {"BNBBTC": [recorded("query_order.json", symbol="BNBBTC", orderId=7, status="FILLED",
                                            executedQty="1.0")]}
    orders = ex.watch_orders(symbols=["BNBBTC"])
    try:
        got = [await asyncio.wait_for(anext(orders), 5.0) for _ in range(3)]
    finally:
        await orders.aclose()  # type: ignore[attr-defined]
    assert [(o.symbol, o.order_id, o.status) for o in got] == [
        ("LTCBTC", "1", "NEW"), ("BNBBTC", "7", "FILLED"), ("ETHBTC", "4293153", "NEW")]
    assert [symbol for symbol, _, _ in venue.history_asked] == ["BNBBTC", "LTCBTC"]
    # The scripted venue's clock stands still at 1_700_000_000_000 ms: the offset moves the gap onto it.
    _, start, end = venue.history_asked[0]
    assert abs(start - (1_700_000_000_000 - 70_000)) < 5_000 and abs(end - (1_700_000_000_000 + 10_000)) < 5_000


async def test_balances_after_a_dead_listen_key_start_with_the_whole_account(ex: Binance, venue: Venue) -> None:
    """Once the new key's stream is live, the account's balances come first (changes were missed)."""
    venue.user["listen-key-0001"] = [{"e": "listenKeyExpired", "E": 1576653824250,
                                      "listenKey": "listen-key-0001"}]
    venue.user["listen-key-0002"] = [recorded("ws_account_position.json")]
    changes = ex.watch_balances()
    try:
        whole, change = [await asyncio.wait_for(anext(changes), 5.0) for _ in range(2)]
    finally:
        await changes.aclose()  # type: ignore[attr-defined]
    assert (whole["BTC"].free, whole["LTC"].free) == (Decimal("4723846.89208129"), Decimal("4763368.68006011"))
    assert set(change) == {"ETH"}


async def test_closing_the_order_stream_closes_its_socket(ex: Binance, venue: Venue) -> None:
    """aclose() on watch_orders returns once the user-stream socket is closed, not whenever GC gets to it."""
    venue.user["listen-key-0001"] = [recorded("ws_execution_report.json")]
    orders = ex.watch_orders()
    await asyncio.wait_for(anext(orders), 5.0)
    assert venue.user_open == 1
    await orders.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0)  # the server's handler runs its finally
    assert venue.user_open == 0


async def test_server_shutdown_notice_rotates_without_loss(ex: Binance, venue: Venue) -> None:
    """serverShutdown makes the stream open a second connection; its trades still arrive."""
    venue.first_connection = [{"e": "serverShutdown", "E": 1}]
    venue.market = [{"stream": "btcusdt@trade", "data": TRADE}]
    trades = ex.watch_trades("BTCUSDT")
    try:
        await asyncio.wait_for(anext(trades), 5.0)
        for _ in range(250):  # the rotation opens connection 2, which subscribes and gets the script again
            if venue.stream_connections >= 2:
                break
            await asyncio.sleep(0.02)
        assert venue.stream_connections == 2
        assert (await asyncio.wait_for(anext(trades), 5.0)).trade_id == "12345"
    finally:
        await trades.aclose()  # type: ignore[attr-defined]


@asynccontextmanager
async def watching_orders(venue: Venue, serve_app: ServeApp, clock: FakeClock) -> AsyncIterator[None]:
    """``watch_orders()`` running against ``venue`` on ``clock``, its user stream connected."""
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("binance", credentials=Credentials("k" * 64, "s" * 64), rest_url=base,
                              ws_url=base.replace("http", "ws"), clock=clock) as ex:
        orders = ex.watch_orders()
        pending = asyncio.ensure_future(anext(orders))
        try:
            await reached(lambda: bool(venue.user_connections))
            yield
        finally:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
            await orders.aclose()


async def reached(condition: Callable[[], bool]) -> None:
    """Wait (real time, bounded) until ``condition`` holds."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached")


async def test_listen_key_kept_alive_every_30_minutes(venue: Venue, serve_app: ServeApp) -> None:
    """Every 30 minutes (injected clock) a PUT keeps the listen key alive; a failed one does not stop them."""
    clock = FakeClock(auto_advance=False)
    venue.keepalive_errors = [-1100]
    async with watching_orders(venue, serve_app, clock):
        await clock.advance(29 * 60)
        assert venue.keepalives == []
        await clock.advance(60)
        await reached(lambda: len(venue.keepalives) == 1)  # answered with an error: logged, the upkeep goes on
        await clock.advance(30 * 60)
        await reached(lambda: len(venue.keepalives) == 2)
        assert venue.keepalives == [("listen-key-0001", "k" * 64)] * 2


async def test_a_keepalive_answered_no_such_key_renews_the_key_and_reconnects(
        venue: Venue, serve_app: ServeApp) -> None:
    """-1125 to a keepalive: the key is gone, so a new one is made and the stream reconnects on it."""
    clock = FakeClock(auto_advance=False)
    venue.keepalive_errors = [-1125]
    async with watching_orders(venue, serve_app, clock):
        await clock.advance(30 * 60)
        await reached(lambda: len(venue.user_connections) == 2)
        assert venue.user_connections == ["listen-key-0001", "listen-key-0002"]
        await clock.advance(30 * 60)
        await reached(lambda: len(venue.keepalives) == 2)
        assert [key for key, _ in venue.keepalives] == ["listen-key-0001", "listen-key-0002"]


async def test_a_failed_listen_key_renewal_is_tried_again_a_minute_later(venue: Venue, serve_app: ServeApp) -> None:
    """If making the new key fails after a -1125, it is tried again after 60 s, not 30 minutes."""
    clock = FakeClock(auto_advance=False)
    venue.keepalive_errors = [-1125, -1125]
    async with watching_orders(venue, serve_app, clock):
        venue.listen_key_refusals = 1
        await clock.advance(30 * 60)
        await reached(lambda: venue.listen_key_refusals == 0)
        await clock.advance(60)
        await reached(lambda: len(venue.user_connections) == 2)
        assert venue.user_connections == ["listen-key-0001", "listen-key-0002"]

"""Binance streams against a scripted venue on 127.0.0.1: bad frames, raw streams, the user data subscription.

The venue here is a few lines of aiohttp: it acknowledges SUBSCRIBE requests, answers the WebSocket
API's ``userDataStream.subscribe.signature``, and then sends exactly the frames a test scripts,
which the simulator cannot be made to send (garbage, schema mismatches, ``eventStreamTerminated``,
refusals).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.binance import schemas as s
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import AuthenticationError, ConfigError, InvalidSignature, SubscriptionRejected
from lotusx.metrics import Metrics
from lotusx.models import Order, Ticker, Trade

PAYLOADS = Path(__file__).parent / "payloads"
KEY, SECRET = "k" * 64, "s" * 64
TERMINATED = {"e": "eventStreamTerminated", "E": 1728973001334}  # user-data-stream.md "Event Stream Terminated"
CLOSE = "close the socket"  # in a user script: the venue drops the connection there
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
    """Scripted Binance: ``market`` frames after each SUBSCRIBE; on ``/ws-api/v3``, ``user[n]`` after
    the n-th accepted user data subscription (each event wrapped as ``{"subscriptionId", "event"}``)."""

    def __init__(self) -> None:
        self.market: list[str | dict[str, Any]] = []
        self.first_connection: list[dict[str, Any]] = []  # sent before ``market`` on the first /stream only
        self.later_connections: list[dict[str, Any]] = []  # sent before ``market`` on every later /stream
        self.stream_connections = 0
        self.user: list[list[str | dict[str, Any]]] = []
        self.refusals: list[tuple[int, int, str]] = []  # (status, code, msg) answering the next subscriptions
        self.requests: list[dict[str, Any]] = []  # every WebSocket API request, as received
        self.api_connections = 0
        self.accepted = 0  # subscriptions answered with a subscriptionId
        self.open_orders: list[dict[str, Any]] = []  # GET /api/v3/openOrders, asked after a reconnect
        self.all_orders: dict[str, list[dict[str, Any]]] = {}  # GET /api/v3/allOrders by symbol, asked too
        self.history_asked: list[tuple[str, int, int]] = []  # (symbol, startTime, endTime)
        self.user_open = 0  # WebSocket API sockets open right now
        self.rest_paths: list[str] = []

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.record])
        app.add_routes([web.get("/api/v3/time", self.time),
                        web.get("/stream", self.stream), web.get("/ws-api/v3", self.ws_api),
                        web.get("/api/v3/openOrders", self.list_open_orders),
                        web.get("/api/v3/allOrders", self.list_all_orders),
                        web.get("/api/v3/account", self.account)])
        return app

    @web.middleware
    async def record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.rest_paths.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": 1_700_000_000_000})

    async def list_open_orders(self, request: web.Request) -> web.Response:
        return web.json_response(self.open_orders)

    async def list_all_orders(self, request: web.Request) -> web.Response:
        symbol = request.query["symbol"]
        self.history_asked.append((symbol, int(request.query["startTime"]), int(request.query["endTime"])))
        return web.json_response(self.all_orders.get(symbol, []))

    async def account(self, request: web.Request) -> web.Response:
        return web.Response(body=(PAYLOADS / "account.json").read_bytes(), content_type="application/json")

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        self.stream_connections += 1
        extra = self.first_connection if self.stream_connections == 1 else self.later_connections
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(orjson.dumps({"result": None, "id": orjson.loads(msg.data)["id"]}).decode())
                for frame in [*extra, *self.market]:
                    await ws.send_str(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
        return ws

    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        self.api_connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.user_open += 1
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self.answer(ws, orjson.loads(msg.data))
        finally:
            self.user_open -= 1
        return ws

    async def answer(self, ws: web.WebSocketResponse, req: dict[str, Any]) -> None:
        self.requests.append(req)
        if self.refusals:
            status, code, msg = self.refusals.pop(0)
            await send(ws, {"id": req["id"], "status": status, "error": {"code": code, "msg": msg}})
            return
        subscription, self.accepted = self.accepted, self.accepted + 1
        await send(ws, {"id": req["id"], "status": 200, "result": {"subscriptionId": subscription},
                        "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                        "intervalNum": 1, "limit": 6000, "count": 2}]})
        for event in self.user[subscription] if subscription < len(self.user) else []:
            if event == CLOSE:
                await ws.close()
                return
            await send(ws, event if isinstance(event, str) else {"subscriptionId": subscription, "event": event})


async def send(ws: web.WebSocketResponse, frame: str | dict[str, Any]) -> None:
    await ws.send_str(frame if isinstance(frame, str) else orjson.dumps(frame).decode())


@pytest.fixture
def venue() -> Venue:
    """The scripted venue."""
    return Venue()


@pytest.fixture
def metrics() -> Metrics:
    """A private metrics registry."""
    return Metrics()


@asynccontextmanager
async def loopback(app: web.Application, serve_app: ServeApp, metrics: Metrics | None = None
                   ) -> AsyncIterator[Binance]:
    """A connector pointed at ``app`` served over loopback: REST, the streams and the WS API alike."""
    server = await serve_app(app)
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("binance", credentials=Credentials(KEY, SECRET), rest_url=base,
                              ws_url=base.replace("http", "ws"), ws_api_url=base.replace("http", "ws"),
                              metrics=metrics or Metrics()) as connector:
        assert isinstance(connector, Binance)
        yield connector


@pytest.fixture
async def ex(venue: Venue, serve_app: ServeApp, metrics: Metrics) -> AsyncIterator[Binance]:
    """A connector pointed at the scripted venue over loopback."""
    async with loopback(venue.app(), serve_app, metrics) as connector:
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


# ----- the user data stream: a signed subscription on the WebSocket API -----

async def test_user_stream_needs_credentials(venue: Venue, serve_app: ServeApp) -> None:
    """watch_orders without credentials is a ConfigError, before any request."""
    server = await serve_app(venue.app())
    async with lotusx.connect("binance", rest_url=f"http://127.0.0.1:{server.port}") as ex:
        with pytest.raises(ConfigError):
            await anext(ex.watch_orders())
    assert (venue.api_connections, venue.requests) == (0, [])


async def test_connecting_sends_a_subscription_signed_over_its_sorted_params(ex: Binance, venue: Venue) -> None:
    """The one request on /ws-api/v3 is userDataStream.subscribe.signature, HMAC-signed over key=value&... sorted."""
    venue.user = [[recorded("ws_execution_report.json")]]
    await first(ex.watch_orders())
    ((request),) = venue.requests
    params = request["params"]
    assert request["method"] == "userDataStream.subscribe.signature"
    assert list(params) == ["apiKey", "recvWindow", "timestamp", "signature"]
    assert (params["apiKey"], params["recvWindow"], type(params["timestamp"])) == (KEY, 5000, int)
    payload = "&".join(f"{name}={value}" for name, value in sorted(params.items()) if name != "signature")
    assert params["signature"] == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def test_the_user_stream_never_asks_for_a_listen_key(ex: Binance, venue: Venue) -> None:
    """No REST userDataStream call: POST/PUT/DELETE /api/v3/userDataStream are gone since 2026-02-20."""
    venue.user = [[recorded("ws_execution_report.json")]]
    await first(ex.watch_orders())
    assert not [path for path in venue.rest_paths if "userDataStream" in path]


async def test_order_update_from_user_stream(ex: Binance, venue: Venue) -> None:
    """A wrapped executionReport becomes an Order with exact amounts; the subscription's answer is not an event."""
    venue.user = [[recorded("ws_execution_report.json")]]
    order: Order = await first(ex.watch_orders())
    assert (order.order_id, order.client_order_id, order.status, order.price, order.quantity) == (
        "4293153", "mUvoqJxFIILMdfAW5iGSOW", "NEW", Decimal("0.10264410"), Decimal("1.00000000"))


async def test_cancel_report_carries_original_client_id(ex: Binance, venue: Venue) -> None:
    """A cancel's executionReport maps to the order's original client id (``C``), not the cancel's."""
    venue.user = [[recorded("ws_execution_report.json", c="cancel-req", C="my-order", X="CANCELED", x="CANCELED")]]
    order: Order = await first(ex.watch_orders())
    assert (order.client_order_id, order.status) == ("my-order", "CANCELED")


async def test_balance_update_from_user_stream(ex: Binance, venue: Venue) -> None:
    """An outboundAccountPosition becomes a balance mapping with exact free and locked."""
    venue.user = [[recorded("ws_account_position.json")]]
    balances = await first(ex.watch_balances())
    assert (balances["ETH"].free, balances["ETH"].locked) == (Decimal("10000.000000"), Decimal("0.000000"))


async def test_a_terminated_event_stream_subscribes_again_on_a_new_connection(ex: Binance, venue: Venue) -> None:
    """After eventStreamTerminated no event comes: the connector reconnects and subscribes afresh."""
    venue.user = [[TERMINATED], [recorded("ws_execution_report.json")]]
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"
    assert (venue.api_connections, venue.accepted) == (2, 2)
    first_ts, second_ts = (request["params"]["timestamp"] for request in venue.requests)
    assert second_ts >= first_ts  # signed again with the time of its own connection


async def test_a_dropped_socket_subscribes_again(ex: Binance, venue: Venue) -> None:
    """The venue closes the socket: the next connection sends a new signed subscription and its events arrive."""
    venue.user = [[CLOSE], [recorded("ws_execution_report.json")]]
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"
    assert [request["method"] for request in venue.requests] == ["userDataStream.subscribe.signature"] * 2
    assert venue.api_connections == 2


async def test_orders_opened_while_the_stream_was_terminated_are_reported(ex: Binance, venue: Venue) -> None:
    """After the new subscription is live, the open orders the venue lists come first, then the stream."""
    venue.user = [[TERMINATED], [recorded("ws_execution_report.json")]]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    orders = ex.watch_orders()
    try:
        got = [await asyncio.wait_for(anext(orders), 5.0) for _ in range(2)]
    finally:
        await orders.aclose()  # type: ignore[attr-defined]
    assert [(o.symbol, o.order_id, o.status) for o in got] == [("LTCBTC", "1", "NEW"), ("ETHBTC", "4293153", "NEW")]


async def test_an_unreadable_order_event_is_reconciled_by_rest(ex: Binance, venue: Venue, metrics: Metrics) -> None:
    """An executionReport that fails its schema is counted, then the open orders are asked as after a gap."""
    venue.user = [[{**recorded("ws_execution_report.json"), "i": "not-an-order-id"}]]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    order: Order = await first(ex.watch_orders())
    assert (order.symbol, order.order_id, order.status) == ("LTCBTC", "1", "NEW")
    assert malformed(metrics, "schema") == 1.0


async def test_a_frame_that_is_not_json_is_reconciled_by_rest(ex: Binance, venue: Venue, metrics: Metrics) -> None:
    """A frame that does not parse may have been an event: counted, then the open orders are asked."""
    venue.user = [["this is not JSON {"]]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    order: Order = await first(ex.watch_orders())
    assert (order.symbol, order.order_id) == ("LTCBTC", "1")
    assert malformed(metrics, "json") == 1.0


async def test_an_event_type_we_do_not_model_is_no_reason_to_reconcile(ex: Binance, venue: Venue) -> None:
    """An event type we do not model (one added after this release) is dropped, without a REST reconcile."""
    venue.user = [[{"e": "someNewEvent", "E": 1}, recorded("ws_execution_report.json")]]
    venue.open_orders = orjson.loads((PAYLOADS / "open_orders.json").read_bytes())
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"  # the stream's own next event, not the REST answer


async def test_orders_closed_while_the_stream_was_terminated_are_looked_up_on_every_known_symbol(
        ex: Binance, venue: Venue) -> None:
    """The history is asked per named or open symbol, on the venue's clock from before the gap to just past now."""
    venue.user = [[TERMINATED], [recorded("ws_execution_report.json")]]
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


async def test_balances_after_a_terminated_stream_start_with_the_whole_account(ex: Binance, venue: Venue) -> None:
    """Once subscribed again, the account's balances come first (changes were missed)."""
    venue.user = [[TERMINATED], [recorded("ws_account_position.json")]]
    changes = ex.watch_balances()
    try:
        whole, change = [await asyncio.wait_for(anext(changes), 5.0) for _ in range(2)]
    finally:
        await changes.aclose()  # type: ignore[attr-defined]
    assert (whole["BTC"].free, whole["LTC"].free) == (Decimal("4723846.89208129"), Decimal("4763368.68006011"))
    assert set(change) == {"ETH"}


async def test_closing_the_order_stream_closes_its_socket(ex: Binance, venue: Venue) -> None:
    """aclose() on watch_orders returns once the WebSocket API socket is closed, not whenever GC gets to it."""
    venue.user = [[recorded("ws_execution_report.json")]]
    orders = ex.watch_orders()
    await asyncio.wait_for(anext(orders), 5.0)
    assert venue.user_open == 1
    await orders.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0)  # the server's handler runs its finally
    assert venue.user_open == 0


async def test_a_refused_api_key_ends_the_stream_with_an_authentication_error(ex: Binance, venue: Venue) -> None:
    """-2015 to the subscription: AuthenticationError for the consumer, not a reconnect loop."""
    venue.refusals = [(401, -2015, "Invalid API-key, IP, or permissions for action.")]
    with pytest.raises(AuthenticationError) as caught:
        await first(ex.watch_orders())
    assert (caught.value.code, caught.value.venue_message) == (-2015, "Invalid API-key, IP, or permissions for action.")
    assert venue.api_connections == 1


async def test_a_refused_signature_ends_the_stream_with_invalid_signature(ex: Binance, venue: Venue) -> None:
    """-1022 to the subscription is an InvalidSignature (an AuthenticationError): fatal to the stream."""
    venue.refusals = [(400, -1022, "Signature for this request is not valid.")]
    with pytest.raises(InvalidSignature):
        await first(ex.watch_balances())
    assert venue.api_connections == 1


async def test_a_request_error_ends_the_stream_as_a_rejected_subscription(ex: Binance, venue: Venue) -> None:
    """-1102 (a parameter missing) would recur on every connection: SubscriptionRejected, not a reconnect loop."""
    venue.refusals = [(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")]
    with pytest.raises(SubscriptionRejected):
        await first(ex.watch_orders())
    assert venue.api_connections == 1


async def test_a_throttled_subscription_is_tried_again_on_a_new_connection(ex: Binance, venue: Venue) -> None:
    """429 to the subscription is transient: after a back-off the next connection subscribes and streams."""
    venue.refusals = [(429, -1003, "Too many requests.")]
    venue.user = [[recorded("ws_execution_report.json")]]
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"
    assert (venue.api_connections, len(venue.requests)) == (2, 2)


async def test_a_subscription_refused_for_its_timestamp_resyncs_the_clock_before_the_next(
        ex: Binance, venue: Venue) -> None:
    """-1021 to the subscription: the clock is synced again at once, not a minute later, then the next one streams."""
    venue.refusals = [(400, -1021, "Timestamp for this request is outside of the recvWindow.")]
    venue.user = [[recorded("ws_execution_report.json")]]
    order: Order = await first(ex.watch_orders())
    assert order.order_id == "4293153"
    assert (venue.api_connections, len(venue.requests)) == (2, 2)
    syncs = venue.rest_paths.count("/api/v3/time") // ex.parts.clock.samples
    assert syncs == 2  # the first subscription's, and the one after its -1021


async def test_the_key_and_signature_never_reach_logs_or_errors(ex: Binance, venue: Venue) -> None:
    """Neither the API key nor any subscription's signature shows in log events or in the error raised."""
    venue.refusals = [(429, -1003, "Too many requests."), (400, -1022, "Signature for this request is not valid.")]
    with structlog.testing.capture_logs() as logs, pytest.raises(InvalidSignature) as caught:
        await first(ex.watch_orders())
    signatures = [request["params"]["signature"] for request in venue.requests]
    assert len(signatures) == 2 and logs  # the throttled attempt was logged
    shown = repr(logs) + str(caught.value) + repr(caught.value)
    assert KEY not in shown and not [signature for signature in signatures if signature in shown]


async def test_server_shutdown_notice_rotates_without_loss(ex: Binance, venue: Venue) -> None:
    """serverShutdown makes the stream open a second connection; its trades still arrive (the one both carry, once)."""
    venue.first_connection = [{"e": "serverShutdown", "E": 1}]
    venue.later_connections = [{"stream": "btcusdt@trade", "data": {**TRADE, "t": 12346}}]
    venue.market = [{"stream": "btcusdt@trade", "data": TRADE}]
    trades = ex.watch_trades("BTCUSDT")
    try:
        await asyncio.wait_for(anext(trades), 5.0)
        for _ in range(250):  # the rotation opens connection 2, which subscribes and gets the script again
            if venue.stream_connections >= 2:
                break
            await asyncio.sleep(0.02)
        assert venue.stream_connections == 2
        assert (await asyncio.wait_for(anext(trades), 5.0)).trade_id == "12346"
    finally:
        await trades.aclose()  # type: ignore[attr-defined]



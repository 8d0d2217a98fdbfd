"""What the Binance connector puts on the wire, request by request, on a pinned clock.

Every call goes through ``lotusx.connect("binance", transport=FakeTransport(...))``, so the
whole canonical stack runs (Retry, RateLimit, ClockSync, Sign, Trace, MapErrors) and the
transport records the exact signed request. Expected signatures are computed here with
``hmac``/pynacl over the query string, as rest-api.md "SIGNED Endpoint Examples" describes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import unquote

import orjson
import pytest
from nacl.signing import SigningKey

import lotusx
from lotusx.exchanges.binance import Binance, BinanceEd25519, signer
from lotusx.exchanges.binance.streams import subscribe_request
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import (
    AmbiguousOrderState,
    ConfigError,
    InsufficientBalance,
    ProtocolError,
    RateLimited,
)
from lotusx.kernel.message import Request, Response
from lotusx.layers.limiter import Pool
from lotusx.models import NewOrder, TimeInForce, Withdrawal
from lotusx.testing import FakeClock, FakeTransport

# The example key and secret of rest-api.md "SIGNED Endpoint Examples for POST /api/v3/order"
# (https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md).
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
LOCAL_MS = 1_700_000_000_000
SERVER_MS = LOCAL_MS + 250  # the venue runs 250 ms ahead: signed timestamps must follow it
ORDER_BODY = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "cid-1", "transactTime": SERVER_MS,
              "price": "50000.10000000", "origQty": "0.00000001", "executedQty": "0.00000000",
              "status": "NEW", "timeInForce": "GTC", "type": "LIMIT", "side": "BUY"}


def ok(body: object, status: int = 200) -> Response:
    return Response(status=status, body=orjson.dumps(body))


@dataclass
class Venue:
    """A minimal Binance: answers each path with a canned body; POST /api/v3/order is scripted."""

    order_answers: list[Response] = field(default_factory=list)
    placed: dict[str, Request] = field(default_factory=dict)
    lose_next: bool = False  # the next order never reaches the engine, and the client sees a 503
    history: Callable[[Request], list[dict[str, object]]] = lambda request: []  # GET /api/v3/allOrders pages

    def __call__(self, request: Request) -> Response:
        path = request.path
        if path == "/api/v3/time":
            return ok({"serverTime": SERVER_MS})
        if path == "/api/v3/order" and request.method == "POST":
            cid = dict(request.query)["newClientOrderId"]
            if self.lose_next:
                self.lose_next = False
                return ok({"code": -1001, "msg": "Internal error; unable to process your request."}, 503)
            self.placed.setdefault(cid, request)
            answer = self.order_answers.pop(0) if self.order_answers else None
            return answer or ok(ORDER_BODY | {"clientOrderId": cid})
        if path == "/api/v3/order" and request.method == "GET":
            wanted = dict(request.query).get("origClientOrderId")
            if wanted is not None and wanted not in self.placed:
                return ok({"code": -2013, "msg": "Order does not exist."}, 400)
            return ok(ORDER_BODY | {"clientOrderId": wanted or "cid-1"})
        if path == "/api/v3/order":
            return ok(ORDER_BODY | {"status": "CANCELED", "origClientOrderId": "cid-1", "clientOrderId": "x"})
        if path == "/api/v3/depth":
            return ok({"lastUpdateId": 1, "bids": [["1.00000000", "2.00000000"]], "asks": []})
        if path == "/api/v3/openOrders":
            return ok([ORDER_BODY])
        if path == "/api/v3/allOrders":
            return ok(self.history(request))
        if path == "/api/v3/account":
            return ok({"balances": [{"asset": "BTC", "free": "0.00000001", "locked": "0.00000000"}]})
        if path == "/sapi/v1/capital/withdraw/apply":
            return ok({"id": "w-1"})
        if path == "/sapi/v1/capital/withdraw/history":
            return ok([{"id": "w-1", "amount": "10", "coin": "USDT", "status": 4, "address": "T9"}])
        return ok({"symbol": "BTCUSDT", "bidPrice": "1", "bidQty": "1", "askPrice": "2", "askQty": "1"})


@pytest.fixture
def venue() -> Venue:
    """The scripted venue."""
    return Venue()


@pytest.fixture
def transport(venue: Venue) -> FakeTransport:
    """The recording transport in front of ``venue``."""
    return FakeTransport(venue)


@pytest.fixture
async def ex(transport: FakeTransport) -> AsyncIterator[Binance]:
    """A Binance connector over the fake transport, on a clock pinned at ``LOCAL_MS``."""
    async with lotusx.connect("binance", credentials=Credentials(KEY, SECRET), transport=transport,
                              clock=FakeClock(LOCAL_MS / 1000)) as connector:
        yield connector


def last(transport: FakeTransport, path: str) -> Request:
    """The last request sent to ``path``."""
    return [r for r in transport.requests if r.path == path][-1]


def names(request: Request) -> list[str]:
    return [name for name, _ in request.query]


def expected_hmac(request: Request) -> str:
    """The HMAC the venue expects: over everything before ``&signature=`` (rest-api.md)."""
    payload = request.query_string.rsplit("&signature=", 1)[0]
    return hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


def assert_signed(request: Request, *params: tuple[str, str]) -> None:
    """``params`` in order, then recvWindow, timestamp and the signature last; the key in the header."""
    assert request.query[:-3] == params
    assert request.query[-3:-1] == (("recvWindow", "5000"), ("timestamp", str(SERVER_MS)))
    assert request.query[-1] == ("signature", expected_hmac(request))
    assert request.header("X-MBX-APIKEY") == KEY


async def test_place_limit_order_wire_format(ex: Binance, transport: FakeTransport) -> None:
    """A LIMIT order: POST /api/v3/order, documented names in order, exact decimals, signed last."""
    await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("1E-8"),
                                  price=Decimal("50000.10"), client_order_id="cid-1"))
    request = last(transport, "/api/v3/order")
    assert request.method == "POST" and request.body is None
    assert_signed(request, ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                  ("quantity", "0.00000001"), ("price", "50000.1"), ("newClientOrderId", "cid-1"),
                  ("newOrderRespType", "RESULT"))


async def test_market_order_by_quote_quantity_wire_format(ex: Binance, transport: FakeTransport) -> None:
    """A MARKET order sized in quote sends quoteOrderQty and neither price nor timeInForce."""
    await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quote_quantity=Decimal("1E+2"),
                                  client_order_id="cid-2"))
    assert_signed(last(transport, "/api/v3/order"), ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"),
                  ("quoteOrderQty", "100"), ("newClientOrderId", "cid-2"), ("newOrderRespType", "RESULT"))


async def test_limit_maker_sends_no_time_in_force(ex: Binance, transport: FakeTransport) -> None:
    """LIMIT_MAKER takes no timeInForce (rest-api.md "New order": quantity and price only)."""
    await ex.place_order(NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT_MAKER", quantity=Decimal("0.50"),
                                  price=Decimal("60000"), client_order_id="cid-3"))
    assert "timeInForce" not in names(last(transport, "/api/v3/order"))


@pytest.mark.parametrize("tif", ["GTC", "IOC", "FOK"])
async def test_limit_time_in_force_is_sent(ex: Binance, transport: FakeTransport, tif: TimeInForce) -> None:
    """A LIMIT order sends the time in force it was given."""
    await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                  price=Decimal(1), time_in_force=tif, client_order_id="cid-t"))
    assert dict(last(transport, "/api/v3/order").query)["timeInForce"] == tif


async def test_market_order_sends_no_time_in_force(ex: Binance, transport: FakeTransport) -> None:
    """timeInForce is a LIMIT parameter only; a MARKET order with one set does not send it (-1106)."""
    await ex.place_order(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal(1),
                                  time_in_force="IOC", client_order_id="cid-m"))
    assert names(last(transport, "/api/v3/order"))[:5] == ["symbol", "side", "type", "quantity",
                                                           "newClientOrderId"]


async def test_generated_client_order_id_is_valid(ex: Binance, transport: FakeTransport) -> None:
    """Without a client order id one is generated within Binance's ``^[.A-Z:/a-z0-9_-]{1,36}$``."""
    order = await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                          price=Decimal(1)))
    cid = dict(last(transport, "/api/v3/order").query)["newClientOrderId"]
    assert order.client_order_id == cid and 1 <= len(cid) <= 36
    assert set(cid) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/_-")


async def test_market_order_needs_exactly_one_size(ex: Binance, transport: FakeTransport) -> None:
    """A MARKET order with both (or neither) quantity and quote quantity is refused before sending."""
    with pytest.raises(ConfigError):
        await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal(1),
                                      quote_quantity=Decimal(1)))
    assert not [r for r in transport.requests if r.path == "/api/v3/order"]


async def test_cancel_by_order_id_wire_format(ex: Binance, transport: FakeTransport) -> None:
    """cancel_order: DELETE /api/v3/order with symbol and orderId, signed."""
    order = await ex.cancel_order("BTCUSDT", order_id=7)
    request = last(transport, "/api/v3/order")
    assert request.method == "DELETE"
    assert_signed(request, ("symbol", "BTCUSDT"), ("orderId", "7"))
    assert order.status == "CANCELED" and order.client_order_id == "cid-1"


async def test_get_order_by_client_id_wire_format(ex: Binance, transport: FakeTransport,
                                                  venue: Venue) -> None:
    """get_order by client id: GET /api/v3/order with origClientOrderId, signed."""
    venue.placed["cid-9"] = Request(method="POST", path="/api/v3/order")
    await ex.get_order("BTCUSDT", client_order_id="cid-9")
    request = last(transport, "/api/v3/order")
    assert request.method == "GET"
    assert_signed(request, ("symbol", "BTCUSDT"), ("origClientOrderId", "cid-9"))


async def test_order_reference_must_be_exactly_one(ex: Binance) -> None:
    """Giving both or neither of order id and client id is a ConfigError."""
    with pytest.raises(ConfigError):
        await ex.get_order("BTCUSDT")
    with pytest.raises(ConfigError):
        await ex.cancel_order("BTCUSDT", order_id=1, client_order_id="a")


async def test_open_orders_weight_by_symbol(ex: Binance, transport: FakeTransport) -> None:
    """openOrders costs 6 with a symbol and 80 without (rest-api.md "Current open orders")."""
    await ex.get_open_orders("BTCUSDT")
    with_symbol = last(transport, "/api/v3/openOrders")
    await ex.get_open_orders()
    without = last(transport, "/api/v3/openOrders")
    assert_signed(with_symbol, ("symbol", "BTCUSDT"))
    assert_signed(without)
    assert (with_symbol.endpoint.costs["REQUEST_WEIGHT"], without.endpoint.costs["REQUEST_WEIGHT"]) == (6, 80)


DAY_MS = 24 * 3600 * 1000


def history_rows(first_id: int, times: Iterable[int]) -> list[dict[str, object]]:
    """allOrders rows with ids from ``first_id``, created at ``times``."""
    return [ORDER_BODY | {"orderId": first_id + n, "time": t} for n, t in enumerate(times)]


def windows(transport: FakeTransport) -> list[tuple[str, str]]:
    """(startTime, endTime) of every allOrders request sent."""
    return [(dict(r.query)["startTime"], dict(r.query)["endTime"]) for r in transport.requests
            if r.path == "/api/v3/allOrders"]


async def test_order_history_wire_format(ex: Binance, transport: FakeTransport) -> None:
    """get_order_history: GET /api/v3/allOrders for one symbol and window, 1000 a page, signed, weight 20."""
    await ex.get_order_history("BTCUSDT", since=LOCAL_MS, until=LOCAL_MS + 1000)
    sent = last(transport, "/api/v3/allOrders")
    assert_signed(sent, ("symbol", "BTCUSDT"), ("startTime", str(LOCAL_MS)), ("endTime", str(LOCAL_MS + 1000)),
                  ("limit", "1000"))
    assert sent.endpoint.costs["REQUEST_WEIGHT"] == 20


async def test_order_history_is_asked_in_windows_of_at_most_24_hours(ex: Binance, transport: FakeTransport) -> None:
    """Two days and a millisecond are three windows, none longer than the venue's 24 hours."""
    await ex.get_order_history("BTCUSDT", since=0, until=2 * DAY_MS)
    assert windows(transport) == [("0", str(DAY_MS - 1)), (str(DAY_MS), str(2 * DAY_MS - 1)),
                                  (str(2 * DAY_MS), str(2 * DAY_MS))]


async def test_order_history_pages_on_from_the_newest_order_time(ex: Binance, transport: FakeTransport,
                                                                 venue: Venue) -> None:
    """A full page is followed by one from its newest order's time; an order on both pages is kept once."""
    pages = [history_rows(1, range(100, 1100)), history_rows(1000, range(1099, 1101))]
    venue.history = lambda request: pages.pop(0)
    orders = await ex.get_order_history("BTCUSDT", since=0, until=5000)
    assert [o.order_id for o in orders] == [str(n) for n in range(1, 1002)]
    assert windows(transport) == [("0", "5000"), ("1099", "5000")]


async def test_order_history_that_cannot_page_on_is_a_protocol_error(ex: Binance, venue: Venue) -> None:
    """A full page of orders all created at the window's start leaves nothing to page on by: an error, not a hole."""
    venue.history = lambda request: history_rows(1, [int(dict(request.query)["startTime"])] * 1000)
    with pytest.raises(ProtocolError, match="cannot page on"):
        await ex.get_order_history("BTCUSDT", since=0, until=5000)


async def test_order_history_stops_after_100_pages(ex: Binance, transport: FakeTransport, venue: Venue) -> None:
    """A window that is still full after 100 pages is a ProtocolError; the walk is bounded."""
    def page(request: Request) -> list[dict[str, object]]:
        start = int(dict(request.query)["startTime"])
        return history_rows(start, range(start + 1, start + 1001))

    venue.history = page
    with pytest.raises(ProtocolError, match="after 100 pages"):
        await ex.get_order_history("BTCUSDT", since=0, until=DAY_MS - 1)
    assert len(windows(transport)) == 100


async def test_account_wire_format(ex: Binance, transport: FakeTransport) -> None:
    """get_balances: GET /api/v3/account with omitZeroBalances=true, signed; exact Decimals back."""
    balances = await ex.get_balances()
    assert_signed(last(transport, "/api/v3/account"), ("omitZeroBalances", "true"))
    assert balances["BTC"].free == Decimal("0.00000001")


async def test_withdraw_wire_format(ex: Binance, transport: FakeTransport) -> None:
    """withdraw: POST /sapi/v1/capital/withdraw/apply with coin, address, amount, network, ids."""
    withdrawal_id = await ex.withdraw(Withdrawal(asset="USDT", address="T9yD", amount=Decimal("10.50"),
                                                 network="TRX", tag="memo", client_id="w-own"))
    assert withdrawal_id == "w-1"
    request = last(transport, "/sapi/v1/capital/withdraw/apply")
    assert request.method == "POST"
    assert_signed(request, ("coin", "USDT"), ("address", "T9yD"), ("amount", "10.5"), ("network", "TRX"),
                  ("addressTag", "memo"), ("withdrawOrderId", "w-own"))
    assert request.endpoint.costs == {"SAPI_UID_WEIGHT": 900}


async def test_withdraw_history_wire_format(ex: Binance, transport: FakeTransport) -> None:
    """get_withdrawals: GET /sapi/v1/capital/withdraw/history with coin, signed; status named."""
    rows = await ex.get_withdrawals("USDT")
    assert_signed(last(transport, "/sapi/v1/capital/withdraw/history"), ("coin", "USDT"))
    assert [(r.withdrawal_id, r.status, r.amount) for r in rows] == [("w-1", "PROCESSING", Decimal(10))]


@pytest.mark.parametrize(("limit", "weight"), [(1, 5), (100, 5), (101, 25), (500, 25), (501, 50), (1000, 50),
                                               (1001, 250), (5000, 250)])
async def test_depth_weight_by_limit(ex: Binance, transport: FakeTransport, limit: int, weight: int) -> None:
    """GET /api/v3/depth is unsigned and weighs 5/25/50/250 by limit (rest-api.md "Order book")."""
    await ex.get_order_book("BTCUSDT", depth=limit)
    request = last(transport, "/api/v3/depth")
    assert request.query == (("symbol", "BTCUSDT"), ("limit", str(limit)))
    assert request.header("X-MBX-APIKEY") is None
    assert request.endpoint.costs["REQUEST_WEIGHT"] == weight


async def test_public_endpoints_are_unsigned(ex: Binance, transport: FakeTransport) -> None:
    """time, bookTicker and trades carry no timestamp, signature or key."""
    await ex.get_server_time()
    await ex.get_ticker("BTCUSDT")
    transport.handler = lambda request: ok([])
    await ex.get_trades("BTCUSDT", limit=7)
    ticker, trades = last(transport, "/api/v3/ticker/bookTicker"), last(transport, "/api/v3/trades")
    assert (ticker.query, trades.query) == ((("symbol", "BTCUSDT"),), (("symbol", "BTCUSDT"), ("limit", "7")))
    assert all(r.header("X-MBX-APIKEY") is None for r in (ticker, trades))
    assert trades.endpoint.costs["REQUEST_WEIGHT"] == 25


def test_the_user_data_subscription_is_hmac_signed_over_its_params_sorted_by_key() -> None:
    """userDataStream.subscribe.signature: apiKey, recvWindow, timestamp and a hex HMAC of them as key=value&..."""
    request = orjson.loads(subscribe_request(signer(Credentials(KEY, SECRET)), KEY, LOCAL_MS, 7))
    payload = f"apiKey={KEY}&recvWindow=5000&timestamp={LOCAL_MS}".encode()
    assert request == {"id": 7, "method": "userDataStream.subscribe.signature",
                       "params": {"apiKey": KEY, "recvWindow": 5000, "timestamp": LOCAL_MS,
                                  "signature": hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()}}


def test_the_user_data_subscription_of_an_ed25519_key_carries_a_base64_ed25519_signature() -> None:
    """An Ed25519 key signs the same sorted payload; the signature is standard base64."""
    seed = bytes(range(32))
    ed25519 = BinanceEd25519(KEY, seed.hex(), recv_window=5000)
    params = orjson.loads(subscribe_request(ed25519, KEY, LOCAL_MS, 1))["params"]
    payload = f"apiKey={KEY}&recvWindow=5000&timestamp={LOCAL_MS}".encode()
    SigningKey(seed).verify_key.verify(payload, base64.b64decode(params["signature"]))


async def test_retry_after_503_reconciles_to_one_order(ex: Binance, transport: FakeTransport,
                                                       venue: Venue) -> None:
    """A 503 after the order landed: Retry queries it by client id and never sends it twice."""
    venue.order_answers.append(ok({"code": -1001, "msg": "Internal error; unable to process your request."}, 503))
    order = await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                          price=Decimal(1), client_order_id="cid-r"))
    posts = [r for r in transport.requests if r.path == "/api/v3/order" and r.method == "POST"]
    queries = [r for r in transport.requests if r.path == "/api/v3/order" and r.method == "GET"]
    assert len(posts) == 1 and list(venue.placed) == ["cid-r"]
    assert [dict(q.query)["origClientOrderId"] for q in queries] == ["cid-r"]
    assert order.client_order_id == "cid-r"


async def test_retry_after_503_is_ambiguous_not_resent_when_absent(ex: Binance, transport: FakeTransport,
                                                                    venue: Venue) -> None:
    """A 503 and the reconcile finds nothing: no re-send (Binance takes a filled order's client id again)."""
    venue.lose_next = True
    with pytest.raises(AmbiguousOrderState) as caught:
        await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                      price=Decimal(1), client_order_id="cid-s"))
    posts = [r for r in transport.requests if r.path == "/api/v3/order" and r.method == "POST"]
    assert [dict(p.query)["newClientOrderId"] for p in posts] == ["cid-s"]
    assert posts[0].query[-1] == ("signature", expected_hmac(posts[0]))
    assert caught.value.client_order_id == "cid-s" and not venue.placed


async def test_refused_placement_is_resent_with_the_same_client_id_signed_afresh(
        ex: Binance, transport: FakeTransport, venue: Venue) -> None:
    """A 429 refused the order (never executed): the re-send reuses the client id, each attempt signed anew."""
    venue.order_answers.append(ok({"code": -1015, "msg": "Too many new orders."}, 429))
    await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                  price=Decimal(1), client_order_id="cid-s"))
    posts = [r for r in transport.requests if r.path == "/api/v3/order" and r.method == "POST"]
    assert [dict(p.query)["newClientOrderId"] for p in posts] == ["cid-s", "cid-s"]
    assert all(p.query[-1] == ("signature", expected_hmac(p)) for p in posts)  # each attempt signed afresh


async def test_a_reconcile_the_rate_limiter_refuses_is_ambiguous_and_never_sent(transport: FakeTransport,
                                                                             venue: Venue) -> None:
    """The reconcile query is charged like any call: with no room left it is refused, never sent."""
    venue.order_answers.append(ok({"code": -1001, "msg": "Internal error"}, 503))
    weight = {"REQUEST_WEIGHT": [Pool("REQUEST_WEIGHT", 6, 60)]}  # 5 clock samples + the order's 1
    async with lotusx.connect("binance", credentials=Credentials(KEY, SECRET), transport=transport,
                              clock=FakeClock(LOCAL_MS / 1000), rate_limits=weight, max_wait=0.0) as ex:
        with pytest.raises(AmbiguousOrderState) as caught:
            await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                          price=Decimal(1), client_order_id="cid-l"))
    assert isinstance(caught.value.__cause__, RateLimited)
    assert not [r for r in transport.requests if r.path == "/api/v3/order" and r.method == "GET"]


async def test_ambiguous_when_reconcile_fails(ex: Binance, transport: FakeTransport, venue: Venue) -> None:
    """If the order cannot be queried after a 503, placement ends in AmbiguousOrderState."""
    venue.order_answers.append(ok({"code": -1001, "msg": "Internal error"}, 503))
    real = transport.handler
    transport.handler = lambda r: ok({}, 500) if r.method == "GET" and r.path == "/api/v3/order" else real(r)
    with pytest.raises(AmbiguousOrderState) as caught:
        await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                      price=Decimal(1), client_order_id="cid-a"))
    assert caught.value.client_order_id == "cid-a"


async def test_venue_rejection_is_typed(ex: Binance, venue: Venue) -> None:
    """A -2010 insufficient-balance answer surfaces as InsufficientBalance, with code and message."""
    venue.order_answers.append(ok({"code": -2010, "msg": "Account has insufficient balance for requested action."},
                                  400))
    with pytest.raises(InsufficientBalance) as caught:
        await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(1),
                                      price=Decimal(1)))
    assert caught.value.code == -2010 and SECRET not in str(caught.value)


async def test_ed25519_key_signs_with_base64_signature(transport: FakeTransport) -> None:
    """A PEM secret selects Ed25519: base64 signature over the same payload, percent-encoded last."""
    seed = bytes(range(32))
    der = bytes.fromhex("302e020100300506032b657004220420") + seed  # PKCS#8 Ed25519 (RFC 8410 §7)
    pem = "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PRIVATE KEY-----\n"
    async with lotusx.connect("binance", credentials=Credentials("ed-key-123", pem), transport=transport,
                              clock=FakeClock(LOCAL_MS / 1000)) as ex:
        await ex.cancel_order("BTCUSDT", order_id=7)
    request = last(transport, "/api/v3/order")
    payload, encoded = request.query_string.rsplit("&signature=", 1)
    expected = base64.b64encode(SigningKey(seed).sign(payload.encode()).signature).decode()
    assert payload == f"symbol=BTCUSDT&orderId=7&recvWindow=5000&timestamp={SERVER_MS}"
    assert unquote(encoded) == expected and "+" not in encoded and "/" not in encoded
    assert request.header("X-MBX-APIKEY") == "ed-key-123"


async def test_repr_hides_credentials(ex: Binance) -> None:
    """The connector's repr shows its stack but neither the API key nor the secret."""
    text = repr(ex)
    assert "Sign(" in text and "recv_window=5000" in text
    assert KEY not in text and SECRET not in text


async def test_an_earlier_filled_order_found_under_a_reused_id_is_ambiguous_even_when_alike(
        transport: FakeTransport, venue: Venue) -> None:
    """A 503, then the reconcile finds the id's earlier filled order, asked alike: not this call's (ambiguous)."""
    earlier = {k: v for k, v in ORDER_BODY.items() if k != "transactTime"} | {
        "clientOrderId": "slot-1", "status": "FILLED", "executedQty": "0.00000001", "time": SERVER_MS - 60_000}

    def answer(request: Request) -> Response:
        if request.path == "/api/v3/order" and request.method == "POST":
            return ok({"code": -1001, "msg": "Internal error; unable to process your request."}, 503)
        if request.path == "/api/v3/order" and request.method == "GET":
            return ok(earlier)
        return venue(request)

    async with lotusx.connect("binance", credentials=Credentials(KEY, SECRET), transport=FakeTransport(answer),
                              clock=FakeClock(LOCAL_MS / 1000)) as ex:
        with pytest.raises(AmbiguousOrderState, match="earlier, closed order"):
            await ex.place_order(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.00000001"),
                                          price=Decimal("50000.1"), client_order_id="slot-1"))

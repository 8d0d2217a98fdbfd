"""Request encoding, signing, error mapping and retry behaviour, over a FakeTransport.

Every request goes through the real canonical stack (``lotusx.connect``) with a pinned clock,
so method, path, query, body, X-BAPI-* headers and the signature are exactly what goes out.
The expected signature is computed here from the documented formula
(https://bybit-exchange.github.io/docs/v5/guide, "Authentication"):
hex HMAC-SHA256(secret, timestamp + apiKey + recvWindow + (queryString | jsonBody)).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from bybit_helpers import Venue, answer, payload

import lotusx
from lotusx.exchanges.bybit import VENUE_LINEAR
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

KEY, SECRET = "test-key-0001", "test-secret-0001"
NOW_MS = 1_700_000_000_000
ORDER = {"orderId": "42", "orderLinkId": "cid-1", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
         "orderStatus": "New", "price": "50000", "qty": "0.01", "cumExecQty": "0", "timeInForce": "GTC",
         "updatedTime": "1700000000000", "category": "spot"}


def signature(payload: bytes, timestamp: int = NOW_MS) -> str:
    """The documented v5 signature."""
    return hmac.new(SECRET.encode(), f"{timestamp}{KEY}5000".encode() + payload, hashlib.sha256).hexdigest()


def connect(handler: Callable[[FakeClock], Venue], venue: Any = "bybit") -> tuple[lotusx.connect, FakeTransport,
                                                                                   FakeClock]:
    clock = FakeClock(NOW_MS / 1000)
    transport = FakeTransport(handler(clock))
    return (lotusx.connect(venue, credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                           transport=transport), transport, clock)


def wire(transport: FakeTransport, path: str) -> list[Request]:
    return [r for r in transport.requests if r.path == path]


async def test_order_book_is_a_public_get_with_category_and_limit() -> None:
    """get_order_book: GET /v5/market/orderbook?category=spot&symbol=..&limit=.., unsigned."""
    conn, transport, _ = connect(lambda c: Venue(c, market_orderbook=lambda r: Response(
        status=200, body=payload("orderbook.json"))))
    async with conn as ex:
        book = await ex.get_order_book("BTCUSDT", depth=1)
    [request] = wire(transport, "/v5/market/orderbook")
    assert (request.method, request.query_string) == ("GET", "category=spot&symbol=BTCUSDT&limit=1")
    assert request.header("X-BAPI-SIGN") is None
    assert (book.bids, book.asks, book.sequence) == ([(Decimal("65485.47"), Decimal("47.081829"))],
                                                     [(Decimal("65557.7"), Decimal("16.606555"))], 230704)


async def test_place_order_posts_the_exact_signed_json_body() -> None:
    """place_order: POST /v5/order/create, JSON body, X-BAPI-* headers, signature over the body."""
    conn, transport, _ = connect(lambda c: Venue(c, order_create=lambda r: answer(
        {"orderId": "42", "orderLinkId": "cid-1"})))
    async with conn as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                     quantity=Decimal("0.0100"), price=Decimal("5E+4"),
                                                     client_order_id="cid-1"))
    [request] = wire(transport, "/v5/order/create")
    body = (b'{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01",'
            b'"price":"50000","timeInForce":"GTC","orderLinkId":"cid-1"}')
    assert (request.method, request.query, request.body) == ("POST", (), body)
    assert request.headers == (("Content-Type", "application/json"), ("X-BAPI-API-KEY", KEY),
                               ("X-BAPI-TIMESTAMP", str(NOW_MS)), ("X-BAPI-RECV-WINDOW", "5000"),
                               ("X-BAPI-SIGN", signature(body)), ("X-BAPI-SIGN-TYPE", "2"))
    assert (order.order_id, order.client_order_id, order.status, order.quantity) == ("42", "cid-1", "NEW",
                                                                                   Decimal("0.01"))


async def test_get_order_signs_the_query_string() -> None:
    """get_order: GET /v5/order/realtime, signature over the query string as sent."""
    conn, transport, _ = connect(lambda c: Venue(c, order_realtime=lambda r: answer({"list": [ORDER]})))
    async with conn as ex:
        order = await ex.get_order("BTCUSDT", client_order_id="cid-1")
    [request] = wire(transport, "/v5/order/realtime")
    assert request.query_string == "category=spot&symbol=BTCUSDT&orderLinkId=cid-1"
    assert request.header("X-BAPI-SIGN") == signature(request.query_string.encode())
    assert (order.order_id, order.side, order.type, order.price) == ("42", "BUY", "LIMIT", Decimal(50000))


async def test_generated_client_order_id_is_sent_and_returned() -> None:
    """Without a client order id one is generated, sent as orderLinkId and returned."""
    conn, transport, _ = connect(lambda c: Venue(c, order_create=lambda r: answer(
        {"orderId": "7", "orderLinkId": orjson.loads(r.body or b"")["orderLinkId"]})))
    async with conn as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET",
                                                     quantity=Decimal("1")))
    [request] = wire(transport, "/v5/order/create")
    sent = orjson.loads(request.body or b"")
    assert sent["orderLinkId"] == order.client_order_id and order.client_order_id.startswith("lx-")
    assert (sent["orderType"], sent["marketUnit"], "timeInForce" in sent) == ("Market", "baseCoin", False)


async def test_post_only_and_quote_sized_orders() -> None:
    """LIMIT_MAKER becomes timeInForce PostOnly; a quote-sized market buy sets marketUnit quoteCoin."""
    conn, transport, _ = connect(lambda c: Venue(c, order_create=lambda r: answer({"orderId": "1"})))
    async with conn as ex:
        await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER",
                                             quantity=Decimal("1"), price=Decimal("1")))
        await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET",
                                             quote_quantity=Decimal("100")))
    maker, market = (orjson.loads(r.body or b"") for r in wire(transport, "/v5/order/create"))
    assert (maker["orderType"], maker["timeInForce"]) == ("Limit", "PostOnly")
    assert (market["qty"], market["marketUnit"]) == ("100", "quoteCoin")


async def test_linear_venue_sends_category_linear() -> None:
    """VENUE_LINEAR trades category=linear; open orders without a symbol are asked per settle coin, USDT then USDC."""
    conn, transport, _ = connect(lambda c: Venue(c, order_realtime=lambda r: answer({"list": [ORDER]}),
                                                 order_create=lambda r: answer({"orderId": "1"})), VENUE_LINEAR)
    async with conn as ex:
        await ex.get_open_orders()
        with pytest.raises(e.ConfigError):
            await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET",
                                                 quote_quantity=Decimal("1")))
        await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("1")))
    usdt, usdc = wire(transport, "/v5/order/realtime")
    [create] = wire(transport, "/v5/order/create")
    assert (usdt.query_string, usdc.query_string) == ("category=linear&settleCoin=USDT&limit=50",
                                                      "category=linear&settleCoin=USDC&limit=50")
    assert "marketUnit" not in orjson.loads(create.body or b"") and b'"category":"linear"' in (create.body or b"")


async def test_balances_and_withdraw_encoding() -> None:
    """get_balances asks for the UNIFIED wallet; withdraw posts coin, chain, amount and a timestamp."""
    conn, transport, _ = connect(lambda c: Venue(
        c, account_wallet_balance=lambda r: Response(status=200, body=payload("wallet_balance.json")),
        asset_withdraw_create=lambda r: Response(status=200, body=payload("withdraw_create.json"))))
    async with conn as ex:
        balances = await ex.get_balances()
        withdrawal_id = await ex.withdraw(lotusx.Withdrawal(asset="USDT", address="Txyz", amount=Decimal("10.50"),
                                                            network="TRX", client_id="w1"))
    [wallet] = wire(transport, "/v5/account/wallet-balance")
    [withdraw] = wire(transport, "/v5/asset/withdraw/create")
    assert wallet.query_string == "accountType=UNIFIED" and balances == {}  # the documented example is all zero
    assert orjson.loads(withdraw.body or b"") == {"coin": "USDT", "chain": "TRX", "address": "Txyz", "amount": "10.5",
                                                  "accountType": "FUND", "timestamp": NOW_MS, "requestId": "w1"}
    assert withdrawal_id == "10195"


async def test_cancel_posts_then_reads_the_order_back() -> None:
    """cancel_order: POST /v5/order/cancel by id, then the order's state from /v5/order/realtime."""
    cancelled = {**ORDER, "orderStatus": "Cancelled"}
    conn, transport, _ = connect(lambda c: Venue(c, order_cancel=lambda r: answer({"orderId": "42"}),
                                                 order_realtime=lambda r: answer({"list": [cancelled]})))
    async with conn as ex:
        order = await ex.cancel_order("BTCUSDT", order_id=42)
    [cancel] = wire(transport, "/v5/order/cancel")
    assert orjson.loads(cancel.body or b"") == {"category": "spot", "symbol": "BTCUSDT", "orderId": "42"}
    assert order.status == "CANCELED"


async def test_missing_order_is_not_found_and_ids_are_checked() -> None:
    """Empty realtime and history lists are NotFound; giving both or neither id is a ConfigError."""
    conn, _, _ = connect(lambda c: Venue(c, order_realtime=lambda r: answer({"list": []}),
                                         order_history=lambda r: answer({"list": []})))
    async with conn as ex:
        with pytest.raises(e.NotFound):
            await ex.get_order("BTCUSDT", order_id="1")
        with pytest.raises(e.ConfigError):
            await ex.get_order("BTCUSDT")
        with pytest.raises(e.ConfigError):
            await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET"))


async def test_an_order_realtime_no_longer_keeps_comes_from_order_history() -> None:
    """Realtime finds nothing (a closed order past its 500, or after a restart): history is asked, same ids."""
    row = orjson.loads(payload("order_realtime.json"))["result"]["list"][0]
    conn, transport, _ = connect(lambda c: Venue(c, order_realtime=lambda r: answer({"list": []}),
                                                 order_history=lambda r: answer({"list": [row]})))
    async with conn as ex:
        order = await ex.get_order("BTCUSDT", order_id=row["orderId"])
    assert order.order_id == row["orderId"]
    [history] = wire(transport, "/v5/order/history")
    assert history.query_string == f"category=spot&symbol=BTCUSDT&orderId={row['orderId']}"


async def test_timestamp_rejection_resyncs_the_clock_and_resends() -> None:
    """retCode 10002: ClockSync resyncs and re-sends once, re-signed."""
    conn, transport, _ = connect(lambda c: Venue(c, account_wallet_balance=[
        answer({}, ret_code=10002, ret_msg="invalid request, please check your server timestamp"),
        Response(status=200, body=payload("wallet_balance.json"))]))
    async with conn as ex:
        await ex.get_balances()
    times = wire(transport, "/v5/market/time")
    assert len(wire(transport, "/v5/account/wallet-balance")) == 2 and len(times) >= 2


async def test_throttled_call_waits_for_the_venue_reset_then_retries() -> None:
    """retCode 10006: RateLimited with retry_after from X-Bapi-Limit-Reset-Timestamp; Retry waits it out."""
    throttled = answer({}, ret_code=10006, ret_msg="Too many visits!", time=NOW_MS,
                       headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "50",
                                "X-Bapi-Limit-Reset-Timestamp": str(NOW_MS + 700)})
    conn, transport, clock = connect(lambda c: Venue(c, order_realtime=[throttled, answer({"list": [ORDER]})]))
    async with conn as ex:
        await ex.get_order("BTCUSDT", order_id="42")
    assert len(wire(transport, "/v5/order/realtime")) == 2
    assert sum(clock.slept) >= 0.7


async def test_usage_headers_fill_the_endpoint_pool() -> None:
    """An exhausted X-Bapi-Limit-Status makes the next call to that endpoint wait for the reset."""
    spent = answer({"list": [ORDER]}, headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "50",
                                              "X-Bapi-Limit-Reset-Timestamp": str(NOW_MS + 400)})
    conn, _, clock = connect(lambda c: Venue(c, order_realtime=[spent, answer({"list": [ORDER]})],
                                             order_create=lambda r: answer({"orderId": "1"})))
    async with conn as ex:
        await ex.get_order("BTCUSDT", order_id="42")
        await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal(1)))
        assert sum(clock.slept) == 0  # another endpoint's pool is untouched
        await ex.get_order("BTCUSDT", order_id="42")
    assert sum(clock.slept) >= 0.4


async def test_ambiguous_placement_is_reconciled_by_order_link_id() -> None:
    """retCode 10016 on create: the order is looked up by orderLinkId and returned, never re-sent."""
    conn, transport, _ = connect(lambda c: Venue(c, order_create=[answer({}, ret_code=10016, ret_msg="Server error")],
                                                 order_realtime=lambda r: answer({"list": [ORDER]})))
    async with conn as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                     quantity=Decimal("0.01"), price=Decimal(50000),
                                                     client_order_id="cid-1"))
    [lookup] = wire(transport, "/v5/order/realtime")
    assert len(wire(transport, "/v5/order/create")) == 1
    assert lookup.query_string == "category=spot&symbol=BTCUSDT&orderLinkId=cid-1"
    assert (order.order_id, order.status, order.client_order_id) == ("42", "NEW", "cid-1")


async def test_duplicate_order_link_id_reconciles_to_the_existing_order() -> None:
    """retCode 110072 (duplicate orderLinkId) ends in the existing order, not an error."""
    conn, _, _ = connect(lambda c: Venue(c, order_create=[answer({}, ret_code=110072,
                                                                ret_msg="OrderLinkedID is duplicate")],
                                         order_realtime=lambda r: answer({"list": [ORDER]})))
    async with conn as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                     quantity=Decimal("0.01"), price=Decimal(50000),
                                                     client_order_id="cid-1"))
    assert order.order_id == "42"


async def test_absent_after_ambiguity_resends_the_same_order_link_id() -> None:
    """When the reconcile finds nothing (realtime nor history), the same orderLinkId is re-sent."""
    conn, transport, _ = connect(lambda c: Venue(
        c, order_create=[answer({}, ret_code=10000, ret_msg="Server Timeout"), answer({"orderId": "9"})],
        order_realtime=lambda r: answer({"list": []}), order_history=lambda r: answer({"list": []})))
    async with conn as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                     quantity=Decimal("0.01"), price=Decimal(50000),
                                                     client_order_id="cid-1"))
    first, second = (orjson.loads(r.body or b"")["orderLinkId"] for r in wire(transport, "/v5/order/create"))
    assert (first, second, order.order_id) == ("cid-1", "cid-1", "9")


async def test_repr_shows_the_stack_and_no_secret() -> None:
    """repr(connector) shows the layers but never the key or secret."""
    conn, _, _ = connect(lambda c: Venue(c))
    async with conn as ex:
        text = repr(ex)
    assert "Retry" in text and "RateLimit" in text and SECRET not in text and KEY not in text


@pytest.mark.parametrize("odd", [{"side": "Long"}, {"updatedTime": "soon"}])
async def test_an_order_row_with_an_odd_side_or_time_is_a_decode_error(odd: dict[str, str]) -> None:
    """A side other than Buy/Sell or a time that is no number fails the schema: DecodeError, not KeyError/ValueError."""
    conn, _, _ = connect(lambda c: Venue(c, order_realtime=lambda r: answer({"list": [{**ORDER, **odd}]})))
    async with conn as ex:
        with pytest.raises(e.DecodeError):
            await ex.get_open_orders("BTCUSDT")


@pytest.mark.parametrize("odd", [{"side": "Long"}, {"time": "garbled"}])
async def test_a_trade_row_with_an_odd_side_or_time_is_a_decode_error(odd: dict[str, str]) -> None:
    """Recent trades are checked the same way."""
    trade = {"execId": "t1", "symbol": "BTCUSDT", "price": "50000", "size": "0.1", "side": "Buy",
             "time": "1700000000000"}
    conn, _, _ = connect(lambda c: Venue(c, market_recent_trade=lambda r: answer(
        {"category": "spot", "list": [{**trade, **odd}]})))
    async with conn as ex:
        with pytest.raises(e.DecodeError):
            await ex.get_trades("BTCUSDT")


@pytest.mark.parametrize("still", ["New", "PartiallyFilled"])
async def test_an_order_still_open_right_after_the_cancel_ack_is_pending_cancel(still: str) -> None:
    """Bybit cancels asynchronously: read back still open, the order comes as PENDING_CANCEL, not NEW."""
    open_row = {**ORDER, "orderStatus": still}
    conn, _, _ = connect(lambda c: Venue(c, order_cancel=lambda r: answer({"orderId": "42"}),
                                         order_realtime=lambda r: answer({"list": [open_row]})))
    async with conn as ex:
        order = await ex.cancel_order("BTCUSDT", order_id=42)
    assert (order.status, order.order_id) == ("PENDING_CANCEL", "42")

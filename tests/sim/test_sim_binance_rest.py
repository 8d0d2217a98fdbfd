"""Binance spot REST: market data, orders, account, withdrawals, weights and limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_helpers import Binance, body

from lotusx.sim import Limits, Sim, SimConfig, serve
from lotusx.sim.venue import USER


async def test_ping_and_time(binance: Binance) -> None:
    """/ping answers {} and /time the server time in ms."""
    assert await body(await binance.public("/api/v3/ping")) == {}
    server_time = (await body(await binance.public("/api/v3/time")))["serverTime"]
    assert isinstance(server_time, int) and server_time > 1_600_000_000_000


async def test_every_response_reports_used_weight(binance: Binance) -> None:
    """X-MBX-USED-WEIGHT-1M grows by each call's documented weight (ping 1, exchangeInfo 20)."""
    first = int((await binance.public("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"])
    second = int((await binance.public("/api/v3/exchangeInfo")).headers["X-MBX-USED-WEIGHT-1M"])
    assert second - first == 20


@pytest.mark.parametrize(("limit", "weight"), [(5, 5), (100, 5), (101, 25), (500, 25), (1000, 50), (5000, 250)])
async def test_depth_weight_follows_limit(binance: Binance, limit: int, weight: int) -> None:
    """Depth weight is 5 / 25 / 50 / 250 by limit band, per the docs."""
    before = int((await binance.public("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"])
    resp = await binance.public("/api/v3/depth", symbol="BTCUSDT", limit=limit)
    assert int(resp.headers["X-MBX-USED-WEIGHT-1M"]) - before == weight


async def test_depth_shape(binance: Binance) -> None:
    """Depth has lastUpdateId and best-first string pairs, at most ``limit`` per side."""
    depth = await body(await binance.public("/api/v3/depth", symbol="BTCUSDT", limit=5))
    assert isinstance(depth["lastUpdateId"], int)
    assert len(depth["bids"]) == len(depth["asks"]) == 5
    bids = [Decimal(p) for p, _ in depth["bids"]]
    asks = [Decimal(p) for p, _ in depth["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert all(isinstance(q, str) for _, q in depth["bids"])


@pytest.mark.parametrize(("params", "code"), [
    ({"symbol": "BTCUSDT", "limit": 5001}, -1100), ({"symbol": "BTCUSDT", "limit": "x"}, -1102),
    ({"symbol": "NOPE"}, -1121), ({"symbol": "btc usdt"}, -1100), ({}, -1102),
])
async def test_depth_parameter_errors(binance: Binance, params: dict[str, object], code: int) -> None:
    """Bad limits, unknown and malformed symbols get the documented codes."""
    resp = await binance.public("/api/v3/depth", **params)
    assert (resp.status, (await body(resp))["code"]) == (400, code)


async def test_exchange_info_lists_symbols_and_limits(binance: Binance) -> None:
    """exchangeInfo shows the symbols with their filters and the rate limits."""
    info = await body(await binance.public("/api/v3/exchangeInfo"))
    assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT"}
    assert info["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                     "limit": 6000}


async def test_trades_and_book_ticker_follow_a_fill(binance: Binance, sim: Sim) -> None:
    """A marketable order shows up in /trades, and bookTicker shows the new best ask."""
    ask = sim.engine("binance").books["BTCUSDT"].levels("SELL", 1)[0]
    await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity=str(ask[1]))
    trades = await body(await binance.public("/api/v3/trades", symbol="BTCUSDT", limit=10))
    assert [(Decimal(trades[-1]["price"]), Decimal(trades[-1]["qty"]))] == [ask]
    assert trades[-1]["isBuyerMaker"] is False
    ticker = await body(await binance.public("/api/v3/ticker/bookTicker", symbol="BTCUSDT"))
    assert Decimal(ticker["askPrice"]) > ask[0]
    every = await body(await binance.public("/api/v3/ticker/bookTicker"))
    assert [t["symbol"] for t in every] == ["BTCUSDT", "ETHUSDT"]
    assert (await body(await binance.public("/api/v3/trades", symbol="X")))["code"] == -1121
    assert (await body(await binance.public("/api/v3/ticker/bookTicker", symbol="X")))["code"] == -1121


async def place(binance: Binance, **params: Any) -> aiohttp.ClientResponse:
    """POST /api/v3/order with LIMIT GTC defaults far from the market."""
    order: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                             "quantity": "0.01", "price": "40000"} | params
    return await binance.signed("POST", "/api/v3/order", **{k: v for k, v in order.items() if v is not None})


async def test_limit_order_full_response_and_order_count_headers(binance: Binance) -> None:
    """A resting LIMIT order answers in FULL shape with ORDER-COUNT headers."""
    resp = await place(binance, newClientOrderId="my-1")
    order = await body(resp)
    assert (order["status"], order["clientOrderId"], order["fills"]) == ("NEW", "my-1", [])
    assert (order["price"], order["origQty"]) == ("40000.00000000", "0.01000000")
    assert resp.headers["X-MBX-ORDER-COUNT-10S"] == "1" and resp.headers["X-MBX-ORDER-COUNT-1D"] == "1"


@pytest.mark.parametrize(("resp_type", "keys"), [
    ("ACK", {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}),
    ("RESULT", {"status", "executedQty", "cummulativeQuoteQty"}),
])
async def test_new_order_resp_type(binance: Binance, resp_type: str, keys: set[str]) -> None:
    """ACK returns only ids; RESULT adds the state but no fills."""
    order = await body(await place(binance, newOrderRespType=resp_type))
    assert keys <= set(order)
    assert "fills" not in order
    if resp_type == "ACK":
        assert set(order) == keys


async def test_market_order_fills_with_fills_list(binance: Binance, sim: Sim) -> None:
    """A MARKET quoteOrderQty order reports its fills and moves balances."""
    order = await body(await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                                            quoteOrderQty="1000"))
    assert order["status"] == "FILLED" and order["fills"]
    spent = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in order["fills"])
    assert spent == Decimal(order["cummulativeQuoteQty"]) <= 1000
    assert sim.engine("binance").balance("user", "USDT").free == Decimal(1_000_000) - spent


async def test_insufficient_balance_is_new_order_rejected(binance: Binance) -> None:
    """Buying more than the account holds is -2010 with the documented message."""
    resp = await place(binance, quantity="100", price="50000")
    assert await body(resp) == {"code": -2010, "msg": "Account has insufficient balance for requested action."}


async def test_duplicate_client_order_id_is_rejected(binance: Binance) -> None:
    """Reusing an open newClientOrderId is -2010 "Duplicate order sent."."""
    await place(binance, newClientOrderId="dup")
    assert await body(await place(binance, newClientOrderId="dup")) == {"code": -2010, "msg": "Duplicate order sent."}


async def test_limit_maker_that_would_take_is_rejected(binance: Binance) -> None:
    """LIMIT_MAKER through the spread is -2010."""
    resp = await place(binance, type="LIMIT_MAKER", timeInForce=None, price="60000")
    assert await body(resp) == {"code": -2010, "msg": "Order would immediately match and take."}


@pytest.mark.parametrize(("params", "code"), [
    ({"price": "1.5x"}, -1100), ({"quantity": "0.000001"}, -1013), ({"price": "40000.001"}, -1013),
    ({"newClientOrderId": "bad id!"}, -1100), ({"side": None}, -1102), ({"timeInForce": None}, -1102),
    ({"side": "UP"}, -1117), ({"type": "STOP"}, -1116), ({"timeInForce": "GTX"}, -1115), ({"symbol": "XYZ"}, -1121),
])
async def test_order_parameter_errors(binance: Binance, params: dict[str, Any], code: int) -> None:
    """Malformed, missing and out-of-filter parameters get their documented codes."""
    order: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                             "quantity": "0.01", "price": "40000"} | params
    resp = await binance.signed("POST", "/api/v3/order", **{k: v for k, v in order.items() if v is not None})
    assert (resp.status, (await body(resp))["code"]) == (400, code)


async def test_query_cancel_and_open_orders(binance: Binance) -> None:
    """An order is found by client id, listed as open, cancelled, then unknown to cancel."""
    order = await body(await place(binance, newClientOrderId="q-1"))
    found = await body(await binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="q-1"))
    assert (found["orderId"], found["isWorking"]) == (order["orderId"], True)
    assert [o["orderId"] for o in await body(await binance.signed("GET", "/api/v3/openOrders"))] == [order["orderId"]]
    cancelled = await body(await binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT",
                                                orderId=order["orderId"]))
    assert (cancelled["status"], cancelled["origClientOrderId"]) == ("CANCELED", "q-1")
    again = await binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=order["orderId"])
    assert await body(again) == {"code": -2011, "msg": "Unknown order sent."}
    assert await body(await binance.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")) == []


async def test_query_unknown_order_is_does_not_exist(binance: Binance) -> None:
    """Querying an unknown order is -2013; without any id it is -1102; a bad id -1100."""
    assert await body(await binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=999_999)) == {
        "code": -2013, "msg": "Order does not exist."}
    assert (await body(await binance.signed("GET", "/api/v3/order", symbol="BTCUSDT")))["code"] == -1102
    assert (await body(await binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId="x")))["code"] == -1100
    assert (await body(await binance.signed("GET", "/api/v3/openOrders", symbol="X")))["code"] == -1121
    assert (await body(await binance.signed("DELETE", "/api/v3/order", symbol="X", orderId=1)))["code"] == -1121


async def test_all_orders_lists_one_symbols_orders_in_any_state_oldest_first(binance: Binance, sim: Sim) -> None:
    """allOrders: open, cancelled and filled orders of the symbol alike; the newest ``limit`` when no range."""
    rested = await body(await place(binance, newClientOrderId="all-1"))
    await binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=rested["orderId"])
    await place(binance, newClientOrderId="all-2", type="MARKET", timeInForce=None, price=None, quantity="0.001")
    await place(binance, newClientOrderId="all-3")
    await place(binance, symbol="ETHUSDT", price="2000", newClientOrderId="eth-1")
    listed = await body(await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT"))
    assert [(o["clientOrderId"], o["status"]) for o in listed] == [
        ("all-1", "CANCELED"), ("all-2", "FILLED"), ("all-3", "NEW")]
    newest = await body(await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", limit=2))
    assert [o["clientOrderId"] for o in newest] == ["all-2", "all-3"]
    onwards = await body(await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT",
                                              orderId=listed[1]["orderId"], limit=1))
    assert [o["clientOrderId"] for o in onwards] == ["all-2"]


async def test_all_orders_selects_a_creation_time_window_of_at_most_24_hours(binance: Binance, sim: Sim) -> None:
    """startTime/endTime bound the orders' creation time; more than 24 h apart is -1127."""
    await place(binance, newClientOrderId="win-1")
    created = sim.engine("binance").orders_of(USER)[-1].time_ms
    inside = await body(await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", startTime=created,
                                             endTime=created + 24 * 3600 * 1000))
    later = await body(await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", startTime=created + 1))
    wide = await body(await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", startTime=created,
                                           endTime=created + 24 * 3600 * 1000 + 1))
    assert ([o["clientOrderId"] for o in inside], later) == (["win-1"], [])
    assert wide == {"code": -1127, "msg": "More than 24 hours between startTime and endTime."}


async def test_all_orders_weighs_20_and_checks_its_parameters(binance: Binance) -> None:
    """allOrders costs 20 weight; a limit outside 1-1000 or a malformed time is -1100, no symbol -1102."""
    before = int((await binance.public("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"])
    resp = await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")
    assert int(resp.headers["X-MBX-USED-WEIGHT-1M"]) - before == 20
    for params in ({"limit": "1001"}, {"limit": "0"}, {"startTime": "x"}):
        assert (await body(await binance.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", **params)))[
            "code"] == -1100
    assert (await body(await binance.signed("GET", "/api/v3/allOrders")))["code"] == -1102


async def test_account_shows_locked_balance(binance: Binance) -> None:
    """GET /account shows free and locked per asset after an order locks quote."""
    await place(binance, quantity="1", price="40000")
    account = await body(await binance.signed("GET", "/api/v3/account"))
    usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
    assert (usdt["free"], usdt["locked"]) == ("960000.00000000", "40000.00000000")


async def test_withdrawal_progresses_from_processing_to_completed(sim: Sim, binance: Binance) -> None:
    """A withdrawal locks its amount, shows status 4, then 6 once withdraw_delay passed, and leaves."""
    applied = await body(await binance.signed("POST", "/sapi/v1/capital/withdraw/apply", coin="USDT", network="TRX",
                                              address="T123", amount="10", withdrawOrderId="w-1"))
    engine = sim.engine("binance")
    assert engine.balance("user", "USDT").locked == 10
    history = await body(await binance.signed("GET", "/sapi/v1/capital/withdraw/history", coin="USDT"))
    assert [(h["id"], h["status"], h["withdrawOrderId"]) for h in history] == [(applied["id"], 4, "w-1")]
    sim.venue("binance").chaos.clock_skew_ms = 2_000  # the delay is 1 s of server time
    history = await body(await binance.signed("GET", "/sapi/v1/capital/withdraw/history",
                                              timestamp=sim.venue("binance").now_ms()))
    assert history[0]["status"] == 6 and history[0]["txId"]
    assert engine.balance("user", "USDT").locked == 0 and engine.totals()["USDT"] == Decimal(101_000_000) - 10


async def test_withdrawal_errors(binance: Binance) -> None:
    """Withdrawing more than the balance, or nothing, is rejected."""
    resp = await binance.signed("POST", "/sapi/v1/capital/withdraw/apply", coin="BTC", address="x", amount="11")
    assert (await body(resp))["code"] == -4026
    resp = await binance.signed("POST", "/sapi/v1/capital/withdraw/apply", coin="BTC", address="x", amount="0")
    assert (await body(resp))["code"] == -1102


async def test_listen_key_lifecycle(binance: Binance) -> None:
    """POST creates a listen key (API key only), PUT keeps it alive, DELETE removes it."""
    headers = {"X-MBX-APIKEY": binance.key}
    created = await body(await binance.http.post(binance.base + "/api/v3/userDataStream", headers=headers))
    key = created["listenKey"]
    url = f"{binance.base}/api/v3/userDataStream?listenKey={key}"
    assert await body(await binance.http.put(url, headers=headers)) == {}
    assert await body(await binance.http.delete(url, headers=headers)) == {}
    assert (await body(await binance.http.put(url, headers=headers)))["code"] == -1125
    assert (await binance.http.post(binance.base + "/api/v3/userDataStream")).status == 401


@pytest.fixture
async def tight() -> AsyncIterator[Sim]:
    """A sim with tiny limits: 30 weight per minute, 3 orders per 10 s, ban after 2 strikes."""
    config = SimConfig(driver_rate=0, limits=Limits(request_weight=30, orders_10s=3, ban_after=2, ban_seconds=5))
    async with serve(("binance",), seed=2, config=config) as running:
        yield running


async def test_weight_limit_answers_429_then_418(tight: Sim, http: aiohttp.ClientSession) -> None:
    """Past REQUEST_WEIGHT the IP gets 429 -1003 with Retry-After, and persisting gets it banned (418)."""
    url = tight.rest_url("binance") + "/api/v3/exchangeInfo"  # weight 20 of 30
    assert (await http.get(url)).status == 200
    limited = await http.get(url)
    assert limited.status == 429
    assert (await body(limited))["code"] == -1003 and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-MBX-USED-WEIGHT-1M"] == "40"
    assert (await http.get(url)).status == 429
    banned = await http.get(url)
    assert banned.status == 418 and int(banned.headers["Retry-After"]) >= 1
    assert "banned until" in (await body(banned))["msg"]
    assert (await http.get(tight.rest_url("binance") + "/api/v3/ping")).status == 418


async def test_order_rate_limit_answers_1015(tight: Sim, http: aiohttp.ClientSession) -> None:
    """The fourth order within 10 s is 429 -1015, with the order count headers."""
    keys = tight.api_keys("binance")
    client = Binance(http, tight.rest_url("binance"), keys.hmac_key, keys.hmac_secret)
    answers = [await place(client) for _ in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert (await body(answers[-1]))["code"] == -1015
    assert answers[-1].headers["X-MBX-ORDER-COUNT-10S"] == "4"


async def test_concurrent_orders_get_distinct_ids(binance: Binance) -> None:
    """Orders placed concurrently all succeed with unique ids."""
    answers = await asyncio.gather(*(place(binance, price=str(40000 + i)) for i in range(5)))
    ids = {(await body(a))["orderId"] for a in answers}
    assert len(ids) == 5


async def test_trades_limit_is_validated(binance: Binance) -> None:
    """/trades limit must be 1..1000."""
    for limit in ("0", "1001", "x"):
        assert (await body(await binance.public("/api/v3/trades", symbol="BTCUSDT", limit=limit)))["code"] == -1100


async def test_non_ascii_signature_is_invalid_not_a_crash(binance: Binance) -> None:
    """A signature with non-ASCII characters is -1022."""
    resp = await binance.http.get(f"{binance.base}/api/v3/account?timestamp=1&signature=%C3%A9",
                                  headers={"X-MBX-APIKEY": binance.key})
    assert (resp.status, (await body(resp))["code"]) == (400, -1022)

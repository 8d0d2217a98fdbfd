"""Bybit v5 REST: envelope, market data, private calls, authentication and rate limit headers."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_helpers import Bybit, body, now_ms

from lotusx.sim import Limits, Sim, SimConfig, serve
from lotusx.sim.venue import USER


async def create(bybit: Bybit, **params: Any) -> dict[str, Any]:
    """POST /v5/order/create with a resting spot limit buy by default."""
    order = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
             "price": "40000"} | params
    result: dict[str, Any] = await body(await bybit.signed("POST", "/v5/order/create", **order))
    return result


async def test_time_in_envelope(bybit: Bybit) -> None:
    """/v5/market/time answers inside the retCode/retMsg/result/retExtInfo/time envelope."""
    answer = await bybit.public("/v5/market/time")
    assert (answer["retCode"], answer["retMsg"], answer["retExtInfo"]) == (0, "OK", {})
    assert abs(int(answer["result"]["timeSecond"]) - time.time()) < 5
    assert int(answer["result"]["timeNano"]) // 1_000_000 // 1000 == int(answer["result"]["timeSecond"])


async def test_instruments_info(bybit: Bybit) -> None:
    """instruments-info lists a category's symbols with lot and price filters."""
    answer = await bybit.public("/v5/market/instruments-info", category="spot", symbol="BTCUSDT")
    [btc] = answer["result"]["list"]
    assert (btc["symbol"], btc["baseCoin"], btc["priceFilter"]["tickSize"]) == ("BTCUSDT", "BTC", "0.01")


@pytest.mark.parametrize(("category", "limit", "levels"), [("spot", None, 1), ("spot", 200, 20), ("linear", None, 20)])
async def test_orderbook(bybit: Bybit, category: str, limit: int | None, levels: int) -> None:
    """The orderbook has b/a string pairs, u, seq and ts; default depth is 1 (spot) or 25 (linear)."""
    params = {"category": category, "symbol": "BTCUSDT"} | ({"limit": limit} if limit else {})
    result = (await bybit.public("/v5/market/orderbook", **params))["result"]
    assert len(result["b"]) == len(result["a"]) == levels  # the seeded book has 20 levels a side
    assert Decimal(result["b"][0][0]) < Decimal(result["a"][0][0])
    assert isinstance(result["u"], int) and isinstance(result["seq"], int) and isinstance(result["ts"], int)


@pytest.mark.parametrize("params", [
    {"category": "option", "symbol": "BTCUSDT"}, {"category": "spot", "symbol": "NOPE"},
    {"category": "spot", "symbol": "BTCUSDT", "limit": 1001},
])
async def test_market_parameter_errors(bybit: Bybit, params: dict[str, Any]) -> None:
    """Unknown categories and symbols and out-of-range limits are retCode 10001 (HTTP 200)."""
    answer = await bybit.public("/v5/market/orderbook", **params)
    assert answer["retCode"] == 10001


async def test_trades_and_tickers_after_a_fill(bybit: Bybit) -> None:
    """A market buy prints in recent-trade (newest first) and moves tickers' lastPrice."""
    await create(bybit, orderType="Market", qty="1000")  # spot market buy: qty is quote by default
    trades = (await bybit.public("/v5/market/recent-trade", category="spot", symbol="BTCUSDT"))["result"]["list"]
    assert trades and trades[0]["side"] == "Buy"
    assert int(trades[0]["execId"]) > int(trades[-1]["execId"]) or len(trades) == 1
    [ticker] = (await bybit.public("/v5/market/tickers", category="spot", symbol="BTCUSDT"))["result"]["list"]
    assert ticker["lastPrice"] == trades[0]["price"]
    assert len((await bybit.public("/v5/market/tickers", category="linear"))["result"]["list"]) == 2


async def test_create_query_and_cancel(bybit: Bybit) -> None:
    """An order is created, found by orderLinkId in realtime, cancelled, then not found to cancel."""
    created = await create(bybit, orderLinkId="link-1")
    assert created["retCode"] == 0 and created["result"]["orderLinkId"] == "link-1"
    found = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", symbol="BTCUSDT",
                                          orderLinkId="link-1"))
    [order] = found["result"]["list"]
    assert (order["orderStatus"], order["price"], order["qty"]) == ("New", "40000", "0.01")
    open_orders = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot"))
    assert [o["orderLinkId"] for o in open_orders["result"]["list"]] == ["link-1"]
    cancelled = await body(await bybit.signed("POST", "/v5/order/cancel", category="spot", symbol="BTCUSDT",
                                              orderId=created["result"]["orderId"]))
    assert cancelled["result"]["orderLinkId"] == "link-1"
    again = await body(await bybit.signed("POST", "/v5/order/cancel", category="spot", symbol="BTCUSDT",
                                          orderLinkId="link-1"))
    assert (again["retCode"], again["retMsg"]) == (110001, "Order does not exist.")
    missing = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", symbol="BTCUSDT",
                                            orderId="999999"))
    assert missing["result"]["list"] == []


async def history(bybit: Bybit, **params: Any) -> dict[str, Any]:
    """GET /v5/order/history (spot), decoded."""
    answer: dict[str, Any] = await body(await bybit.signed("GET", "/v5/order/history", category="spot", **params))
    return answer


async def test_order_history_lists_closed_orders_newest_first_a_page_at_a_time(bybit: Bybit) -> None:
    """Without an id, history pages through the closed orders (open ones are not history), newest first."""
    cancelled = await create(bybit, orderLinkId="h-1")
    await bybit.signed("POST", "/v5/order/cancel", category="spot", symbol="BTCUSDT",
                       orderId=cancelled["result"]["orderId"])
    await create(bybit, orderLinkId="h-2", side="Sell", orderType="Market", qty="0.001")
    await create(bybit, orderLinkId="h-3")
    await create(bybit, orderLinkId="h-4", symbol="ETHUSDT", side="Sell", orderType="Market", qty="0.01")
    first = await history(bybit, limit=2)
    rest = await history(bybit, limit=2, cursor=first["result"]["nextPageCursor"])
    assert [(o["orderLinkId"], o["orderStatus"]) for o in first["result"]["list"] + rest["result"]["list"]] == [
        ("h-4", "Filled"), ("h-2", "Filled"), ("h-1", "Cancelled")]
    assert rest["result"]["nextPageCursor"] == ""
    only_btc = await history(bybit, symbol="BTCUSDT")
    assert [o["orderLinkId"] for o in only_btc["result"]["list"]] == ["h-2", "h-1"]


async def test_order_history_window_covers_at_most_7_days(bybit: Bybit, sim: Sim) -> None:
    """startTime alone spans the 7 days after it; endTime alone the 7 before; both more than 7 days apart is 10001."""
    await create(bybit, orderLinkId="w-1", side="Sell", orderType="Market", qty="0.001")
    created = sim.engine("bybit").orders_of(USER)[-1].time_ms
    week = 7 * 24 * 3600 * 1000
    listed = [(await history(bybit, **window))["result"]["list"] for window in (
        {"startTime": created}, {"startTime": created + 1}, {"endTime": created + week},
        {"endTime": created + week + 1}, {"startTime": created - week, "endTime": created})]
    assert [[o["orderLinkId"] for o in found] for found in listed] == [["w-1"], [], ["w-1"], [], ["w-1"]]
    for bad in ({"startTime": created, "endTime": created + week + 1}, {"startTime": "soon"}):
        assert (await history(bybit, **bad))["retCode"] == 10001


async def test_duplicate_order_link_id(bybit: Bybit) -> None:
    """Reusing an open orderLinkId is retCode 110072."""
    await create(bybit, orderLinkId="same")
    assert (await create(bybit, orderLinkId="same"))["retCode"] == 110072


@pytest.mark.parametrize(("category", "code"), [("spot", 170131), ("linear", 110007)])
async def test_insufficient_balance(bybit: Bybit, category: str, code: int) -> None:
    """Too large an order is 170131 on spot and 110007 on linear."""
    assert (await create(bybit, category=category, qty="1000"))["retCode"] == code


@pytest.mark.parametrize("params", [{"side": "Up"}, {"qty": "abc"}, {"price": "NaN"},
                                    {"category": "linear", "qty": "0.000001"}, {"category": "option"}])
async def test_create_parameter_errors(bybit: Bybit, params: dict[str, Any]) -> None:
    """Bad sides, numbers, linear filters and categories are retCode 10001 (spot filters have their own codes)."""
    assert (await create(bybit, **params))["retCode"] == 10001


async def test_ioc_market_and_post_only(bybit: Bybit, sim: Sim) -> None:
    """A linear market sell by base qty fills (a short: no BTC moves, margin locked); a PostOnly below the ask rests."""
    await create(bybit, category="linear", side="Sell", orderType="Market", qty="0.01")
    engine = sim.engine("bybit", "linear")
    assert sim.venue("bybit").positions.of("user", "BTCUSDT", 0).size == Decimal("-0.01")
    assert engine.balance("user", "BTC").free == Decimal(10)
    assert engine.balance("user", "USDT").locked == Decimal("49.9999")  # 0.01 * 49999.9 (the best bid) / 10
    maker = await create(bybit, timeInForce="PostOnly", price="45000", orderLinkId="pm")
    assert maker["retCode"] == 0


async def test_wallet_balance(bybit: Bybit) -> None:
    """wallet-balance (UNIFIED) shows walletBalance and locked per coin; other account types are 10001."""
    await create(bybit, qty="1", price="40000")
    wallet = await body(await bybit.signed("GET", "/v5/account/wallet-balance", accountType="UNIFIED"))
    usdt = next(c for c in wallet["result"]["list"][0]["coin"] if c["coin"] == "USDT")
    assert (usdt["walletBalance"], usdt["locked"]) == ("1000000", "40000")
    other = await body(await bybit.signed("GET", "/v5/account/wallet-balance", accountType="SPOT"))
    assert other["retCode"] == 10001


async def test_withdraw(bybit: Bybit, sim: Sim) -> None:
    """A withdrawal returns an id and removes the amount; too much is 131085; missing fields 10001."""
    done = await body(await bybit.signed("POST", "/v5/asset/withdraw/create", coin="USDT", chain="TRX",
                                         address="T1", amount="10", timestamp=now_ms()))
    assert done["retCode"] == 0 and done["result"]["id"]
    assert sim.engine("bybit").balance("user", "USDT").free == Decimal(1_000_000 - 10)
    too_much = await body(await bybit.signed("POST", "/v5/asset/withdraw/create", coin="BTC", chain="BTC",
                                             address="b1", amount="100"))
    assert too_much["retCode"] == 131085
    assert (await body(await bybit.signed("POST", "/v5/asset/withdraw/create", coin="BTC")))["retCode"] == 10001


async def test_bad_signature_is_10004(bybit: Bybit) -> None:
    """A signature made with another secret is retCode 10004."""
    answer = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", secret="wrong"))
    assert answer["retCode"] == 10004


async def test_unknown_key_is_10003(bybit: Bybit) -> None:
    """An unknown API key is retCode 10003."""
    answer = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", key="nobody"))
    assert answer["retCode"] == 10003


@pytest.mark.parametrize("offset", [-6_000, 1_500])
async def test_timestamp_outside_window_is_10002(bybit: Bybit, offset: int) -> None:
    """Timestamps older than recvWindow or 1000 ms ahead are retCode 10002."""
    answer = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot",
                                           timestamp=now_ms() + offset))
    assert answer["retCode"] == 10002


async def test_missing_timestamp_and_bad_json(bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """No X-BAPI-TIMESTAMP is 10002; a signed non-JSON body is 10001."""
    answer = await body(await http.get(bybit.base + "/v5/order/realtime", headers={"X-BAPI-API-KEY": bybit.key}))
    assert answer["retCode"] == 10002
    ts = str(now_ms())
    sign = hmac.new(bybit.secret.encode(), f"{ts}{bybit.key}5000not json".encode(), hashlib.sha256).hexdigest()
    answer = await body(await http.post(bybit.base + "/v5/order/create", data="not json", headers={
        "X-BAPI-API-KEY": bybit.key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-SIGN": sign}))
    assert answer["retCode"] == 10001


async def test_rate_limit_headers(bybit: Bybit) -> None:
    """Private answers carry X-Bapi-Limit, X-Bapi-Limit-Status and X-Bapi-Limit-Reset-Timestamp."""
    resp = await bybit.signed("GET", "/v5/order/realtime", category="spot")
    assert resp.headers["X-Bapi-Limit"] == "20"
    assert int(resp.headers["X-Bapi-Limit-Status"]) == 19
    assert int(resp.headers["X-Bapi-Limit-Reset-Timestamp"]) > now_ms() - 1000


@pytest.fixture
async def tight() -> AsyncIterator[Sim]:
    """A Bybit sim allowing 2 requests per second per key and endpoint."""
    async with serve(("bybit",), seed=4, config=SimConfig(driver_rate=0, limits=Limits(bybit_per_second=2))) as s:
        yield s


async def test_rate_limit_exceeded_is_10006(tight: Sim, http: aiohttp.ClientSession) -> None:
    """The third call within a second is retCode 10006 with X-Bapi-Limit-Status -1."""
    keys = tight.api_keys("bybit")
    client = Bybit(http, tight.rest_url("bybit"), keys.hmac_key, keys.hmac_secret)
    answers = [await client.signed("GET", "/v5/order/realtime", category="spot") for _ in range(3)]
    codes = [(await body(a))["retCode"] for a in answers]
    assert codes == [0, 0, 10006]
    assert (await body(answers[2]))["retMsg"] == "Too many visits!"
    assert answers[2].headers["X-Bapi-Limit-Status"] == "-1"


async def test_non_ascii_signature_is_sign_error(bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """A signature header with non-ASCII characters is retCode 10004, not a crash."""
    answer = await body(await http.get(bybit.base + "/v5/order/realtime?category=spot", headers={
        "X-BAPI-API-KEY": bybit.key, "X-BAPI-TIMESTAMP": str(now_ms()), "X-BAPI-SIGN": "\u00e9"}))
    assert answer["retCode"] == 10004

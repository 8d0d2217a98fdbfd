"""The sim's Binance WebSocket API trades and queries orders as its REST API does (web-socket-api.md
"Trading requests", "Account requests", "Rate limits"): same results, errors, weights and ORDERS counts."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from sim_helpers import Binance, body, next_json, now_ms

from lotusx.signers.hmac import hmac_sha256_hex
from lotusx.sim import Limits, Sim, SimConfig, serve
from lotusx.sim.binance_guard import weight_of
from lotusx.sim.binance_wsapi import TRADING
from lotusx.sim.venue import USER

LIMIT_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
             "price": "40000"}


def sign(secret: str, params: dict[str, Any]) -> str:
    """Hex HMAC-SHA256 over the params sorted by name as ``k=v`` joined with ``&`` ("SIGNED request example (HMAC)")."""
    payload = "&".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sorted(params.items()))
    return hmac_sha256_hex(secret, payload.encode())


@dataclass
class WsApi:
    """One /ws-api/v3 connection that signs its requests with the sim's HMAC key."""

    ws: aiohttp.ClientWebSocketResponse
    key: str
    secret: str
    ids: itertools.count[int] = field(default_factory=itertools.count)
    events: list[dict[str, Any]] = field(default_factory=list)
    """The subscription events received so far."""

    async def send(self, method: str, *, signed: bool = True, **params: Any) -> int:
        """Send one request; its id."""
        if signed:
            params = {"apiKey": self.key, "timestamp": now_ms()} | params
            params["signature"] = sign(self.secret, params)
        request_id = next(self.ids)
        await self.ws.send_json({"id": request_id, "method": method, "params": params})
        return request_id

    async def call(self, method: str, *, signed: bool = True, **params: Any) -> dict[str, Any]:
        """Send one request and wait for its answer (events met on the way are kept in ``events``)."""
        request_id = await self.send(method, signed=signed, **params)
        while "id" not in (reply := await next_json(self.ws)) or reply["id"] != request_id:
            self.events.append(reply)
        result: dict[str, Any] = reply
        return result

    async def report(self) -> dict[str, Any]:
        """The oldest executionReport event not yet taken (other account events are dropped)."""
        while True:
            while not self.events:
                self.events.append(await next_json(self.ws))
            event = self.events.pop(0)
            if event["event"]["e"] == "executionReport":
                return event


@asynccontextmanager
async def connected(sim: Sim, http: aiohttp.ClientSession) -> AsyncIterator[WsApi]:
    """A WS API connection to ``sim``'s Binance, holding its HMAC key."""
    keys = sim.api_keys("binance")
    async with http.ws_connect(sim.ws_url("binance") + "/ws-api/v3") as ws:
        yield WsApi(ws, keys.hmac_key, keys.hmac_secret)


@pytest.fixture
async def wsapi(sim: Sim, http: aiohttp.ClientSession) -> AsyncIterator[WsApi]:
    """A WS API connection to the sim's Binance."""
    async with connected(sim, http) as api:
        yield api


@pytest.fixture
async def tight() -> AsyncIterator[Sim]:
    """Binance alone, taking 3 orders per 10 s and 100 weight per minute."""
    config = SimConfig(driver_rate=0, limits=Limits(request_weight=100, orders_10s=3, ban_after=5))
    async with serve(("binance",), seed=3, config=config) as running:
        yield running


def count(reply: dict[str, Any], kind: str, interval: str) -> int:
    """The ``count`` of one ``rateLimits`` entry of a reply."""
    [entry] = [e for e in reply["rateLimits"] if (e["rateLimitType"], e["interval"]) == (kind, interval)]
    return int(entry["count"])


def kinds(reply: dict[str, Any]) -> list[tuple[str, str, int]]:
    """The (type, interval, intervalNum) of each ``rateLimits`` entry of a reply."""
    return [(e["rateLimitType"], e["interval"], e["intervalNum"]) for e in reply["rateLimits"]]


def unstamped(answer: dict[str, Any]) -> dict[str, Any]:
    """An order answer without what differs between two orders alike (ids, times)."""
    stamps = ("orderId", "clientOrderId", "origClientOrderId", "transactTime", "workingTime", "time", "updateTime")
    return {k: v for k, v in answer.items() if k not in stamps}


async def test_an_order_placed_over_the_ws_api_is_queried_then_cancelled(wsapi: WsApi) -> None:
    """order.place, order.status (orderId as a JSON number) and order.cancel answer 200 with the order's states."""
    placed = await wsapi.call("order.place", **LIMIT_BUY, newClientOrderId="ws-1")
    order_id = placed["result"]["orderId"]
    status = await wsapi.call("order.status", symbol="BTCUSDT", orderId=order_id)
    cancelled = await wsapi.call("order.cancel", symbol="BTCUSDT", origClientOrderId="ws-1")
    assert [r["status"] for r in (placed, status, cancelled)] == [200, 200, 200]
    assert (placed["result"]["status"], status["result"]["orderId"], status["result"]["status"]) == (
        "NEW", order_id, "NEW")
    assert (cancelled["result"]["orderId"], cancelled["result"]["status"]) == (order_id, "CANCELED")
    assert cancelled["result"]["origClientOrderId"] == "ws-1"


@pytest.mark.parametrize("resp_type", ["ACK", "RESULT", "FULL", None])
async def test_order_place_answers_the_rest_body(binance: Binance, wsapi: WsApi, resp_type: str | None) -> None:
    """order.place's result is POST /api/v3/order's body for the same parameters, newOrderRespType included."""
    extra = {"newOrderRespType": resp_type} if resp_type else {}
    rest = await body(await binance.signed("POST", "/api/v3/order", **LIMIT_BUY, **extra))
    ws = (await wsapi.call("order.place", **LIMIT_BUY, **extra))["result"]
    assert list(ws) == list(rest) and unstamped(ws) == unstamped(rest)


async def test_order_status_and_open_orders_answer_the_rest_bodies(binance: Binance, wsapi: WsApi) -> None:
    """order.status and openOrders.status (with and without symbol) answer GET /api/v3/order's and openOrders'."""
    placed = (await wsapi.call("order.place", **LIMIT_BUY))["result"]
    rest = await body(await binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]))
    ws = await wsapi.call("order.status", symbol="BTCUSDT", orderId=str(placed["orderId"]))
    assert ws["result"] == rest
    for narrowed in ({"symbol": "BTCUSDT"}, {}):
        rest_open = await body(await binance.signed("GET", "/api/v3/openOrders", **narrowed))
        assert (await wsapi.call("openOrders.status", **narrowed))["result"] == rest_open == [rest]


async def test_rest_and_the_ws_api_see_each_others_orders(binance: Binance, wsapi: WsApi) -> None:
    """An order placed over the WS API is GET /api/v3/order's to find, and one placed over REST order.status's."""
    await wsapi.call("order.place", **LIMIT_BUY, newClientOrderId="from-ws")
    await binance.signed("POST", "/api/v3/order", **LIMIT_BUY, newClientOrderId="from-rest")
    by_rest = await body(await binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="from-ws"))
    by_ws = await wsapi.call("order.status", symbol="BTCUSDT", origClientOrderId="from-rest")
    assert (by_rest["clientOrderId"], by_ws["result"]["clientOrderId"]) == ("from-ws", "from-rest")


async def test_an_unknown_order_is_refused_as_rest_refuses_it(binance: Binance, wsapi: WsApi) -> None:
    """order.status of an unknown order is -2013, order.cancel -2011, openOrders.cancelAll with none open -2011."""
    calls = [("order.status", "GET", "/api/v3/order", {"orderId": 999999}),
             ("order.cancel", "DELETE", "/api/v3/order", {"orderId": 999999}),
             ("openOrders.cancelAll", "DELETE", "/api/v3/openOrders", {})]
    for method, verb, path, params in calls:
        rest = await binance.signed(verb, path, symbol="BTCUSDT", **params)
        ws = await wsapi.call(method, symbol="BTCUSDT", **params)
        assert (ws["status"], ws["error"]) == (rest.status, await body(rest))
    assert [ws["error"]["code"] for ws in [await wsapi.call(m, symbol="BTCUSDT", **p) for m, _, _, p in calls]] == [
        -2013, -2011, -2011]


async def test_cancel_all_answers_a_list_of_cancel_reports(sim: Sim, wsapi: WsApi) -> None:
    """openOrders.cancelAll cancels every open order of the symbol and lists their cancel reports."""
    for n in range(2):
        await wsapi.call("order.place", **LIMIT_BUY, newClientOrderId=f"all-{n}")
    reply = await wsapi.call("openOrders.cancelAll", symbol="BTCUSDT")
    assert sorted(r["origClientOrderId"] for r in reply["result"]) == ["all-0", "all-1"]
    assert {r["status"] for r in reply["result"]} == {"CANCELED"}
    assert sim.engine("binance").open_orders(USER, "BTCUSDT") == []


async def test_keep_priority_lowers_the_quantity_as_rest_does(binance: Binance, wsapi: WsApi) -> None:
    """order.amend.keepPriority answers PUT /api/v3/order/amend/keepPriority's body; no ORDERS are counted."""
    rest_id = (await body(await binance.signed("POST", "/api/v3/order", **LIMIT_BUY)))["orderId"]
    ws_id = (await wsapi.call("order.place", **LIMIT_BUY))["result"]["orderId"]
    rest = await body(await binance.signed("PUT", "/api/v3/order/amend/keepPriority", symbol="BTCUSDT",
                                           orderId=rest_id, newQty="0.005", newClientOrderId="kept"))
    ws = await wsapi.call("order.amend.keepPriority", symbol="BTCUSDT", orderId=ws_id, newQty="0.005",
                          newClientOrderId="kept-ws")
    assert ws["result"]["amendedOrder"]["qty"] == rest["amendedOrder"]["qty"] == "0.00500000"
    assert list(ws["result"]) == list(rest) and list(ws["result"]["amendedOrder"]) == list(rest["amendedOrder"])
    assert kinds(ws) == [("REQUEST_WEIGHT", "MINUTE", 1)]


async def test_cancel_replace_answers_the_rest_body(binance: Binance, wsapi: WsApi) -> None:
    """order.cancelReplace cancels and places as POST /api/v3/order/cancelReplace does, with the same body."""
    ids = [(await wsapi.call("order.place", **LIMIT_BUY))["result"]["orderId"] for _ in range(2)]
    replace = LIMIT_BUY | {"price": "40001", "cancelReplaceMode": "STOP_ON_FAILURE"}
    rest = await body(await binance.signed("POST", "/api/v3/order/cancelReplace", **replace, cancelOrderId=ids[0]))
    ws = (await wsapi.call("order.cancelReplace", **replace, cancelOrderId=ids[1]))["result"]
    assert (ws["cancelResult"], ws["newOrderResult"], ws["newOrderResponse"]["price"]) == (
        "SUCCESS", "SUCCESS", "40001.00000000")
    assert unstamped(ws["newOrderResponse"]) == unstamped(rest["newOrderResponse"])
    assert unstamped(ws["cancelResponse"]) == unstamped(rest["cancelResponse"])


@pytest.mark.parametrize("cancel", [{"cancelOrderId": 999999}, "restricted"])
async def test_a_failed_cancel_replace_carries_the_rest_code_and_data(binance: Binance, wsapi: WsApi,
                                                                      cancel: Any) -> None:
    """A cancelReplace whose cancel fails is -2022 (400) with REST's ``data``; nothing is placed."""
    if cancel == "restricted":
        placed = (await wsapi.call("order.place", **LIMIT_BUY))["result"]["orderId"]
        cancel = {"cancelOrderId": placed, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"}
    replace = LIMIT_BUY | {"price": "40001", "cancelReplaceMode": "STOP_ON_FAILURE"} | cancel
    rest = await binance.signed("POST", "/api/v3/order/cancelReplace", **replace)
    ws = await wsapi.call("order.cancelReplace", **replace)
    assert (ws["status"], ws["error"]) == (rest.status, await body(rest))
    assert (ws["status"], ws["error"]["code"], ws["error"]["data"]["newOrderResult"]) == (400, -2022, "NOT_ATTEMPTED")


async def test_a_cancel_replace_whose_new_order_fails_is_409_minus_2021(binance: Binance, wsapi: WsApi) -> None:
    """The cancel done, the new order refused: -2021 (409), ``data`` with both halves as REST gives them."""
    ids = [(await wsapi.call("order.place", **LIMIT_BUY))["result"]["orderId"] for _ in range(2)]
    replace = LIMIT_BUY | {"quantity": "100000", "cancelReplaceMode": "STOP_ON_FAILURE"}
    rest = await body(await binance.signed("POST", "/api/v3/order/cancelReplace", **replace, cancelOrderId=ids[0]))
    ws = await wsapi.call("order.cancelReplace", **replace, cancelOrderId=ids[1])
    assert (ws["status"], ws["error"]["code"], rest["code"]) == (409, -2021, -2021)
    assert ws["error"]["data"]["newOrderResponse"] == rest["data"]["newOrderResponse"]
    assert unstamped(ws["error"]["data"]["cancelResponse"]) == unstamped(rest["data"]["cancelResponse"])


@pytest.mark.parametrize(("change", "code", "status"), [
    ({"signature": "00"}, -1022, 400), ({"apiKey": "nobody"}, -2015, 401), ({"timestamp": 1}, -1021, 400),
    ({"signature": None}, -1102, 400)])
async def test_a_badly_signed_order_is_refused_and_not_placed(sim: Sim, wsapi: WsApi, change: dict[str, Any],
                                                              code: int, status: int) -> None:
    """A bad signature (-1022), key (-2015, 401), timestamp (-1021) or none (-1102) is refused; nothing placed."""
    params: dict[str, Any] = {"apiKey": wsapi.key, "timestamp": now_ms(), **LIMIT_BUY, "newClientOrderId": "bad"}
    params = {**params, **{k: v for k, v in change.items() if k != "signature"}}
    params["signature"] = sign(wsapi.secret, params)
    params = {**params, **change}
    reply = await wsapi.call("order.place", signed=False, **{k: v for k, v in params.items() if v is not None})
    assert (reply["status"], reply["error"]["code"]) == (status, code)
    assert sim.engine("binance").orders_of(USER, "BTCUSDT") == []


DOCUMENTED_WEIGHTS = [("order.place", {}, 1), ("order.cancel", {}, 1), ("order.cancelReplace", {}, 1),
                      ("order.amend.keepPriority", {}, 4), ("openOrders.cancelAll", {}, 1), ("order.status", {}, 4),
                      ("openOrders.status", {"symbol": "BTCUSDT"}, 6), ("openOrders.status", {}, 80)]
"""web-socket-api.md, each method's "Weight:"."""


@pytest.mark.parametrize(("method", "params", "weight"), DOCUMENTED_WEIGHTS)
def test_each_method_weighs_what_the_docs_say(method: str, params: dict[str, str], weight: int) -> None:
    """Each method is charged its documented weight, the same as its REST route."""
    assert weight_of(*TRADING[method], params) == weight


async def test_open_orders_status_weighs_6_with_a_symbol_and_80_without(wsapi: WsApi) -> None:
    """openOrders.status adds 6 to REQUEST_WEIGHT for one symbol, 80 for all."""
    first = count(await wsapi.call("openOrders.status", symbol="BTCUSDT"), "REQUEST_WEIGHT", "MINUTE")
    second = count(await wsapi.call("openOrders.status"), "REQUEST_WEIGHT", "MINUTE")
    third = count(await wsapi.call("openOrders.status", symbol="BTCUSDT"), "REQUEST_WEIGHT", "MINUTE")
    assert (second - first, third - second) == (80, 6)


async def test_weight_and_order_counts_are_shared_with_rest(binance: Binance, wsapi: WsApi) -> None:
    """REST's X-MBX-USED-WEIGHT-1M and ORDER-COUNT headers and the WS API's rateLimits count on the same counters."""
    rest = await binance.signed("POST", "/api/v3/order", **LIMIT_BUY)
    weight, orders = int(rest.headers["X-MBX-USED-WEIGHT-1M"]), int(rest.headers["X-MBX-ORDER-COUNT-10S"])
    ws = await wsapi.call("order.place", **LIMIT_BUY)
    assert kinds(ws) == [("ORDERS", "SECOND", 10), ("ORDERS", "DAY", 1), ("REQUEST_WEIGHT", "MINUTE", 1)]
    assert (count(ws, "REQUEST_WEIGHT", "MINUTE"), count(ws, "ORDERS", "SECOND"), count(ws, "ORDERS", "DAY")) == (
        weight + 1, orders + 1, orders + 1)
    status = await wsapi.call("order.status", symbol="BTCUSDT", orderId=ws["result"]["orderId"])
    assert kinds(status) == [("REQUEST_WEIGHT", "MINUTE", 1)]
    assert count(status, "REQUEST_WEIGHT", "MINUTE") == weight + 5
    again = await binance.signed("POST", "/api/v3/order", **LIMIT_BUY)
    assert (again.headers["X-MBX-USED-WEIGHT-1M"], again.headers["X-MBX-ORDER-COUNT-1D"]) == (
        str(weight + 6), str(orders + 2))
    assert [e["limit"] for e in ws["rateLimits"]] == [100, 200_000, 6000]


async def test_orders_past_the_limit_are_429_minus_1015_on_both_wires(tight: Sim, http: aiohttp.ClientSession) -> None:
    """The 4th order in 10 s, over either wire, is 429 -1015; the WS answer says when to retry (retryAfter)."""
    keys = tight.api_keys("binance")
    rest = Binance(http, tight.rest_url("binance"), keys.hmac_key, keys.hmac_secret)
    await rest.signed("POST", "/api/v3/order", **LIMIT_BUY)
    async with connected(tight, http) as wsapi:
        replies = [await wsapi.call("order.place", **LIMIT_BUY) for _ in range(3)]
    assert [r["status"] for r in replies] == [200, 200, 429]
    refused = replies[-1]
    assert refused["error"]["code"] == -1015
    assert refused["error"]["msg"] == "Too many new orders; current limit is 3 orders per 10 SECOND."
    assert refused["error"]["data"]["retryAfter"] > refused["error"]["data"]["serverTime"]
    assert count(refused, "ORDERS", "SECOND") == 4
    assert (await rest.signed("POST", "/api/v3/order", **LIMIT_BUY)).status == 429
    assert len(tight.engine("binance").orders_of(USER, "BTCUSDT")) == 3


async def test_weight_past_the_limit_is_429_minus_1003(tight: Sim, http: aiohttp.ClientSession) -> None:
    """Past REQUEST_WEIGHT a WS API request is 429 -1003 with retryAfter; REST is refused alike (one counter)."""
    async with connected(tight, http) as wsapi:
        await wsapi.call("openOrders.status")  # 2 (the connection) + 80 of 100
        refused = await wsapi.call("openOrders.status")  # 162
    assert (refused["status"], refused["error"]["code"]) == (429, -1003)
    assert refused["error"]["data"]["retryAfter"] > refused["error"]["data"]["serverTime"]
    assert count(refused, "REQUEST_WEIGHT", "MINUTE") == 162
    ping = await http.get(tight.rest_url("binance") + "/api/v3/ping")
    assert (ping.status, ping.headers["X-MBX-USED-WEIGHT-1M"]) == (429, "163")


async def test_persisting_past_the_weight_limit_is_418_with_when_the_ban_ends(tight: Sim,
                                                                               http: aiohttp.ClientSession) -> None:
    """After ban_after 429s the IP is banned: 418 -1003, retryAfter the ban's end (web-socket-api.md "IP limits")."""
    async with connected(tight, http) as wsapi:
        statuses = [(await wsapi.call("openOrders.status"))["status"] for _ in range(7)]
        banned = await wsapi.call("order.place", **LIMIT_BUY)
    assert statuses == [200, *[429] * 5, 418]  # the 6th strike of ban_after=5 bans
    assert (banned["status"], banned["error"]["code"]) == (418, -1003)
    assert f"banned until {banned['error']['data']['retryAfter']}" in banned["error"]["msg"]
    assert tight.engine("binance").orders_of(USER, "BTCUSDT") == []


async def test_no_order_runs_past_the_weight_limit(tight: Sim, http: aiohttp.ClientSession) -> None:
    """An order.place refused for weight is not placed and not counted as an order."""
    async with connected(tight, http) as wsapi:
        await wsapi.call("openOrders.status")
        await wsapi.call("openOrders.status")
        refused = await wsapi.call("order.place", **LIMIT_BUY)
    assert (refused["status"], refused["error"]["code"]) == (429, -1003)
    assert tight.engine("binance").orders_of(USER, "BTCUSDT") == []


async def test_a_lost_answer_closes_the_connection_after_the_answers_before_it(sim: Sim, wsapi: WsApi,
                                                                              binance: Binance) -> None:
    """lose_answer_rate 1: order.place is carried out, the ping answered before it arrives, then the socket closes."""
    ping = await wsapi.send("ping", signed=False)
    sim.chaos("binance").lose_answer_rate = 1.0
    await wsapi.send("order.place", **LIMIT_BUY, newClientOrderId="lost-ws")
    assert (await next_json(wsapi.ws))["id"] == ping
    closing = await wsapi.ws.receive(timeout=2.0)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    sim.chaos("binance").lose_answer_rate = 0.0
    found = await body(await binance.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="lost-ws"))
    assert found["status"] == "NEW"


@pytest.mark.parametrize("method", ["order.status", "openOrders.status", "order.amend.keepPriority",
                                    "openOrders.cancelAll"])
async def test_only_placements_and_cancels_lose_their_answer(sim: Sim, wsapi: WsApi, method: str) -> None:
    """lose_answer_rate 1 leaves the answers of the other methods alone."""
    placed = (await wsapi.call("order.place", **LIMIT_BUY))["result"]["orderId"]
    sim.chaos("binance").lose_answer_rate = 1.0
    reply = await wsapi.call(method, symbol="BTCUSDT", orderId=placed, newQty="0.005")
    assert "id" in reply


async def test_orders_placed_over_the_ws_api_publish_execution_reports(wsapi: WsApi) -> None:
    """A subscribed connection gets the executionReport of an order placed and cancelled over the WS API."""
    subscribed = await wsapi.call("userDataStream.subscribe.signature")
    await wsapi.call("order.place", **LIMIT_BUY, newClientOrderId="evented")
    await wsapi.call("order.cancel", symbol="BTCUSDT", origClientOrderId="evented")
    new, cancelled = await wsapi.report(), await wsapi.report()
    assert new["subscriptionId"] == subscribed["result"]["subscriptionId"]
    assert (new["event"]["e"], new["event"]["c"], new["event"]["X"]) == ("executionReport", "evented", "NEW")
    assert (cancelled["event"]["X"], cancelled["event"]["C"]) == ("CANCELED", "evented")


async def test_an_unknown_method_is_still_minus_1102(wsapi: WsApi) -> None:
    """A method the sim does not serve is 400 -1102, signed or not."""
    reply = await wsapi.call("order.test.nothing")
    assert (reply["status"], reply["error"]["code"]) == (400, -1102)


async def test_connecting_costs_two_weight(wsapi: WsApi) -> None:
    """web-socket-api.md "IP limits": the connection's 2 weight shows in the first answer, beside ping's 1."""
    assert count(await wsapi.call("ping"), "REQUEST_WEIGHT", "MINUTE") == 2 + 1

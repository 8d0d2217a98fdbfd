"""The sim's Bybit WebSocket Trade API, ``/v5/trade`` (docs/v5/websocket/trade/guideline.mdx): auth, then
order.create/amend/cancel and their batches, answered as the REST routes answer the same bodies."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from sim_helpers import Bybit, body, next_json, now_ms, until

from lotusx.sim import Limits, Sim, SimConfig, serve

BID = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "1000"}


def auth_args(key: str, secret: str, expires: int) -> list[Any]:
    """[apiKey, expires, hex HMAC-SHA256(secret, "GET/realtime" + expires)] (docs/v5/ws/connect "Authentication")."""
    signature = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    return [key, expires, signature]


@dataclass
class Trade:
    """One /v5/trade connection, sending requests with fresh reqIds."""

    ws: aiohttp.ClientWebSocketResponse
    key: str
    secret: str
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def auth(self, expires: int | None = None, secret: str | None = None) -> Any:
        """Send the auth op; its answer."""
        args = auth_args(self.key, secret or self.secret, now_ms() + 10_000 if expires is None else expires)
        await self.ws.send_json({"reqId": "auth", "op": "auth", "args": args})
        return await next_json(self.ws)

    async def send(self, op: str, arg: dict[str, Any], *, req_id: str | None = None,
                   timestamp: int | None = None) -> str:
        """Send one order op; its reqId."""
        req_id = req_id or f"r-{next(self.ids)}"
        await self.ws.send_json({"reqId": req_id, "header": {"X-BAPI-TIMESTAMP": str(timestamp or now_ms()),
                                                             "X-BAPI-RECV-WINDOW": "5000"},
                                 "op": op, "args": [arg]})
        return req_id

    async def call(self, op: str, arg: dict[str, Any], **kwargs: Any) -> Any:
        """Send one order op; its answer."""
        req_id = await self.send(op, arg, **kwargs)
        return await until(self.ws, lambda m: m.get("reqId") == req_id)


@pytest.fixture
async def fresh(sim: Sim, http: aiohttp.ClientSession) -> AsyncIterator[Trade]:
    """A /v5/trade connection, not authenticated."""
    keys = sim.api_keys("bybit")
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/trade") as ws:
        yield Trade(ws, keys.hmac_key, keys.hmac_secret)


@pytest.fixture
async def trade(fresh: Trade) -> Trade:
    """A /v5/trade connection, authenticated."""
    assert (await fresh.auth())["retCode"] == 0
    return fresh


async def test_auth_with_a_good_signature_is_ok(fresh: Trade) -> None:
    """The documented answer: retCode 0, OK, op auth, a connId, the reqId echoed."""
    reply = await fresh.auth()
    assert (reply["retCode"], reply["retMsg"], reply["op"], reply["reqId"]) == (0, "OK", "auth", "auth")
    assert reply["connId"]


@pytest.mark.parametrize(("offset", "secret", "code"), [(10_000, "wrong", 10004), (-1, None, 10001)])
async def test_auth_refused_for_a_bad_sign_or_an_expired_expires(fresh: Trade, offset: int, secret: str | None,
                                                                 code: int) -> None:
    """A wrong signature is 10004 (invalid sign); an expires already past is 10001 (param error), as /v5/private."""
    reply = await fresh.auth(expires=now_ms() + offset, secret=secret)
    assert (reply["retCode"], reply["op"]) == (code, "auth")
    refused = await fresh.call("order.create", BID)
    assert refused["retCode"] != 0


async def test_a_second_auth_is_20001(trade: Trade) -> None:
    """Authenticating an authenticated connection again is 20001 (repeat auth)."""
    assert (await trade.auth())["retCode"] == 20001


async def test_an_order_call_before_auth_is_refused_and_nothing_is_placed(fresh: Trade, sim: Sim) -> None:
    """order.create before auth: 10003 "Request not authorized", and no order exists."""
    reply = await fresh.call("order.create", {**BID, "orderLinkId": "early"})
    assert (reply["retCode"], reply["retMsg"]) == (10003, "Request not authorized")
    assert sim.engine("bybit", "spot").orders_of("user") == []


async def test_create_then_cancel(trade: Trade, sim: Sim) -> None:
    """order.create places the order, order.cancel cancels it; each answers the order's ids."""
    created = await trade.call("order.create", {**BID, "orderLinkId": "ws-1"})
    assert (created["retCode"], created["retMsg"], created["op"]) == (0, "OK", "order.create")
    assert created["data"]["orderLinkId"] == "ws-1" and created["retExtInfo"] == {} and created["connId"]
    cancelled = await trade.call("order.cancel", {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "ws-1"})
    assert cancelled["retCode"] == 0 and cancelled["data"] == created["data"]
    (order,) = sim.engine("bybit", "spot").orders_of("user")
    assert order.status == "CANCELED"


async def test_amend_changes_the_price(trade: Trade, sim: Sim) -> None:
    """order.amend amends in place, as POST /v5/order/amend."""
    created = await trade.call("order.create", BID)
    amended = await trade.call("order.amend", {"category": "spot", "symbol": "BTCUSDT",
                                               "orderId": created["data"]["orderId"], "price": "1001"})
    assert amended["retCode"] == 0 and amended["data"] == created["data"]
    assert str(sim.engine("bybit", "spot").orders_of("user")[0].price) == "1001"


async def test_create_data_is_what_rest_result_gives(trade: Trade, bybit: Bybit) -> None:
    """The data of order.create has the keys REST's result has for a like order."""
    over_ws = await trade.call("order.create", {**BID, "orderLinkId": "same-ws"})
    over_rest = await body(await bybit.signed("POST", "/v5/order/create", **BID, orderLinkId="same-rest"))
    assert over_ws["data"].keys() == over_rest["result"].keys()
    assert over_ws["retExtInfo"] == over_rest["retExtInfo"]


async def test_a_refusal_is_rests_refusal(trade: Trade, bybit: Bybit) -> None:
    """An order REST refuses is refused over WS with the same retCode, retMsg and data."""
    broke = {**BID, "qty": "5000"}
    over_ws = await trade.call("order.create", broke)
    over_rest = await body(await bybit.signed("POST", "/v5/order/create", **broke))
    assert (over_ws["retCode"], over_ws["retMsg"], over_ws["data"]) == (
        over_rest["retCode"], over_rest["retMsg"], over_rest["result"])


async def test_an_order_placed_over_ws_is_listed_by_rest(trade: Trade, bybit: Bybit) -> None:
    """GET /v5/order/realtime lists the order placed over /v5/trade."""
    created = await trade.call("order.create", {**BID, "orderLinkId": "seen"})
    listed = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", symbol="BTCUSDT"))
    assert [o["orderId"] for o in listed["result"]["list"]] == [created["data"]["orderId"]]


async def test_a_batch_with_one_bad_order_reports_each_as_rest(trade: Trade, bybit: Bybit) -> None:
    """order.create-batch: data.list and retExtInfo.list per order, the bad one refused alone, as REST's batch."""
    def batch(prefix: str) -> dict[str, Any]:
        orders = [{**BID, "orderLinkId": f"{prefix}-1"}, {**BID, "qty": "5000", "orderLinkId": f"{prefix}-2"},
                  {**BID, "orderLinkId": f"{prefix}-3"}]
        return {"category": "spot", "request": [{k: v for k, v in o.items() if k != "category"} for o in orders]}

    reply = await trade.call("order.create-batch", batch("ws"))
    rest = await body(await bybit.signed("POST", "/v5/order/create-batch", **batch("rest")))
    assert reply["retCode"] == rest["retCode"] == 0
    assert reply["retExtInfo"] == rest["retExtInfo"]
    assert [c["code"] for c in reply["retExtInfo"]["list"]] == [0, 170131, 0]
    rows = reply["data"]["list"]
    assert [r["orderLinkId"] for r in rows] == ["ws-1", "ws-2", "ws-3"] and rows[1]["orderId"] == ""
    assert [r.keys() for r in rows] == [r.keys() for r in rest["result"]["list"]]


async def test_the_limit_header_counts_rest_and_ws_calls_together(trade: Trade, bybit: Bybit) -> None:
    """A REST create then a WS create: the WS answer's X-Bapi-Limit-Status is one below REST's."""
    rest = await bybit.signed("POST", "/v5/order/create", **BID)
    over_ws = await trade.call("order.create", BID)
    header = over_ws["header"]
    assert header["X-Bapi-Limit"] == rest.headers["X-Bapi-Limit"]
    assert int(header["X-Bapi-Limit-Status"]) == int(rest.headers["X-Bapi-Limit-Status"]) - 1
    assert header["X-Bapi-Limit-Reset-Timestamp"] and header["Traceid"] and header["Timenow"]


@pytest.fixture
async def tight(http: aiohttp.ClientSession) -> AsyncIterator[tuple[Sim, Trade, Bybit]]:
    """A Bybit sim allowing 2 units per second per account and endpoint; a /v5/trade connection, authenticated."""
    config = SimConfig(driver_rate=0, limits=Limits(bybit_per_second=2))
    async with serve(("bybit",), seed=4, config=config) as sim, \
            http.ws_connect(sim.ws_url("bybit") + "/v5/trade") as ws:
        keys = sim.api_keys("bybit")
        trade = Trade(ws, keys.hmac_key, keys.hmac_secret)
        assert (await trade.auth())["retCode"] == 0
        yield sim, trade, Bybit(http, sim.rest_url("bybit"), keys.hmac_key, keys.hmac_secret)


async def test_over_the_limit_is_10006_with_the_reset_time(tight: tuple[Sim, Trade, Bybit]) -> None:
    """Budget 2: one REST and one WS create, then the third (WS) is 10006, status -1, and is not placed."""
    sim, trade, bybit = tight
    await bybit.signed("POST", "/v5/order/create", **BID)
    assert (await trade.call("order.create", BID))["retCode"] == 0
    refused = await trade.call("order.create", {**BID, "orderLinkId": "third"})
    assert (refused["retCode"], refused["retMsg"]) == (10006, "Too many visits!")
    assert refused["header"]["X-Bapi-Limit-Status"] == "-1"
    assert int(refused["header"]["X-Bapi-Limit-Reset-Timestamp"]) >= now_ms() - 1000
    assert "third" not in {o.client_id for o in sim.engine("bybit", "spot").orders_of("user")}


async def test_a_batch_past_the_limit_fails_its_last_orders(tight: tuple[Sim, Trade, Bybit]) -> None:
    """Budget 2, a batch of 3 over WS: the first two placed, the third 10006 (rate-limit.mdx, batch instructions)."""
    _, trade, _ = tight
    orders = [{k: v for k, v in BID.items() if k != "category"} | {"orderLinkId": f"l-{n}"} for n in range(3)]
    reply = await trade.call("order.create-batch", {"category": "spot", "request": orders})
    assert [c["code"] for c in reply["retExtInfo"]["list"]] == [0, 0, 10006]


async def test_a_repeated_req_id_is_20006(trade: Trade, sim: Sim) -> None:
    """A reqId already used on the connection is 20006 and the call is not carried out."""
    await trade.call("order.create", BID, req_id="once")
    again = await trade.call("order.create", {**BID, "orderLinkId": "twice"}, req_id="once")
    assert again["retCode"] == 20006
    assert len(sim.engine("bybit", "spot").orders_of("user")) == 1


async def test_an_unknown_op_is_10404(trade: Trade) -> None:
    """An op the venue does not serve is 10404."""
    assert (await trade.call("order.teleport", BID))["retCode"] == 10404


async def test_an_unsupported_category_is_10404(trade: Trade) -> None:
    """A category the sim does not trade is 10404 over WS (guideline: "`category` is not correct/supported")."""
    assert (await trade.call("order.create", {**BID, "category": "option"}))["retCode"] == 10404


async def test_a_stale_timestamp_is_10002(trade: Trade, sim: Sim) -> None:
    """X-BAPI-TIMESTAMP older than the recv window is 10002, as REST, and nothing is placed."""
    reply = await trade.call("order.create", BID, timestamp=now_ms() - 60_000)
    assert reply["retCode"] == 10002
    assert sim.engine("bybit", "spot").orders_of("user") == []


async def test_a_lost_answer_closes_the_connection_after_carrying_the_call_out(trade: Trade, sim: Sim) -> None:
    """lose_answer_rate 1: the order is placed, no answer comes, the connection closes."""
    sim.chaos("bybit").lose_answer_rate = 1.0
    await trade.send("order.create", {**BID, "orderLinkId": "lost"})
    closing = await trade.ws.receive(timeout=2.0)
    sim.chaos("bybit").lose_answer_rate = 0.0
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert [o.client_id for o in sim.engine("bybit", "spot").orders_of("user")] == ["lost"]


async def test_orders_placed_over_ws_publish_private_events(trade: Trade, sim: Sim,
                                                            http: aiohttp.ClientSession) -> None:
    """An authenticated /v5/private subscribed to order gets the order placed over /v5/trade."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/private") as private:
        await private.send_json({"op": "auth", "args": auth_args(trade.key, trade.secret, now_ms() + 10_000)})
        assert (await next_json(private))["success"] is True
        await private.send_json({"op": "subscribe", "args": ["order"]})
        assert (await next_json(private))["success"] is True
        await trade.call("order.create", {**BID, "orderLinkId": "evented"})
        event = await until(private, lambda m: m.get("topic") == "order")
    assert (event["data"][0]["orderLinkId"], event["data"][0]["orderStatus"]) == ("evented", "New")


async def test_linear_orders_work(trade: Trade, sim: Sim) -> None:
    """category linear places in the linear engine."""
    reply = await trade.call("order.create", {**BID, "category": "linear", "orderLinkId": "lin"})
    assert reply["retCode"] == 0
    assert [o.client_id for o in sim.engine("bybit", "linear").orders_of("user")] == ["lin"]


async def test_ping_is_answered_with_pong(fresh: Trade) -> None:
    """{"op": "ping"} is answered with op pong and the server time (guideline "Ping")."""
    await fresh.ws.send_json({"op": "ping"})
    pong = await next_json(fresh.ws)
    assert (pong["retCode"], pong["op"]) == (0, "pong") and int(pong["data"][0]) > 0


async def test_amend_batch_and_cancel_batch(trade: Trade, sim: Sim) -> None:
    """order.amend-batch then order.cancel-batch act on each order named, as their REST routes."""
    ref = [{"symbol": "BTCUSDT", "orderLinkId": f"m-{n}"} for n in range(2)]
    await trade.call("order.create-batch", {"category": "spot", "request": [
        {k: v for k, v in BID.items() if k != "category"} | r for r in ref]})
    amended = await trade.call("order.amend-batch", {"category": "spot", "request": [r | {"price": "999"}
                                                                                     for r in ref]})
    cancelled = await trade.call("order.cancel-batch", {"category": "spot", "request": ref})
    assert [c["code"] for c in amended["retExtInfo"]["list"]] == [0, 0]
    assert [c["code"] for c in cancelled["retExtInfo"]["list"]] == [0, 0]
    orders = sim.engine("bybit", "spot").orders_of("user")
    assert {(o.status, str(o.price)) for o in orders} == {("CANCELED", "999")}

"""Binance WebSocket streams: diff depth continuity, trades, book ticker, methods, heartbeat, user data."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_helpers import Binance, body, next_json, now_ms, until

from lotusx.sim import Sim, SimConfig, serve


async def trade_some(binance: Binance, count: int = 6) -> None:
    """Rest and take a few orders so the book changes and trades print."""
    for i in range(count):
        await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                             timeInForce="GTC", quantity="0.01", price=str(49000 + i))
        await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="MARKET",
                             quantity="0.005")
        await asyncio.sleep(0.03)


def apply(book: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
    """Apply diff levels to one side of a local book (quantity 0 deletes)."""
    for price, qty in levels:
        if Decimal(qty) == 0:
            book.pop(Decimal(price), None)
        else:
            book[Decimal(price)] = Decimal(qty)


async def test_diff_depth_continues_rest_snapshot_and_rebuilds_the_book(
        sim: Sim, binance: Binance, http: aiohttp.ClientSession) -> None:
    """Events after the snapshot chain U = previous u + 1 and rebuild exactly the server's book."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws/btcusdt@depth@100ms") as ws:
        await trade_some(binance, 2)
        snapshot = await body(await binance.public("/api/v3/depth", symbol="BTCUSDT", limit=5000))
        bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        await trade_some(binance, 4)
        last = snapshot["lastUpdateId"]
        first = True
        book = sim.engine("binance").books["BTCUSDT"]
        while last < book.update_id:
            event = await next_json(ws)
            assert event["e"] == "depthUpdate" and event["s"] == "BTCUSDT"
            if event["u"] <= snapshot["lastUpdateId"]:
                continue
            if first:
                assert event["U"] <= snapshot["lastUpdateId"] + 1 <= event["u"]
                first = False
            else:
                assert event["U"] == last + 1
            last = event["u"]
            apply(bids, event["b"])
            apply(asks, event["a"])
    assert sorted(bids.items(), reverse=True) == book.levels("BUY", 10_000)
    assert sorted(asks.items()) == book.levels("SELL", 10_000)


async def test_combined_stream_wraps_trades_and_book_ticker(
        sim: Sim, binance: Binance, http: aiohttp.ClientSession) -> None:
    """/stream wraps each payload as {"stream", "data"}; trades and bookTicker arrive."""
    url = sim.ws_url("binance") + "/stream?streams=btcusdt@trade/btcusdt@bookTicker/btcusdt@depth5"
    async with http.ws_connect(url) as ws:
        await trade_some(binance, 1)
        trade = await until(ws, lambda m: m["stream"] == "btcusdt@trade")
        ticker = await until(ws, lambda m: m["stream"] == "btcusdt@bookTicker")
        partial = await until(ws, lambda m: m["stream"] == "btcusdt@depth5")
    assert trade["data"]["e"] == "trade" and trade["data"]["m"] is True
    assert set(ticker["data"]) == {"u", "s", "b", "B", "a", "A"}
    assert len(partial["data"]["bids"]) == 5 and "lastUpdateId" in partial["data"]


async def test_subscribe_unsubscribe_and_list(sim: Sim, http: aiohttp.ClientSession) -> None:
    """Methods are acked with {"result": null, "id": N}; LIST_SUBSCRIPTIONS returns the streams."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws") as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@depth"], "id": 1})
        assert await next_json(ws) == {"result": None, "id": 1}
        await ws.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 2})
        assert await next_json(ws) == {"result": None, "id": 2}
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
        assert await next_json(ws) == {"result": ["ethusdt@depth"], "id": 3}


@pytest.mark.parametrize("message", [
    {"method": "SUBSCRIBE", "params": ["nope@trade"], "id": 4},
    {"method": "FROB", "params": [], "id": 4},
])
async def test_bad_requests_get_errors(sim: Sim, http: aiohttp.ClientSession, message: dict[str, Any]) -> None:
    """Unknown streams and methods are answered with an error for that id."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws") as ws:
        await ws.send_json(message)
        reply = await next_json(ws)
    assert reply["id"] == 4 and reply["error"]["code"] == 2


async def test_invalid_json_gets_an_error(sim: Sim, http: aiohttp.ClientSession) -> None:
    """A non-JSON message is answered with error code 3."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws") as ws:
        await ws.send_str("{not json")
        assert (await next_json(ws))["error"]["code"] == 3


async def test_server_pings_and_closes_without_pong(sim: Sim, http: aiohttp.ClientSession) -> None:
    """The server sends ping frames; a client that never pongs is closed after pong_timeout."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws/btcusdt@trade", autoping=False) as ws:
        assert (await ws.receive(timeout=2)).type == aiohttp.WSMsgType.PING
        for _ in range(100):
            msg = await ws.receive(timeout=2)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008


async def test_ponging_client_stays_connected(sim: Sim, http: aiohttp.ClientSession) -> None:
    """A client that answers pings (aiohttp does while receiving) outlives pong_timeout."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws") as ws:
        for request_id in range(4):  # 4 x 0.25 s > pong_timeout (0.5 s), under 5 messages a second
            await asyncio.sleep(0.25)
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": request_id})
            assert await next_json(ws) == {"result": [], "id": request_id}


async def test_client_ping_is_answered(sim: Sim, http: aiohttp.ClientSession) -> None:
    """A protocol ping from the client gets a pong with the same payload."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws", autoping=False) as ws:
        await ws.ping(b"hi")
        msg = await until_frame(ws, aiohttp.WSMsgType.PONG)
    assert msg.data == b"hi"


async def until_frame(ws: aiohttp.ClientWebSocketResponse, kind: aiohttp.WSMsgType) -> aiohttp.WSMessage:
    """The first frame of ``kind`` among the next 20."""
    for _ in range(20):
        msg = await ws.receive(timeout=2)
        if msg.type == kind:
            return msg
    raise AssertionError(f"no {kind}")


@pytest.fixture
async def short_lived() -> AsyncIterator[Sim]:
    """A sim whose WS connections live 0.2 s."""
    async with serve(("binance",), seed=3, config=SimConfig(driver_rate=0, ws_lifetime=0.2)) as running:
        yield running


async def test_connection_lifetime_closes_the_socket(short_lived: Sim, http: aiohttp.ClientSession) -> None:
    """After ws_lifetime the server closes the connection (1001)."""
    async with http.ws_connect(short_lived.ws_url("binance") + "/ws/btcusdt@trade") as ws:
        msg = await ws.receive(timeout=2)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001


async def test_user_data_stream_reports_executions_and_balances(
        sim: Sim, binance: Binance, http: aiohttp.ClientSession) -> None:
    """A listen key stream gets executionReport NEW, TRADE and outboundAccountPosition for the account."""
    listen_key = (await body(await http.post(binance.base + "/api/v3/userDataStream",
                                             headers={"X-MBX-APIKEY": binance.key})))["listenKey"]
    async with http.ws_connect(f"{sim.ws_url('binance')}/ws/{listen_key}") as ws:
        await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                             timeInForce="GTC", quantity="0.002", price="60000", newClientOrderId="u-1")
        reports = [await until(ws, lambda m: m["e"] == "executionReport") for _ in range(2)]
        position = await until(ws, lambda m: m["e"] == "outboundAccountPosition")
    assert [(r["x"], r["c"]) for r in reports] == [("NEW", "u-1"), ("TRADE", "u-1")]
    assert reports[1]["X"] == "FILLED" and reports[1]["z"] == "0.00200000"
    assert {b["a"] for b in position["B"]} == {"BTC", "USDT"}


async def test_user_data_stream_reports_cancel(sim: Sim, binance: Binance, http: aiohttp.ClientSession) -> None:
    """Cancelling an order sends a CANCELED executionReport."""
    listen_key = (await body(await http.post(binance.base + "/api/v3/userDataStream",
                                             headers={"X-MBX-APIKEY": binance.key})))["listenKey"]
    async with http.ws_connect(f"{sim.ws_url('binance')}/stream?streams={listen_key}") as ws:
        order = await body(await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL",
                                                type="LIMIT", timeInForce="IOC", quantity="0.002", price="70000"))
        expired = await until(ws, lambda m: m["data"].get("x") == "EXPIRED")
        await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="LIMIT",
                             timeInForce="GTC", quantity="0.002", price="70000", newClientOrderId="c-1")
        await binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="c-1")
        cancelled = await until(ws, lambda m: m["data"].get("x") == "CANCELED")
    assert expired["data"]["i"] == order["orderId"]
    assert cancelled["stream"] == listen_key and cancelled["data"]["C"] == "c-1"  # "C": the order being cancelled


def ws_api_signature(secret: str, params: dict[str, Any]) -> str:
    """HMAC hex over the params sorted by name, as the WS API docs prescribe."""
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def test_ws_api_user_data_subscription(sim: Sim, binance: Binance, http: aiohttp.ClientSession) -> None:
    """userDataStream.subscribe.signature delivers the account's events wrapped with the subscription id."""
    params: dict[str, Any] = {"apiKey": binance.key, "timestamp": now_ms()}
    params["signature"] = ws_api_signature(binance.secret, params)
    async with http.ws_connect(sim.ws_url("binance") + "/ws-api/v3") as ws:
        await ws.send_json({"id": "s1", "method": "userDataStream.subscribe.signature", "params": params})
        reply = await next_json(ws)
        assert (reply["id"], reply["status"], reply["result"]) == ("s1", 200, {"subscriptionId": 0})
        assert reply["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
        await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                             timeInForce="GTC", quantity="0.01", price="40000", newClientOrderId="wsapi-1")
        event = await until(ws, lambda m: "event" in m)
        await ws.send_json({"id": 2, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": 0}})
        assert (await until(ws, lambda m: m.get("id") == 2))["result"] == {}
    assert event["subscriptionId"] == 0
    assert (event["event"]["e"], event["event"]["c"]) == ("executionReport", "wsapi-1")


@pytest.mark.parametrize(("change", "code"), [
    ({"signature": "00"}, -1022), ({"apiKey": "nobody"}, -2015), ({"timestamp": 1}, -1021), ({}, -1102)])
async def test_ws_api_subscription_errors(sim: Sim, binance: Binance, http: aiohttp.ClientSession,
                                          change: dict[str, Any], code: int) -> None:
    """Bad signatures, keys and timestamps, or no signature at all, are answered with the REST codes."""
    params: dict[str, Any] = {"apiKey": binance.key, "timestamp": now_ms()} | change
    if change and "signature" not in change:
        params["signature"] = ws_api_signature(binance.secret, params)
    async with http.ws_connect(sim.ws_url("binance") + "/ws-api/v3") as ws:
        await ws.send_json({"id": 1, "method": "userDataStream.subscribe.signature", "params": params})
        reply = await next_json(ws)
    assert reply["error"]["code"] == code and reply["status"] in (400, 401)


async def test_ws_api_ping_time_and_bad_requests(sim: Sim, http: aiohttp.ClientSession) -> None:
    """ping and time answer; unknown methods and non-JSON are errors; unsubscribe-all is accepted."""
    async with http.ws_connect(sim.ws_url("binance") + "/ws-api/v3") as ws:
        for request in ({"id": 1, "method": "ping"}, {"id": 2, "method": "time"}, {"id": 3, "method": "nope"},
                        {"id": 4, "method": "userDataStream.unsubscribe"}):
            await ws.send_json(request)
        replies = [await next_json(ws) for _ in range(4)]
        await ws.send_str("not json")
        broken = await next_json(ws)
    assert replies[0]["result"] == {} and "serverTime" in replies[1]["result"]
    assert replies[2]["status"] == 400 and replies[3]["result"] == {}
    assert broken["error"]["code"] == -1102

"""Bybit v5 WebSocket: subscribe acks, orderbook snapshot + delta, trades, tickers, ping, idle, private auth."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_helpers import Bybit, next_json, now_ms, until

from lotusx.sim import Sim


async def buy(bybit: Bybit, category: str = "spot", qty: str = "500") -> None:
    """A market buy (quote qty on spot) that trades and moves the book."""
    await bybit.signed("POST", "/v5/order/create", category=category, symbol="BTCUSDT", side="Buy",
                       orderType="Market", qty=qty)


async def subscribe(ws: aiohttp.ClientWebSocketResponse, *args: str, req_id: str = "r1") -> dict[str, Any]:
    """Send a subscribe op and return its ack."""
    await ws.send_json({"op": "subscribe", "args": list(args), "req_id": req_id})
    ack: dict[str, Any] = await until(ws, lambda m: m.get("op") == "subscribe")
    return ack


async def test_subscribe_ack_shape(sim: Sim, http: aiohttp.ClientSession) -> None:
    """The ack echoes req_id and op, with success, ret_msg and conn_id."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        ack = await subscribe(ws, "publicTrade.BTCUSDT", req_id="abc")
    assert (ack["success"], ack["req_id"], ack["op"], ack["ret_msg"]) == (True, "abc", "subscribe", "")
    assert ack["conn_id"]


async def test_orderbook_snapshot_then_contiguous_deltas(sim: Sim, bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """A snapshot of ``depth`` levels comes first; deltas continue u by one and rebuild the book."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/linear") as ws:
        await subscribe(ws, "orderbook.200.BTCUSDT")
        snapshot = await next_json(ws)
        assert (snapshot["type"], snapshot["topic"]) == ("snapshot", "orderbook.200.BTCUSDT")
        bids = {Decimal(p): Decimal(q) for p, q in snapshot["data"]["b"]}
        asks = {Decimal(p): Decimal(q) for p, q in snapshot["data"]["a"]}
        last_u = snapshot["data"]["u"]
        for _ in range(3):
            await buy(bybit, "linear", "0.02")
            await asyncio.sleep(0.03)
        book = sim.engine("bybit", "linear").books["BTCUSDT"]
        last_seq = snapshot["data"]["seq"]
        while last_seq < book.update_id:
            delta = await next_json(ws)
            assert delta["type"] == "delta" and delta["data"]["u"] == last_u + 1
            last_u, last_seq = delta["data"]["u"], delta["data"]["seq"]
            for side, levels in ((bids, delta["data"]["b"]), (asks, delta["data"]["a"])):
                for price, qty in levels:
                    if Decimal(qty) == 0:
                        side.pop(Decimal(price), None)
                    else:
                        side[Decimal(price)] = Decimal(qty)
    assert sorted(bids.items(), reverse=True) == book.levels("BUY", 1000)
    assert sorted(asks.items()) == book.levels("SELL", 1000)


async def test_the_garble_knob_leaves_bybits_object_data_alone(sim: Sim, http: aiohttp.ClientSession) -> None:
    """An orderbook snapshot's object ``data`` is not a Binance stream event: sent whole, the knob's count kept."""
    chaos = sim.chaos("bybit")
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        chaos.garble_ws_data = 1
        try:
            await subscribe(ws, "orderbook.50.BTCUSDT")
            snapshot = await next_json(ws)
            left = chaos.garble_ws_data
        finally:
            chaos.garble_ws_data = 0
    assert (snapshot["type"], sorted(snapshot["data"]), left) == ("snapshot", ["a", "b", "s", "seq", "u"], 1)


async def test_public_trade_and_tickers(sim: Sim, bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """A trade is pushed on publicTrade (taker side) and refreshes tickers."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        await subscribe(ws, "publicTrade.BTCUSDT", "tickers.BTCUSDT")
        await buy(bybit)
        trade = await until(ws, lambda m: m.get("topic") == "publicTrade.BTCUSDT")
        ticker = await until(ws, lambda m: m.get("topic") == "tickers.BTCUSDT")
    assert trade["data"][0]["S"] == "Buy" and trade["data"][0]["s"] == "BTCUSDT"
    newest = (await bybit.public("/v5/market/recent-trade", category="spot", symbol="BTCUSDT"))["result"]["list"][0]
    assert (ticker["data"]["symbol"], ticker["data"]["lastPrice"]) == ("BTCUSDT", newest["price"])


async def test_unsubscribe_stops_messages(sim: Sim, bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """After unsubscribe no more messages of that topic arrive."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        await subscribe(ws, "publicTrade.BTCUSDT")
        await ws.send_json({"op": "unsubscribe", "args": ["publicTrade.BTCUSDT"], "req_id": "u"})
        assert (await next_json(ws))["success"] is True
        await buy(bybit)
        await ws.send_json({"op": "ping", "req_id": "p"})
        assert (await next_json(ws))["ret_msg"] == "pong"  # nothing was queued before the pong


@pytest.mark.parametrize(("args", "message"), [
    (["publicTrade.NOPE"], "error:handler not found,topic:publicTrade.NOPE"),
    ([f"publicTrade.{i}" for i in range(11)], "args size >10"),
])
async def test_subscribe_failures(sim: Sim, http: aiohttp.ClientSession, args: list[str], message: str) -> None:
    """Unknown topics and more than max_args args are refused with success false."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        ack = await subscribe(ws, *args)
    assert (ack["success"], ack["ret_msg"]) == (False, message)


async def test_public_ping_pong(sim: Sim, http: aiohttp.ClientSession) -> None:
    """{"op":"ping"} on a public connection is answered with ret_msg pong."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        await ws.send_json({"op": "ping", "req_id": "7"})
        pong = await next_json(ws)
    assert (pong["success"], pong["ret_msg"], pong["op"], pong["req_id"]) == (True, "pong", "ping", "7")


async def test_bad_ops_are_refused(sim: Sim, http: aiohttp.ClientSession) -> None:
    """Unknown ops and non-JSON messages get success false."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        await ws.send_json({"op": "frob", "req_id": "1"})
        assert (await next_json(ws))["success"] is False
        await ws.send_str("nope")
        assert (await next_json(ws))["success"] is False


async def test_silent_connection_is_closed(sim: Sim, http: aiohttp.ClientSession) -> None:
    """A client that sends nothing for idle_timeout (1 s here) is disconnected."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        msg = await ws.receive(timeout=3)
    assert msg.type == aiohttp.WSMsgType.CLOSE


def auth_args(key: str, secret: str, expires: int) -> list[Any]:
    """The documented auth args: hex HMAC-SHA256 of "GET/realtime" + expires."""
    signature = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    return [key, expires, signature]


async def test_private_auth_and_order_wallet_execution_topics(
        sim: Sim, bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """After auth, order, execution and wallet topics report the account's fills."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/private") as ws:
        await ws.send_json({"op": "auth", "args": auth_args(bybit.key, bybit.secret, now_ms() + 10_000)})
        assert (await next_json(ws))["success"] is True
        await subscribe(ws, "order", "execution", "wallet")
        await buy(bybit)
        order = await until(ws, lambda m: m.get("topic") == "order")
        execution = await until(ws, lambda m: m.get("topic") == "execution")
        wallet = await until(ws, lambda m: m.get("topic") == "wallet")
        await ws.send_json({"op": "ping", "req_id": "p"})
        pong = await until(ws, lambda m: m.get("op") == "pong")
    assert order["data"][0]["orderStatus"] == "Filled" and order["data"][0]["side"] == "Buy"
    assert execution["data"][0]["isMaker"] is False
    assert {c["coin"] for c in wallet["data"][0]["coin"]} >= {"BTC", "USDT"}
    assert pong["req_id"] == "p" and pong["conn_id"]


@pytest.mark.parametrize(("offset", "secret", "message"), [
    (10_000, "wrong", "Request not authorized"), (-1, None, "Params Error")])
async def test_private_auth_failures(sim: Sim, bybit: Bybit, http: aiohttp.ClientSession, offset: int,
                                     secret: str | None, message: str) -> None:
    """A bad signature is not authorized; an expired ``expires`` is a params error."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/private") as ws:
        await ws.send_json({"op": "auth", "args": auth_args(bybit.key, secret or bybit.secret, now_ms() + offset)})
        reply = await next_json(ws)
        await ws.send_json({"op": "auth", "args": ["only-one"]})
        malformed = await next_json(ws)
    assert (reply["success"], reply["ret_msg"]) == (False, message)
    assert malformed["ret_msg"] == "Params Error"


async def test_private_subscribe_needs_auth(sim: Sim, http: aiohttp.ClientSession) -> None:
    """Subscribing before auth is refused."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/private") as ws:
        ack = await subscribe(ws, "order")
    assert (ack["success"], ack["ret_msg"]) == (False, "Request not authorized")

"""Every chaos knob takes effect, live, through the API and through the admin endpoint."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from sim_helpers import Binance, Bybit, body, next_json, until

from lotusx.sim import Chaos, Sim, SimConfig, serve
from lotusx.testing import FakeClock, RecordingClock


async def trade(binance: Binance, price: str = "49000") -> None:
    """Rest a bid and hit the best bid, changing the book and printing a trade."""
    await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                         quantity="0.01", price=price)
    await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.001")


def test_update_rejects_unknown_knobs_and_wrong_types() -> None:
    """Chaos.update validates names and types before changing anything."""
    chaos = Chaos()
    with pytest.raises(ValueError, match="unknown"):
        chaos.update({"latency": 5})
    with pytest.raises(ValueError, match="cannot be"):
        chaos.update({"latency_ms": 10, "mute_pings": "yes"})
    assert chaos.latency_ms == 0
    chaos.update({"latency_ms": 10, "drop_ws_after": None, "error_rate": 0.5, "mute_pings": True})
    assert (chaos.latency_ms, chaos.error_rate, chaos.mute_pings) == (10, 0.5, True)
    with pytest.raises(ValueError, match="cannot be"):
        chaos.update({"force_429": 1.5})
    with pytest.raises(ValueError, match="cannot be"):
        chaos.update({"force_429": None})


def test_forced_answers_are_consumed_418_first() -> None:
    """take_forced drains 418s, then 429s, then answers None."""
    chaos = Chaos(force_429=1, force_418=1)
    assert [chaos.take_forced() for _ in range(3)] == [418, 429, None]


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[Sim, RecordingClock]]:
    """A sim on a clock that records sleeps."""
    clock = RecordingClock()
    async with serve(("binance",), seed=5, config=SimConfig(driver_rate=0), clock=clock) as running:
        yield running, clock


async def test_latency_and_jitter_delay_rest_answers(recorded: tuple[Sim, RecordingClock],
                                                     http: aiohttp.ClientSession) -> None:
    """Each REST answer waits latency +/- jitter before being sent."""
    sim, clock = recorded
    sim.chaos("binance").latency_ms = 40
    await http.get(sim.rest_url("binance") + "/api/v3/ping")
    assert 0.04 in clock.slept
    sim.chaos("binance").jitter_ms = 20
    clock.slept.clear()
    for _ in range(4):
        await http.get(sim.rest_url("binance") + "/api/v3/ping")
    delays = [s for s in clock.slept if s < 0.1]
    assert len(delays) == 4 and all(0.02 <= d <= 0.06 for d in delays) and len(set(delays)) > 1


async def test_error_rate_answers_503(sim: Sim, http: aiohttp.ClientSession) -> None:
    """error_rate 1 makes every REST answer a 503; 0.5 about half of them (seeded)."""
    sim.chaos("binance").error_rate = 1.0
    sim.chaos("bybit").error_rate = 1.0
    assert (await http.get(sim.rest_url("binance") + "/api/v3/time")).status == 503
    assert (await http.get(sim.rest_url("bybit") + "/v5/market/time")).status == 503
    sim.chaos("binance").error_rate = 0.5
    statuses = [(await http.get(sim.rest_url("binance") + "/api/v3/ping")).status for _ in range(30)]
    assert 5 <= statuses.count(503) <= 25 and statuses.count(200) == 30 - statuses.count(503)


async def test_forced_429_and_418(sim: Sim, http: aiohttp.ClientSession) -> None:
    """The next N answers are rate limited / banned, then service resumes."""
    url = sim.rest_url("binance") + "/api/v3/ping"
    sim.chaos("binance").force_429 = 2
    sim.chaos("binance").force_418 = 1
    answers = [await http.get(url) for _ in range(4)]
    assert [a.status for a in answers] == [418, 429, 429, 200]
    assert answers[1].headers["Retry-After"] == "1" and (await body(answers[1]))["code"] == -1003


async def test_forced_throttling_on_bybit(sim: Sim, http: aiohttp.ClientSession) -> None:
    """On Bybit a forced 429 is HTTP 429 and a forced 418 is its 403 IP ban."""
    sim.chaos("bybit").update({"force_429": 1, "force_418": 1})
    url = sim.rest_url("bybit") + "/v5/market/time"
    assert [(await http.get(url)).status for _ in range(3)] == [403, 429, 200]


async def test_clock_skew_moves_server_time(http: aiohttp.ClientSession) -> None:
    """clock_skew_ms shifts serverTime exactly, and signed requests then fall outside the window."""
    clock = FakeClock(start=1_700_000_000.0, auto_advance=False)
    async with serve(("binance", "bybit"), seed=6, config=SimConfig(driver_rate=0), clock=clock) as sim:
        sim.chaos("binance").clock_skew_ms = -7_000
        sim.chaos("bybit").clock_skew_ms = 2_500
        binance_time = await body(await http.get(sim.rest_url("binance") + "/api/v3/time"))
        bybit_time = await body(await http.get(sim.rest_url("bybit") + "/v5/market/time"))
        keys = sim.api_keys("binance")
        client = Binance(http, sim.rest_url("binance"), keys.hmac_key, keys.hmac_secret)
        rejected = await body(await client.signed("GET", "/api/v3/account", timestamp=1_700_000_000_000))
    assert binance_time == {"serverTime": 1_700_000_000_000 - 7_000}
    assert bybit_time["result"]["timeSecond"] == str(1_700_000_002)
    assert rejected["code"] == -1021


async def test_drop_ws_after_n_messages(sim: Sim, binance: Binance, http: aiohttp.ClientSession) -> None:
    """With drop_ws_after=2 the server closes the stream right after its second message."""
    sim.chaos("binance").drop_ws_after = 2
    async with http.ws_connect(sim.ws_url("binance") + "/ws/btcusdt@trade/btcusdt@depth") as ws:
        await trade(binance)
        kinds = [(await ws.receive(timeout=2)).type for _ in range(3)]
    assert kinds == [aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.CLOSE]


async def test_drop_ws_once_closes_one_connection_then_clears_itself(sim: Sim, binance: Binance,
                                                                     http: aiohttp.ClientSession) -> None:
    """drop_ws_once=1 closes the first connection after its first message; the next one stays up."""
    chaos = sim.chaos("binance")
    chaos.drop_ws_once = 1
    async with http.ws_connect(sim.ws_url("binance") + "/ws/btcusdt@trade") as ws:
        await trade(binance)
        kinds = [(await ws.receive(timeout=2)).type for _ in range(2)]
    assert kinds == [aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.CLOSE]
    assert chaos.drop_ws_once is None
    async with http.ws_connect(sim.ws_url("binance") + "/ws/btcusdt@trade") as ws:
        await trade(binance)
        await trade(binance)
        kinds = [(await ws.receive(timeout=2)).type for _ in range(2)]
    assert kinds == [aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.TEXT]


async def test_refuse_ws_fails_upgrades_while_rest_answers(sim: Sim, http: aiohttp.ClientSession) -> None:
    """refuse_ws answers WS upgrades with 503 while REST still works; switched off, upgrades succeed."""
    sim.chaos("bybit").refuse_ws = True
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot")
    assert refused.value.status == 503
    assert (await http.get(sim.rest_url("bybit") + "/v5/market/time")).status == 200
    sim.chaos("bybit").refuse_ws = False
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        assert not ws.closed


async def test_drop_ws_at_random(sim: Sim, bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """drop_ws_rate=1 closes a connection after its first message (here the subscribe ack)."""
    sim.chaos("bybit").drop_ws_rate = 1.0
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        await ws.send_json({"op": "subscribe", "args": ["publicTrade.BTCUSDT"], "req_id": "1"})
        assert (await next_json(ws))["success"] is True
        msg = await ws.receive(timeout=2)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_mute_pings_stops_pongs_and_server_pings(sim: Sim, http: aiohttp.ClientSession) -> None:
    """Muted, the server neither answers a client ping nor sends its own."""
    sim.chaos("binance").mute_pings = True
    async with http.ws_connect(sim.ws_url("binance") + "/ws", autoping=False) as ws:
        await ws.ping(b"x")
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.3)  # > ping_interval (0.05 s): a ping or the pong would have come


async def test_mute_pings_on_bybit(sim: Sim, http: aiohttp.ClientSession) -> None:
    """Muted, Bybit ignores {"op":"ping"}."""
    sim.chaos("bybit").mute_pings = True
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        await ws.send_json({"op": "ping", "req_id": "1"})
        await ws.send_json({"op": "subscribe", "args": ["publicTrade.BTCUSDT"], "req_id": "2"})
        assert (await next_json(ws))["op"] == "subscribe"


async def test_sequence_gap_skips_update_ids(sim: Sim, binance: Binance, bybit: Bybit,
                                             http: aiohttp.ClientSession) -> None:
    """After sequence_gap=5 the next depth event starts 6 ids after the previous one ended."""
    book = sim.engine("binance").books["BTCUSDT"]
    async with http.ws_connect(sim.ws_url("binance") + "/ws/btcusdt@depth") as ws:
        await trade(binance)
        # The trade's last change published (its two changes may come in one depth event or two).
        first = await until(ws, lambda m: m.get("e") == "depthUpdate" and m["u"] == book.update_id)
        sim.chaos("binance").sequence_gap = 5
        await asyncio.sleep(0.05)  # let the gap be applied on a publishing tick
        await trade(binance, "48000")
        second = await until(ws, lambda m: m.get("e") == "depthUpdate")
    assert second["U"] == first["u"] + 6
    assert sim.chaos("binance").sequence_gap == 0


async def test_sequence_gap_on_bybit_orderbook(sim: Sim, bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """On Bybit the gap shows in both ``u`` and ``seq``."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/spot") as ws:
        await ws.send_json({"op": "subscribe", "args": ["orderbook.50.BTCUSDT"], "req_id": "1"})
        await next_json(ws)
        snapshot = await next_json(ws)
        sim.chaos("bybit").sequence_gap = 3
        await asyncio.sleep(0.05)
        await bybit.signed("POST", "/v5/order/create", category="spot", symbol="BTCUSDT", side="Buy",
                           orderType="Limit", qty="0.01", price="45000")
        delta = await until(ws, lambda m: m.get("type") == "delta")
    assert delta["data"]["u"] == snapshot["data"]["u"] + 4
    assert delta["data"]["seq"] == snapshot["data"]["seq"] + 4


@pytest.mark.parametrize(("knob", "negotiated"), [(True, True), (False, False)])
async def test_permessage_deflate(sim: Sim, http: aiohttp.ClientSession, knob: bool, negotiated: bool) -> None:
    """ws_deflate decides whether permessage-deflate is negotiated with a client that offers it."""
    sim.chaos("binance").ws_deflate = knob
    async with http.ws_connect(sim.ws_url("binance") + "/ws", compress=15) as ws:
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
        assert await next_json(ws) == {"result": [], "id": 1}
        assert bool(ws.compress) is negotiated


async def test_gzip_binary_frames(sim: Sim, http: aiohttp.ClientSession) -> None:
    """ws_gzip sends each message as a gzip-compressed binary frame."""
    sim.chaos("binance").ws_gzip = True
    async with http.ws_connect(sim.ws_url("binance") + "/ws") as ws:
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        msg = await ws.receive(timeout=2)
    assert msg.type == aiohttp.WSMsgType.BINARY
    assert orjson.loads(gzip.decompress(msg.data)) == {"result": [], "id": 2}


async def test_admin_endpoint_reads_and_changes_knobs(sim: Sim, http: aiohttp.ClientSession) -> None:
    """GET /_sim/chaos shows the knobs; POST changes them live; bad input is a 400."""
    admin = sim.rest_url("bybit") + "/_sim/chaos"
    knobs: dict[str, Any] = await body(await http.get(admin))
    assert knobs["force_429"] == 0 and set(knobs) == set(vars(Chaos()))
    changed = await body(await http.post(admin, data=orjson.dumps({"force_429": 1})))
    assert changed["force_429"] == 1
    assert (await http.get(sim.rest_url("bybit") + "/v5/market/time")).status == 429
    assert (await http.post(admin, data=b'{"nope": 1}')).status == 400
    assert (await http.post(admin, data=b"[1]")).status == 400
    assert (await http.get(sim.rest_url("bybit") + "/v5/market/time")).status == 200


async def test_admin_endpoint_is_never_throttled(sim: Sim, http: aiohttp.ClientSession) -> None:
    """The admin endpoint bypasses chaos so it can always switch it off."""
    sim.chaos("binance").error_rate = 1.0
    resp = await http.post(sim.rest_url("binance") + "/_sim/chaos", data=orjson.dumps({"error_rate": 0.0}))
    assert resp.status == 200
    assert (await http.get(sim.rest_url("binance") + "/api/v3/ping")).status == 200


async def test_sequence_gap_can_target_one_symbol() -> None:
    """sequence_gap_symbol burns update ids in that book only."""
    from lotusx.sim import serve

    async with serve(venues=("binance",), seed=5) as sim:
        engine = sim.engine("binance")
        before = {symbol: book.update_id for symbol, book in engine.books.items()}
        sim.chaos("binance").update({"sequence_gap": 50, "sequence_gap_symbol": "ETHUSDT"})
        sim.venue("binance").publish_depth()
        after = {symbol: book.update_id for symbol, book in engine.books.items()}
    assert after["ETHUSDT"] - before["ETHUSDT"] >= 50
    assert after["BTCUSDT"] - before["BTCUSDT"] < 50

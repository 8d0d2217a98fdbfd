"""The sim's Bybit Disconnection Protection (docs/v5/order/dcp.mdx, account/dcp-info.mdx, websocket/private/dcp.mdx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sim_helpers import Bybit, HeldClock, body, eventually, now_ms, until
from test_sim_bybit_ws import auth_args, subscribe

from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import USER

SET = "/v5/order/disconnected-cancel-all"
INFO = "/v5/account/query-dcp-info"


async def windows(bybit: Bybit) -> dict[str, str]:
    """query-dcp-info's windows by product."""
    answer = await body(await bybit.signed("GET", INFO))
    return {row["product"]: row["timeWindow"] for row in answer["result"]["dcpInfos"] if row["dcpStatus"] == "ON"}


async def private(http: aiohttp.ClientSession, sim: Sim, bybit: Bybit, *topics: str) -> Any:
    """A private connection, logged in, subscribed to ``topics``; the caller closes it."""
    ws = await http.ws_connect(sim.ws_url("bybit") + "/v5/private")
    await ws.send_json({"op": "auth", "args": auth_args(bybit.key, bybit.secret, now_ms() + 10_000)})
    await until(ws, lambda m: m.get("op") == "auth")
    ack = await subscribe(ws, *topics)
    assert ack["success"] is True, ack
    return ws


async def test_a_window_is_set_per_product_options_when_none_is_named(bybit: Bybit) -> None:
    """Every product starts at the default 10 s; a set without product is OPTIONS' (the docs' default)."""
    assert await windows(bybit) == {"SPOT": "10", "DERIVATIVES": "10", "OPTIONS": "10"}
    answer = await body(await bybit.signed("POST", SET, timeWindow=40))
    await bybit.signed("POST", SET, product="SPOT", timeWindow=3)
    assert (answer["retCode"], answer["retMsg"]) == (0, "OK")
    assert await windows(bybit) == {"SPOT": "3", "DERIVATIVES": "10", "OPTIONS": "40"}


@pytest.mark.parametrize("params", [{"timeWindow": 2}, {"timeWindow": 301}, {"timeWindow": "10"},
                                    {"timeWindow": True}, {}, {"timeWindow": 10, "product": "FUTURES"}])
async def test_a_bad_window_or_product_is_a_params_error(bybit: Bybit, params: dict[str, Any]) -> None:
    """timeWindow is an integer in [3, 300], product one of three: else 10001, nothing changed."""
    answer = await body(await bybit.signed("POST", SET, **params))
    assert answer["retCode"] == 10001
    assert set((await windows(bybit)).values()) == {"10"}


async def test_a_bare_dcp_topic_is_refused(sim: Sim, bybit: Bybit, http: aiohttp.ClientSession) -> None:
    """The topics are dcp.future, dcp.spot and dcp.option; "dcp" alone names none."""
    ws = await private(http, sim, bybit, "dcp.future", "dcp.spot", "dcp.option")
    ack = await subscribe(ws, "dcp", req_id="r2")
    await ws.close()
    assert (ack["success"], ack["ret_msg"]) == (False, "error:handler not found,topic:dcp")


async def test_an_unsubscribe_lets_go_without_starting_the_window(sim: Sim, bybit: Bybit,
                                                                  http: aiohttp.ClientSession) -> None:
    """Unsubscribed, the connection no longer holds the topic; only a connection lost starts the window."""
    dcp = sim.venue("bybit").dcp
    ws = await private(http, sim, bybit, "dcp.spot")
    other = await private(http, sim, bybit, "dcp.spot")
    assert dcp.held(USER, "SPOT") == 2
    await ws.send_json({"op": "unsubscribe", "args": ["dcp.spot"], "req_id": "u"})
    await until(ws, lambda m: m.get("op") == "unsubscribe")
    assert (dcp.held(USER, "SPOT"), dcp.pending(USER, "SPOT")) == (1, False)
    await ws.close()
    await other.close()
    await eventually(lambda: dcp.pending(USER, "SPOT"), "the window started when the last holder dropped")


@pytest.fixture
async def held() -> AsyncIterator[tuple[Sim, HeldClock]]:
    """The Bybit sim on a HeldClock: its DCP windows pass when the test says."""
    clock = HeldClock()
    async with serve(("bybit",), seed=1, config=SimConfig(driver_rate=0, depth_interval=1.0), clock=clock) as sim:
        yield sim, clock


async def test_a_window_run_out_cancels_the_products_orders_on_the_order_stream(
        held: tuple[Sim, HeldClock], http: aiohttp.ClientSession) -> None:
    """The dcp holder drops: after the window the account's spot orders are cancelled, each pushed on ``order``."""
    sim, clock = held
    keys = sim.api_keys("bybit")
    bybit = Bybit(http, sim.rest_url("bybit"), keys.hmac_key, keys.hmac_secret)
    for category in ("spot", "linear"):
        placed = await body(await bybit.signed("POST", "/v5/order/create", category=category, symbol="BTCUSDT",
                                               side="Buy", orderType="Limit", qty="0.01", price="20000",
                                               orderLinkId=f"{category}-1"))
        assert placed["retCode"] == 0, placed
    orders = await private(http, sim, bybit, "order")
    armed = await private(http, sim, bybit, "dcp.spot")
    await armed.close()
    dcp = sim.venue("bybit").dcp
    await eventually(lambda: dcp.pending(USER, "SPOT"), "the window started")
    await clock.advance(10)  # the default window
    pushed = await until(orders, lambda m: m.get("topic") == "order")
    await orders.close()
    [row] = pushed["data"]
    assert (row["orderLinkId"], row["orderStatus"]) == ("spot-1", "Cancelled")
    assert [o.status for o in sim.engine("bybit", "linear").open_orders(USER)] == ["NEW"]
    assert not dcp.pending(USER, "SPOT")

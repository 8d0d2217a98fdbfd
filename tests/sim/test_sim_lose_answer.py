"""The lose_answer_rate chaos knob: an order request is executed, then its answer is lost."""

from __future__ import annotations

import aiohttp
import pytest
from sim_helpers import Binance, Bybit, body

from lotusx.sim import Chaos, Sim
from lotusx.sim.venue import USER


def test_lose_answer_rate_is_off_by_default() -> None:
    """A fresh Chaos loses no answer."""
    assert Chaos().lose_answer_rate == 0.0


async def test_binance_order_is_placed_and_cancelled_but_the_answers_are_lost(sim: Sim, binance: Binance) -> None:
    """With lose_answer_rate 1 a Binance place and cancel take effect and the connection drops unanswered."""
    sim.chaos("binance").lose_answer_rate = 1.0
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                             quantity="0.01", price="10000", newClientOrderId="lost-1")
    engine = sim.engine("binance")
    assert engine.find(USER, "BTCUSDT", client_id="lost-1").status == "NEW"
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="lost-1")
    assert engine.find(USER, "BTCUSDT", client_id="lost-1").status == "CANCELED"
    assert (await binance.public("/api/v3/time")).status == 200  # other requests keep their answers


async def test_bybit_order_is_placed_and_cancelled_but_the_answers_are_lost(sim: Sim, bybit: Bybit) -> None:
    """With lose_answer_rate 1 a Bybit create and cancel take effect and the connection drops unanswered."""
    sim.chaos("bybit").lose_answer_rate = 1.0
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await bybit.signed("POST", "/v5/order/create", category="spot", symbol="BTCUSDT", side="Buy",
                           orderType="Limit", qty="0.01", price="10000", orderLinkId="lost-2")
    engine = sim.engine("bybit")
    assert engine.find(USER, "BTCUSDT", client_id="lost-2").status == "NEW"
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await bybit.signed("POST", "/v5/order/cancel", category="spot", symbol="BTCUSDT", orderLinkId="lost-2")
    assert engine.find(USER, "BTCUSDT", client_id="lost-2").status == "CANCELED"
    assert (await bybit.public("/v5/market/time"))["retCode"] == 0


async def test_a_share_of_answers_is_lost(sim: Sim, binance: Binance) -> None:
    """lose_answer_rate 0.5 loses some answers and delivers the others (seeded)."""
    sim.chaos("binance").lose_answer_rate = 0.5
    answered = 0
    for n in range(20):
        try:
            resp = await binance.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                                        timeInForce="GTC", quantity="0.01", price="10000", newClientOrderId=f"h-{n}")
        except aiohttp.ServerDisconnectedError:
            continue
        assert (await body(resp))["clientOrderId"] == f"h-{n}"
        answered += 1
    assert 3 <= answered <= 17
    assert sum(o.client_id.startswith("h-") for o in sim.engine("binance").orders.values()) == 20

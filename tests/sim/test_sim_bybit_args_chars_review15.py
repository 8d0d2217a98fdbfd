"""Bybit sim: one public connection holds at most ``max_args_chars`` characters of args (docs: 21,000).

docs/v5/ws/connect "Public channel - Args limits": "for one public connection, you cannot have
length of "args" array over 21,000 characters". The venue's answer is not documented; the sim
refuses the subscribe that would pass it, with a ret_msg that says so, and keeps what it had.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sim_helpers import until

from lotusx.sim import Sim, SimConfig, serve

# '["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"]' is 46 characters; one more topic passes 60.
SMALL = SimConfig(driver_rate=0, max_args_chars=60)


@pytest.fixture
async def small() -> AsyncIterator[Sim]:
    """Bybit whose public connections hold 60 characters of args."""
    async with serve(("bybit",), seed=1, config=SMALL) as running:
        yield running


async def subscribe(ws: aiohttp.ClientWebSocketResponse, args: list[str], req_id: str) -> dict[str, Any]:
    await ws.send_json({"op": "subscribe", "args": args, "req_id": req_id})
    ack: dict[str, Any] = await until(ws, lambda m: m.get("op") == "subscribe")
    return ack


def test_the_default_is_the_documented_21000() -> None:
    """Unless a test shrinks it, a connection holds the docs' 21,000 characters of args."""
    assert SimConfig().max_args_chars == 21_000


@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_a_subscribe_past_the_connection_budget_is_refused(small: Sim, http: aiohttp.ClientSession,
                                                                 category: str) -> None:
    """Args within the budget are accepted; the subscribe that would pass it is refused and adds nothing."""
    async with http.ws_connect(small.ws_url("bybit") + f"/v5/public/{category}") as ws:
        first = await subscribe(ws, ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"], "1")
        refused = await subscribe(ws, ["publicTrade.ETHUSDT"], "2")
        again = await subscribe(ws, ["publicTrade.BTCUSDT"], "3")  # already held: nothing new
    assert (first["success"], refused["success"], again["success"]) == (True, False, True)
    assert refused["req_id"] == "2" and "60 characters" in refused["ret_msg"]

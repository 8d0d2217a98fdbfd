"""Bybit sim: the args limit per subscribe request is spot's alone (docs/v5/ws/connect "Args limits")."""

from __future__ import annotations

import aiohttp
from sim_helpers import until

from lotusx.sim import Sim

# Twelve valid linear topics: every documented book depth, trades and tickers of the sim's two symbols.
LINEAR_TOPICS = [f"{kind}.{symbol}" for symbol in ("BTCUSDT", "ETHUSDT")
                 for kind in ("orderbook.1", "orderbook.50", "orderbook.200", "orderbook.1000", "publicTrade",
                              "tickers")]


async def test_a_linear_subscribe_takes_more_than_ten_args(sim: Sim, http: aiohttp.ClientSession) -> None:
    """"No args limit for Futures": twelve topics in one linear subscribe are accepted."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/linear") as ws:
        await ws.send_json({"op": "subscribe", "args": LINEAR_TOPICS, "req_id": "1"})
        ack = await until(ws, lambda m: m.get("op") == "subscribe")
    assert (ack["success"], ack["ret_msg"]) == (True, "")

"""Bybit sim, linear: the orderbook depths of the v5 docs (REST limit up to 1000; WS topics 1/50/200/1000)."""

from __future__ import annotations

import aiohttp
import pytest
from sim_helpers import Bybit, until

from lotusx.sim import Sim


@pytest.mark.parametrize(("limit", "code"), [(1000, 0), (1001, 10001)])
async def test_linear_orderbook_limit_is_1_to_1000(bybit: Bybit, limit: int, code: int) -> None:
    """GET /v5/market/orderbook takes linear limits up to 1000 (docs/v5/market/orderbook), no more."""
    answer = await bybit.public("/v5/market/orderbook", category="linear", symbol="BTCUSDT", limit=limit)
    assert answer["retCode"] == code


@pytest.mark.parametrize(("depth", "ok"), [(1000, True), (500, False)])
async def test_linear_book_topics_are_the_documented_depths(sim: Sim, http: aiohttp.ClientSession, depth: int,
                                                            ok: bool) -> None:
    """orderbook.1000 subscribes; orderbook.500, dropped from the docs' linear depths, is refused."""
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/public/linear") as ws:
        await ws.send_json({"op": "subscribe", "args": [f"orderbook.{depth}.BTCUSDT"], "req_id": "r1"})
        ack = await until(ws, lambda m: m.get("op") == "subscribe")
    assert ack["success"] is ok

"""Bybit's watch_trades against a scripted public stream on loopback: a trade that is no amount."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

import lotusx
from lotusx.exchanges.bybit.endpoints import SPOT
from tests.conftest import ServeApp

BTC = "BTCUSDT"


def trade(trade_id: str, price: str) -> dict[str, Any]:
    return {"T": 1672304486865, "s": BTC, "S": "Buy", "v": "0.001", "p": price, "i": trade_id, "BT": False}


class ScriptedTrades:
    """Acks every op; after the subscribe, sends one ``publicTrade`` push per trade in ``trades``."""

    def __init__(self, *trades: dict[str, Any]) -> None:
        self.trades = trades

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.get(SPOT.public_path, self.stream)])
        return app

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            op = orjson.loads(msg.data)
            if op.get("op") == "ping":
                continue
            await ws.send_str(orjson.dumps({"success": True, "ret_msg": "", "op": op["op"],
                                            "req_id": op["req_id"], "conn_id": "c"}).decode())
            if op["op"] == "subscribe":
                for row in self.trades:
                    await ws.send_str(orjson.dumps({"topic": f"publicTrade.{BTC}", "type": "snapshot", "ts": 1,
                                                    "data": [row]}).decode())
        return ws


async def test_a_trade_whose_price_is_no_number_is_skipped_counted(serve_app: ServeApp) -> None:
    """A publicTrade price "abc" is counted as malformed and the next trade comes; it ended the stream with
    decimal.InvalidOperation before."""
    server = await serve_app(ScriptedTrades(trade("bad", "abc"), trade("good", "16578.50")).app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit", rest_url=base, ws_url=base.replace("http", "ws")) as ex:
        trades = ex.watch_trades(BTC)
        try:
            got = await asyncio.wait_for(anext(trades), 10)
        finally:
            await trades.aclose()
        assert (got.trade_id, got.price) == ("good", Decimal("16578.50"))
        assert ex.metrics.ws_malformed.labels("bybit", "schema")._value.get() == 1

"""Bybit's watch_trades against a scripted public stream on loopback: a trade that is no amount."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import lotusx
from tests.conftest import ServeApp
from tests.exchanges.bybit.test_bybit_streams import BTC, ScriptedBook


def trade(trade_id: str, price: str) -> dict[str, Any]:
    return {"T": 1672304486865, "s": BTC, "S": "Buy", "v": "0.001", "p": price, "i": trade_id, "BT": False}


async def test_a_trade_whose_price_is_no_number_is_skipped_counted(serve_app: ServeApp) -> None:
    """A publicTrade price "abc" is counted as malformed and the next trade comes; it ended the stream with
    decimal.InvalidOperation before."""
    server = await serve_app(ScriptedBook([("snapshot", [trade("bad", "abc")], False),
                                           ("snapshot", [trade("good", "16578.50")], False)],
                                          topic=f"publicTrade.{BTC}").app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit", rest_url=base, ws_url=base.replace("http", "ws")) as ex:
        trades = ex.watch_trades(BTC)
        try:
            got = await asyncio.wait_for(anext(trades), 10)
        finally:
            await trades.aclose()
        assert (got.trade_id, got.price) == ("good", Decimal("16578.50"))
        assert ex.metrics.ws_malformed.labels("bybit", "schema")._value.get() == 1

"""A streamed Bybit contract fill whose fee coin cannot be asked yet is not lost, nor does it end the watch.

docs/v5/websocket/private/execution.mdx: a linear execution may leave ``feeCurrency`` empty (as
docs/v5/order/execution's ETHPERP example does), and its fee is in the contract's settle coin,
asked of instruments-info. Should that query fail, the fill comes from the execution list
instead, within the reconcile's retry budget, as a fill a reconnect hid would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from bybit_helpers import ETHPERP, acking_private, ethperp_execution, private_venue

import lotusx
from lotusx.models import Fill
from tests.conftest import ServeApp

EXEC_TIME = time.time_ns() // 1_000_000 - 1000
ROW: dict[str, Any] = {**ethperp_execution(EXEC_TIME), "category": "linear"}
"""docs/v5/order/execution's example row, its execTime a second ago (the stream adds its category)."""


def ok(result: Any) -> web.Response:
    return web.json_response({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {},
                              "time": time.time_ns() // 1_000_000})


class Venue:
    """Pushes ``ROW`` once subscribed; instruments-info fails ``failing`` times with a 503 before it answers."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.listed: list[str] = []

    def app(self) -> web.Application:
        app = private_venue(acking_private({"topic": "execution", "id": "1", "creationTime": EXEC_TIME,
                                            "data": [ROW]}))
        app.router.add_get("/v5/market/instruments-info", self.instruments)
        app.router.add_get("/v5/execution/list", self.executions)
        return app

    async def instruments(self, request: web.Request) -> web.Response:
        if self.failing:
            self.failing -= 1
            return web.Response(status=503, text="Service Unavailable")
        return ok({"category": "linear", "list": [ETHPERP], "nextPageCursor": ""})

    async def executions(self, request: web.Request) -> web.Response:
        self.listed.append(request.query_string)
        return ok({"category": "linear", "list": [ROW], "nextPageCursor": ""})


async def first_fill(serve_app: ServeApp, venue: Venue) -> Fill:
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(api_key="k", secret="s"),
                              rest_url=base, ws_url=base.replace("http", "ws")) as ex:
        fills: AsyncIterator[Fill] = aiter(ex.watch_fills())
        try:
            return await asyncio.wait_for(anext(fills), 10.0)
        finally:
            await fills.aclose()  # type: ignore[attr-defined]


async def test_a_fill_whose_fee_coin_query_fails_comes_from_the_execution_list(serve_app: ServeApp) -> None:
    """instruments-info 503 past Retry's attempts: the fill is listed from its own time, fee in USDC, no error."""
    venue = Venue(failing=3)
    fill = await first_fill(serve_app, venue)
    assert (fill.trade_id, fill.fee, fill.fee_asset) == (ROW["execId"], Decimal("0.071409"), "USDC")
    asked = [dict(parse_qsl(query)) for query in venue.listed]  # one list per settle coin, from the fill's time
    assert [(q["settleCoin"], q["startTime"]) for q in asked] == [("USDT", str(EXEC_TIME)), ("USDC", str(EXEC_TIME))]


async def test_a_fill_whose_fee_coin_is_answered_comes_from_the_stream(serve_app: ServeApp) -> None:
    """instruments-info answering at once: the pushed fill itself, nothing listed."""
    venue = Venue(failing=0)
    fill = await first_fill(serve_app, venue)
    assert (fill.trade_id, fill.fee_asset) == (ROW["execId"], "USDC")
    assert venue.listed == []

"""Bybit linear lists of every symbol cover USDT- and USDC-settled contracts alike: one walk per settle coin.

docs/v5/order/open-order.mdx: for linear "either symbol, baseCoin or settleCoin is required", and
"The records are sorted by the createdTime from newest to oldest"; docs/v5/order/order-list.mdx and
docs/v5/order/execution.mdx take ``settleCoin`` too. docs/v5/enum.mdx "category": linear is "USDT
perpetual, USDT Futures and USDC contract, including USDC perp, USDC futures"; "symbol": BTCPERP is a
USDC perpetual. Spot takes no settleCoin ("spot: not supported"): one walk, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from bybit_helpers import KEY, NOW_MS, ORDER, SECRET, Venue, acking_private, answer, private_venue

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport
from tests.conftest import ServeApp

LINEAR = {**ORDER, "category": "linear"}
USDT_ORDER = {**LINEAR, "orderId": "usdt-1", "symbol": "BTCUSDT", "createdTime": str(NOW_MS - 2000)}
USDC_ORDER = {**LINEAR, "orderId": "usdc-1", "symbol": "BTCPERP", "createdTime": str(NOW_MS - 1000)}
"""One resting order of each settle coin; the USDC one placed later."""


def by_settle_coin(rows: dict[str, list[dict[str, Any]]], asked: list[str]) -> Callable[[Request], Response]:
    """A list handler answering each settle coin's ``rows`` (none without one), recording the query strings."""
    def handle(request: Request) -> Response:
        asked.append(request.query_string)
        coin = dict(request.query).get("settleCoin", "")
        return answer({"category": "linear", "list": rows.get(coin, []), "nextPageCursor": ""})
    return handle


def connected(venue: str, **paths: Any) -> Any:
    clock = FakeClock(NOW_MS / 1000)
    return lotusx.connect(venue, credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                          transport=FakeTransport(Venue(clock, **paths)))


async def test_linear_open_orders_are_walked_per_settle_coin_newest_created_first() -> None:
    """get_open_orders() on linear asks settleCoin USDT then USDC, and lists both, the later-created first."""
    asked: list[str] = []
    async with connected("bybit-linear", order_realtime=by_settle_coin(
            {"USDT": [USDT_ORDER], "USDC": [USDC_ORDER]}, asked)) as ex:
        orders = await ex.get_open_orders()
    assert asked == ["category=linear&settleCoin=USDT&limit=50", "category=linear&settleCoin=USDC&limit=50"]
    assert [o.order_id for o in orders] == ["usdc-1", "usdt-1"]


async def test_spot_open_orders_are_one_walk_without_a_settle_coin() -> None:
    """get_open_orders() on spot asks once, with no settleCoin."""
    asked: list[str] = []
    async with connected("bybit", order_realtime=by_settle_coin({"": [ORDER]}, asked)) as ex:
        orders = await ex.get_open_orders()
    assert asked == ["category=spot&limit=50"]
    assert [o.order_id for o in orders] == ["42"]


async def test_one_symbols_open_orders_are_one_walk_by_symbol() -> None:
    """get_open_orders("BTCPERP") on linear asks that symbol alone."""
    asked: list[str] = []
    async with connected("bybit-linear", order_realtime=by_settle_coin({}, asked)) as ex:
        await ex.get_open_orders("BTCPERP")
    assert asked == ["category=linear&symbol=BTCPERP&limit=50"]


async def test_linear_order_history_is_walked_per_settle_coin_each_order_once() -> None:
    """get_order_history(since=) on linear asks each settle coin for the window and lists each order once."""
    asked: list[str] = []
    closed = {**USDC_ORDER, "orderStatus": "Filled"}
    async with connected("bybit-linear", order_history=by_settle_coin(
            {"USDT": [{**USDT_ORDER, "orderStatus": "Cancelled"}], "USDC": [closed, closed]}, asked)) as ex:
        orders = await ex.get_order_history(since=NOW_MS - 60_000, until=NOW_MS)
    window = f"startTime={NOW_MS - 60_000}&endTime={NOW_MS}&limit=50"
    assert asked == [f"category=linear&settleCoin=USDT&{window}", f"category=linear&settleCoin=USDC&{window}"]
    assert sorted(o.order_id for o in orders) == ["usdc-1", "usdt-1"]


# ----- the watches' reconcile, over a loopback private stream (since= asks it once subscribed)

EXEC_TIME = time.time_ns() // 1_000_000 - 1000
EXECUTION = {"category": "linear", "symbol": "BTCPERP", "orderType": "Limit", "orderLinkId": "", "side": "Buy",
             "orderId": "usdc-1", "leavesQty": "0", "execTime": str(EXEC_TIME), "feeCurrency": "USDC",
             "isMaker": True, "execFee": "0.01", "feeRate": "0.0002", "execId": "usdc-exec-1",
             "execPrice": "50000", "orderQty": "0.01", "execType": "Trade", "execQty": "0.01", "execValue": "500"}
"""A fill of the USDC perpetual, a second ago."""


class Account:
    """A loopback linear venue whose USDC contract holds the one order and fill; USDT's lists are empty."""

    def __init__(self) -> None:
        self.asked: dict[str, list[str]] = {}

    def app(self) -> web.Application:
        app = private_venue(acking_private())
        for path, rows in (("/v5/order/realtime", [{**USDC_ORDER, "createdTime": str(EXEC_TIME)}]),
                           ("/v5/order/history", []), ("/v5/execution/list", [EXECUTION])):
            app.router.add_get(path, self.lister(path, rows))
        return app

    def lister(self, path: str, rows: list[dict[str, Any]]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            self.asked.setdefault(path, []).append(request.query.get("settleCoin", ""))
            listed = rows if request.query.get("settleCoin") == "USDC" else []
            return web.json_response({"retCode": 0, "retMsg": "OK", "retExtInfo": {}, "time": time.time_ns() // 10**6,
                                      "result": {"category": "linear", "list": listed, "nextPageCursor": ""}})
        return handle


async def first(serve_app: ServeApp, account: Account, watch: str) -> Any:
    """The first update ``watch`` (watch_orders or watch_fills) yields with ``since`` two seconds ago."""
    server = await serve_app(account.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(api_key="k", secret="s"),
                              rest_url=base, ws_url=base.replace("http", "ws")) as ex:
        updates: AsyncIterator[Any] = aiter(getattr(ex, watch)(since=EXEC_TIME - 1000))
        try:
            return await asyncio.wait_for(anext(updates), 5.0)
        finally:
            await updates.aclose()  # type: ignore[attr-defined]


async def test_watch_fills_reconcile_lists_each_settle_coin(serve_app: ServeApp) -> None:
    """watch_fills(since=) on linear yields the USDC perpetual's fill, the execution list asked once per coin."""
    account = Account()
    fill = await first(serve_app, account, "watch_fills")
    assert (fill.trade_id, fill.symbol) == ("usdc-exec-1", "BTCPERP")
    assert account.asked["/v5/execution/list"] == ["USDT", "USDC"]


async def test_watch_orders_reconcile_lists_each_settle_coin(serve_app: ServeApp) -> None:
    """watch_orders(since=) on linear yields the USDC perpetual's open order, both lists asked once per coin."""
    account = Account()
    order = await first(serve_app, account, "watch_orders")
    assert (order.order_id, order.symbol) == ("usdc-1", "BTCPERP")
    assert account.asked["/v5/order/realtime"] == ["USDT", "USDC"]
    assert account.asked["/v5/order/history"] == ["USDT", "USDC"]

"""Helpers for the Bybit connector tests: recorded payloads and scripted venue answers.

They live here, not in conftest.py, so ``from bybit_helpers import ...`` finds them even when
another directory's conftest is also collected (every conftest module is named ``conftest``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

import lotusx
from lotusx.kernel.errors import Timeout
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> bytes:
    """A recorded official example (see payloads/README.md)."""
    return (PAYLOADS / name).read_bytes()


def answer(result: Any, *, ret_code: int = 0, ret_msg: str = "OK", time: int = 1_700_000_000_000,
           headers: dict[str, str] | None = None) -> Response:
    """A Bybit envelope as the venue would send it."""
    body = orjson.dumps({"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}, "time": time})
    return Response(status=200, body=body, headers=headers or {})


def routes(table: dict[str, Callable[[Request], Response]]) -> Callable[[Request], Response]:
    """A FakeTransport handler answering by path; server time is always there."""

    def handle(request: Request) -> Response:
        if request.path == "/v5/market/time":
            return Response(status=200, body=payload("server_time.json"))
        return table[request.path](request)

    return handle


Handler = Callable[[Request], Response]


class Venue:
    """A scripted venue: answers by path (``order_realtime`` for /v5/order/realtime), the server clock pinned."""

    def __init__(self, clock: FakeClock, **paths: Handler | list[Response]) -> None:
        self.clock = clock
        self.paths = paths

    def __call__(self, request: Request) -> Response:
        if request.path == "/v5/market/time":
            nano = int(self.clock.time() * 1000) * 1_000_000
            return answer({"timeSecond": str(nano // 10**9), "timeNano": str(nano)})
        route = self.paths[request.path.replace("/v5/", "").replace("/", "_").replace("-", "_")]
        return route.pop(0) if isinstance(route, list) else route(request)


def lost_then(code: int, msg: str) -> Handler:
    """A cancel handler: the first cancel is done but its answer is lost; the retry is answered ``code``."""
    sent: list[Request] = []

    def cancel(request: Request) -> Response:
        sent.append(request)
        if len(sent) == 1:
            raise Timeout("POST /v5/order/cancel: no answer")
        return answer({}, ret_code=code, ret_msg=msg)

    return cancel


KEY, SECRET = "test-key-0001", "test-secret-0001"
NOW_MS = 1_700_000_000_000
ORDER = {"orderId": "42", "orderLinkId": "cid-1", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
         "orderStatus": "New", "price": "50000", "qty": "0.01", "cumExecQty": "0", "timeInForce": "GTC",
         "updatedTime": "1700000000000", "category": "spot"}
"""One resting spot order as /v5/order/realtime lists it."""
LIMIT = lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.01"), price=Decimal(50000),
                        client_order_id="cid-1")
"""The placement that ``ORDER`` answers."""


def connect(**paths: Handler | list[Response]) -> tuple[Any, FakeTransport]:
    """A spot connector over a FakeTransport in front of a scripted venue (``Venue(clock, **paths)``)."""
    clock = FakeClock(NOW_MS / 1000)
    transport = FakeTransport(Venue(clock, **paths))
    return lotusx.connect("bybit", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                          transport=transport), transport


def ethperp_execution(exec_time: int) -> dict[str, Any]:
    """docs/v5/order/execution's example row, an ETHPERP (USDC contract) fill naming no fee coin, at ``exec_time``."""
    return {"symbol": "ETHPERP", "orderType": "Market", "orderLinkId": "", "side": "Buy",
            "orderId": "8c065341-7b52-4ca9-ac2c-37e31ac55c94", "leavesQty": "0", "execTime": str(exec_time),
            "feeCurrency": "", "isMaker": False, "execFee": "0.071409", "feeRate": "0.0006",
            "execId": "e0cbe81d-0f18-5866-9415-cf319b5dab3b", "execPrice": "1190.15", "orderQty": "0.1",
            "execType": "Trade", "execQty": "0.1", "execValue": "119.015"}


ETHPERP: dict[str, Any] = {
    "symbol": "ETHPERP", "baseCoin": "ETH", "quoteCoin": "USD", "settleCoin": "USDC", "status": "Trading",
    "priceFilter": {"tickSize": "0.05", "minPrice": "0.05", "maxPrice": "199999.9"},
    "lotSizeFilter": {"qtyStep": "0.01", "minOrderQty": "0.01", "maxOrderQty": "500"}}
"""ETHPERP's instruments-info entry: a USDC-settled linear contract."""


def private_venue(private: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    """A loopback Bybit with the server time (a login asks it first) and ``private`` as its private stream."""
    async def server_time(request: web.Request) -> web.Response:
        now = time.time_ns()
        return web.json_response({"retCode": 0, "retMsg": "OK", "time": now // 1_000_000,
                                  "result": {"timeSecond": str(now // 10**9), "timeNano": str(now)}})

    app = web.Application()
    app.router.add_get("/v5/market/time", server_time)
    app.router.add_get("/v5/private", private)
    return app


def acking_private(*pushes: dict[str, Any]) -> Callable[[web.Request], Awaitable[web.WebSocketResponse]]:
    """A private stream (for :func:`private_venue`) acking any login and (un)subscription, then sending ``pushes``."""
    async def private(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            op = orjson.loads(message.data)
            if op.get("op") in ("auth", "subscribe", "unsubscribe"):
                await ws.send_str(orjson.dumps({"op": op["op"], "success": True, "ret_msg": "", "conn_id": "c",
                                                "req_id": op.get("req_id")}).decode())
            if op.get("op") == "subscribe":
                for push in pushes:
                    await ws.send_str(orjson.dumps(push).decode())
        return ws

    return private

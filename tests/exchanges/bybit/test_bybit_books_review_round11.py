"""Review round 11: Bybit books and frames that are not JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

import lotusx
from lotusx.exchanges.bybit.endpoints import SPOT
from tests.conftest import ServeApp
from tests.exchanges.bybit.test_bybit_streams import BTC, first

TOPIC = f"orderbook.50.{BTC}"


class CutBook:
    """A public Bybit stream on loopback: acks every op and answers the n-th subscribe with ``scripts[n]``.

    A script is a list of ``(kind, data, cut)``: ``cut`` sends the push one byte short (not JSON).
    """

    def __init__(self, *scripts: list[tuple[str, dict[str, Any], bool]]) -> None:
        self.scripts = list(scripts)
        self.subscribes = 0

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
                self.subscribes += 1
                for kind, data, cut in self.scripts[min(self.subscribes, len(self.scripts)) - 1]:
                    text = orjson.dumps({"topic": TOPIC, "type": kind, "ts": 1, "data": data}).decode()
                    await ws.send_str(text[:-1] if cut else text)
        return ws


def level(price: str, u: int) -> dict[str, Any]:
    return {"s": BTC, "b": [[price, "1"]], "a": [], "u": u}


async def test_a_book_snapshot_that_is_not_json_is_asked_again(serve_app: ServeApp) -> None:
    """A snapshot cut short (not JSON) resubscribes its topic instead of leaving the book waiting forever."""
    venue = CutBook([("snapshot", level("100", 5), True), ("delta", level("101", 6), False)],
                    [("snapshot", level("100", 9), False)])
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit", rest_url=base, ws_url=base.replace("http", "ws")) as ex:
        books = aiter(ex.watch_order_book(BTC))
        book = await first(books, lambda b: True, limit=3.0)
        assert (book.sequence, book.bids, venue.subscribes) == (9, [(Decimal(100), Decimal(1))], 2)
        assert ex.metrics.ws_malformed.labels("bybit", "json")._value.get() == 1
        await books.aclose()


async def test_a_book_delta_that_is_not_json_resyncs_a_quiet_book(serve_app: ServeApp) -> None:
    """A delta cut short (not JSON) resyncs the book at once, not only when a later delta shows the hole."""
    venue = CutBook([("snapshot", level("100", 5), False), ("delta", level("101", 6), True)],
                    [("snapshot", level("101", 9), False)])
    server = await serve_app(venue.app())
    base = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect("bybit", rest_url=base, ws_url=base.replace("http", "ws")) as ex:
        books = aiter(ex.watch_order_book(BTC))
        assert (await first(books, lambda b: True, limit=3.0)).sequence == 5
        book = await first(books, lambda b: True, limit=3.0)
        assert (book.sequence, book.bids, venue.subscribes) == (9, [(Decimal(101), Decimal(1))], 2)
        await books.aclose()

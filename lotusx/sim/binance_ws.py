"""Binance spot WebSocket streams (binance/binance-spot-api-docs web-socket-streams.md, user-data-stream.md).

``/ws/<stream>`` sends raw payloads, ``/stream?streams=a/b`` wraps each in ``{"stream", "data"}``;
both accept SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS. A listen key used as a stream name
delivers that account's ``executionReport`` and ``outboundAccountPosition`` events.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from lotusx.sim.binance_rest import BinanceRest
from lotusx.sim.binance_wire import f8
from lotusx.sim.common import Connection, open_ws
from lotusx.sim.engine import PREVENTED, Book, DepthChange, Fill, Order
from lotusx.sim.venue import Event, Venue

STREAM = re.compile(r"^([a-z0-9]+)@(depth(?:5|10|20)?(?:@100ms|@1000ms)?|trade|bookTicker)$")
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS")


class BinanceWs:
    """The stream endpoints of the Binance dialect."""

    def __init__(self, venue: Venue, rest: BinanceRest) -> None:
        self.venue = venue
        self.rest = rest

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        return [web.get("/ws", self.handle), web.get("/ws/{streams:.+}", self.handle), web.get("/stream", self.handle)]

    def valid(self, name: str) -> bool:
        """A known market stream of a listed symbol, or a live listen key."""
        match = STREAM.match(name)
        if match:
            return match.group(1).upper() in self.venue.engines["spot"].books
        return name in self.rest.listen_keys

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One stream connection."""
        combined = request.path == "/stream"
        names = (request.query.get("streams", "") if combined else request.match_info.get("streams", "")).split("/")
        subs = [n for n in names if n and self.valid(n)]
        ws = await open_ws(request, self.venue)
        conn = Connection(self.venue, ws, lambda event: list(self.render(event, subs, combined)),
                          max_rate=self.venue.config.ws_messages_per_second)
        unsubscribe = self.venue.hub.subscribe(conn.push)
        async with conn:
            conn.start(conn.server_pings)
            async for text in conn.messages():
                conn.enqueue(self.command(text, subs))
        unsubscribe()
        return ws

    def command(self, text: str, subs: list[str]) -> dict[str, Any]:
        """Answer one SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS request."""
        try:
            req = orjson.loads(text)
            method, params, req_id = req["method"], req.get("params", []), req.get("id")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return {"error": {"code": 3, "msg": "Invalid JSON: expected a request object"}, "id": None}
        if method not in METHODS or not isinstance(params, list):
            return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": req_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(subs), "id": req_id}
        bad = [p for p in params if not isinstance(p, str) or not self.valid(p)]
        if bad:
            return {"error": {"code": 2, "msg": f"Invalid request: invalid stream {bad[0]!r}"}, "id": req_id}
        for name in params:
            if method == "SUBSCRIBE" and name not in subs:
                subs.append(name)
            elif method == "UNSUBSCRIBE" and name in subs:
                subs.remove(name)
        return {"result": None, "id": req_id}

    def render(self, event: Event, subs: list[str], combined: bool) -> Iterator[Any]:
        """The messages ``event`` produces for a connection subscribed to ``subs``."""
        if event.category != "spot":
            return
        for name in list(subs):
            for payload in self._payloads(event, name):
                yield {"stream": name, "data": payload} if combined else payload

    def _payloads(self, event: Event, name: str) -> Iterator[Any]:
        match = STREAM.match(name)
        if match is None:
            if event.kind == "order" and self.rest.listen_keys.get(name) == event.account:
                yield from user_events(self.venue, *event.data)
            return
        symbol, kind = match.group(1).upper(), match.group(2)
        if symbol != event.symbol:
            return
        book = self.venue.engines["spot"].books[symbol]
        if event.kind == "trade" and kind == "trade":
            yield trade_event(event.data, self.venue.now_ms())
        elif event.kind == "depth" and kind in ("depth", "depth@100ms", "depth@1000ms"):
            yield depth_event(symbol, event.data, self.venue.now_ms())
        elif event.kind == "depth" and kind.startswith("depth"):
            levels = int(kind[5:].split("@")[0])
            yield {"lastUpdateId": book.update_id, "bids": pairs(book.levels("BUY", levels)),
                   "asks": pairs(book.levels("SELL", levels))}
        elif event.kind == "depth" and kind == "bookTicker":
            yield book_ticker(book)

def user_events(venue: Venue, reason: str, order: Order, fills: list[Fill]) -> Iterator[Any]:
    """The ``executionReport`` events of one order notice, then the account position they leave."""
    now = venue.now_ms()
    if reason == "place":
        yield execution_report(order, "NEW", "NEW", Decimal(0), Decimal(0), None, now)
    elif reason == "amend":
        # keepPriority's report: execution type REPLACED (faqs/order_amend_keep_priority.md), "c" the new client id.
        yield execution_report(order, "REPLACED", order.status, order.filled, order.quote_filled, None, now)
    cum, quote = order.filled - sum(f.qty for f in fills), order.quote_filled - sum(f.qty * f.price for f in fills)
    # The order's side of each fill as the engine charged it: "n" and "N" tell its commission (user-data-stream.md
    # "Order Update"), the same the account trade list reports (rest-api.md "Account trade list").
    charged = {id(e.fill): e for e in venue.engines["spot"].executions(order.account, order.symbol)
               if e.order is order and e.fill in fills}
    for fill in fills:
        cum, quote = cum + fill.qty, quote + fill.qty * fill.price
        status = "FILLED" if cum == order.quantity else "PARTIALLY_FILLED"
        execution = charged.get(id(fill))
        report = execution_report(order, "TRADE", status, cum, quote, fill, now)
        if execution is not None and execution.fee:
            report |= {"n": f8(execution.fee), "N": execution.fee_asset}
        yield report
    if reason == "cancel":
        # A cancel's report carries the cancel's own client id in "c" and the order's in "C" (user-data-stream.md).
        yield execution_report(order, "CANCELED", order.status, order.filled, order.quote_filled, None, now) | {
            "c": order.cancel_client_id or order.client_id, "C": order.client_id}
    elif order.status in ("EXPIRED", PREVENTED):
        # Self-trade prevention's is execution type TRADE_PREVENTION, status EXPIRED_IN_MATCH (enums.md).
        kind = "EXPIRED" if order.status == "EXPIRED" else "TRADE_PREVENTION"
        yield execution_report(order, kind, order.status, order.filled, order.quote_filled, None, now)
    balances = venue.engines["spot"].accounts[order.account]
    yield {"e": "outboundAccountPosition", "E": now, "u": now, "B": [
        {"a": a, "f": f8(balances[a].free), "l": f8(balances[a].locked)}
        for a in (order.market.base, order.market.quote)]}


def pairs(levels: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    """Levels as Binance string pairs."""
    return [[f8(p), f8(q)] for p, q in levels]


def depth_event(symbol: str, change: DepthChange, now: int) -> dict[str, Any]:
    """A ``depthUpdate``: ``U``/``u`` are the first and last update ids it covers."""
    return {"e": "depthUpdate", "E": now, "s": symbol, "U": change.first_id, "u": change.last_id,
            "b": pairs(list(change.bids.items())), "a": pairs(list(change.asks.items()))}


def trade_event(fill: Fill, now: int) -> dict[str, Any]:
    """A ``trade`` event; ``m`` is true when the buyer was the maker."""
    return {"e": "trade", "E": now, "s": fill.symbol, "t": fill.trade_id, "p": f8(fill.price), "q": f8(fill.qty),
            "T": fill.time_ms, "m": fill.maker.side == "BUY", "M": True}


def book_ticker(book: Book) -> dict[str, Any]:
    """A ``bookTicker`` event of the current best levels."""
    (bid, bid_qty), = book.levels("BUY", 1) or [(Decimal(0), Decimal(0))]
    (ask, ask_qty), = book.levels("SELL", 1) or [(Decimal(0), Decimal(0))]
    return {"u": book.update_id, "s": book.market.symbol, "b": f8(bid), "B": f8(bid_qty), "a": f8(ask),
            "A": f8(ask_qty)}


def execution_report(order: Order, exec_type: str, status: str, cum: Decimal, cum_quote: Decimal,
                     fill: Fill | None, now: int) -> dict[str, Any]:
    """An ``executionReport`` of one order event."""
    return {"e": "executionReport", "E": now, "s": order.symbol, "c": order.client_id, "S": order.side,
            "o": order.type, "f": order.tif, "q": f8(order.quantity), "p": f8(order.price or Decimal(0)),
            "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "", "x": exec_type, "X": status, "r": "NONE",
            "i": order.order_id, "l": f8(fill.qty if fill else Decimal(0)),
            "z": f8(cum), "L": f8(fill.price if fill else Decimal(0)), "n": "0", "N": None,
            "T": fill.time_ms if fill else now, "t": fill.trade_id if fill else -1,
            "w": status in ("NEW", "PARTIALLY_FILLED") and order.type != "MARKET",
            "m": fill is not None and fill.maker is order, "M": False, "O": order.time_ms, "Z": f8(cum_quote),
            "Y": f8(fill.qty * fill.price if fill else Decimal(0)), "Q": f8(order.quote_qty or Decimal(0)),
            "W": order.time_ms, "V": order.stp or "NONE"}

"""Bybit v5 WebSocket (bybit-exchange.github.io/docs/v5/ws/connect and ws/public/*, ws/private/*).

``/v5/public/{spot,linear}``: ``{"op":"subscribe","args":[...],"req_id":...}`` is acked with
``success``/``ret_msg``/``conn_id``/``req_id``/``op``; ``orderbook.{depth}.{symbol}`` starts with a
snapshot then sends deltas (``u`` counts messages, ``seq`` is the cross sequence, quantity "0"
deletes a level), ``publicTrade.{symbol}``, ``tickers.{symbol}``. ``{"op":"ping"}`` is answered;
a connection that sends nothing for ``idle_timeout`` is closed. ``/v5/private`` needs
``{"op":"auth","args":[apiKey, expires, hex HMAC-SHA256(secret, "GET/realtime" + expires)]}``.

Simplification: deltas carry every changed level, also those deeper than the topic's depth,
so a client book may hold more levels than the depth (all of them correct).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from lotusx.sim.bybit_dcp import TOPICS as DCP_TOPICS
from lotusx.sim.bybit_rest import execution_json, sign_valid
from lotusx.sim.bybit_wire import Reject, order_json, position_json, ticker
from lotusx.sim.common import Connection, open_ws, plain
from lotusx.sim.engine import Book, Fill, Order
from lotusx.sim.venue import Event, Venue

# docs/v5/websocket/public/orderbook "Depths": 1, 50, 200 and 1000 for linear and spot (linear's 500 is gone).
BOOK = re.compile(r"^orderbook\.(1|50|200|1000)\.([A-Z0-9]+)$")
TRADE = re.compile(r"^(publicTrade|tickers)\.([A-Z0-9]+)$")
PRIVATE = ("order", "order.spot", "order.linear", "execution", "wallet", "position", "position.linear", *DCP_TOPICS)


def authenticate(venue: Venue, args: Any) -> str:
    """The account of auth ``args`` ``[apiKey, expires, hex HMAC-SHA256(secret, "GET/realtime" + expires)]``.

    Malformed or expired (``expires`` not after now): 10001 "Params Error"; an unknown key or a wrong
    signature: 10004 "Request not authorized" (the codes of docs/v5/websocket/trade/guideline.mdx
    "Authentication"; /v5/private answers only the message).
    """
    try:
        api_key, expires, signature = str(args[0]), int(args[1]), str(args[2])
    except (IndexError, KeyError, TypeError, ValueError):
        raise Reject(10001, "Params Error") from None
    if expires <= venue.now_ms():
        raise Reject(10001, "Params Error")
    key = venue.keys.get(api_key)
    if key is None or key.secret is None or not sign_valid(key.secret, f"GET/realtime{expires}", signature):
        raise Reject(10004, "Request not authorized")
    return key.account


class BybitWs:
    """The WebSocket endpoints of the Bybit dialect."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        return [web.get("/v5/public/spot", self.handle), web.get("/v5/public/linear", self.handle),
                web.get("/v5/private", self.handle)]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One connection (public or private)."""
        session = Session(self.venue, request.path.rsplit("/", 1)[-1], str(uuid.uuid4()))
        ws = await open_ws(request, self.venue)
        conn = Connection(self.venue, ws, session.render)
        unsubscribe = self.venue.hub.subscribe(conn.push)
        try:
            async with conn:
                conn.start(conn.idle_watch)
                async for text in conn.messages():
                    for reply in session.command(text):
                        conn.enqueue(reply)
        finally:
            session.let_go(dropped=True)  # its dcp topics: the account's DCP window may start
        unsubscribe()
        return ws


class Session:
    """Subscriptions and auth state of one connection; ``category`` is spot, linear or private."""

    def __init__(self, venue: Venue, category: str, conn_id: str) -> None:
        self.venue = venue
        self.category = category
        self.conn_id = conn_id
        self.topics: list[str] = []
        self.account: str | None = None

    def ack(self, op: str, req_id: Any, ok: bool, msg: str = "") -> dict[str, Any]:
        """The op acknowledgement."""
        return {"success": ok, "ret_msg": msg, "conn_id": self.conn_id, "req_id": req_id, "op": op}

    def command(self, text: str) -> list[Any]:
        """The replies to one client message."""
        try:
            req = orjson.loads(text)
            op, args, req_id = req["op"], req.get("args", []), req.get("req_id", "")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [self.ack("", "", False, "error:request not json or op missing")]
        if op == "ping":
            if self.venue.chaos.mute_pings:
                return []
            if self.category == "private":
                return [{"req_id": req_id, "op": "pong", "args": [str(self.venue.now_ms())], "conn_id": self.conn_id}]
            return [self.ack("ping", req_id, True, "pong")]
        if op == "auth" and self.category == "private":
            return [self.auth(args, req_id)]
        if op in ("subscribe", "unsubscribe") and isinstance(args, list):
            return self.subscribe(op, args, req_id)
        return [self.ack(str(op), req_id, False, f"error:handler not found,op:{op}")]

    def auth(self, args: Any, req_id: Any) -> dict[str, Any]:
        """Check ``[apiKey, expires, signature]``."""
        try:
            self.account = authenticate(self.venue, args)
        except Reject as exc:
            return self.ack("auth", req_id, False, exc.ret_msg)
        return self.ack("auth", req_id, True)

    def subscribe(self, op: str, args: list[Any], req_id: Any) -> list[Any]:
        """(Un)subscribe ``args``; a new orderbook topic gets its snapshot right after the ack."""
        # "Spot can input up to 10 args for each subscription request"; "No args limit for Futures".
        if self.category == "spot" and len(args) > self.venue.config.max_args:
            return [self.ack(op, req_id, False, f"args size >{self.venue.config.max_args}")]
        if self.category == "private" and self.account is None:
            return [self.ack(op, req_id, False, "Request not authorized")]
        bad = [a for a in args if not self.valid(a)]
        if bad:
            return [self.ack(op, req_id, False, f"error:handler not found,topic:{bad[0]}")]
        if op == "unsubscribe":
            self.let_go(dropped=False, topics=args)
            self.topics = [t for t in self.topics if t not in args]
            return [self.ack(op, req_id, True)]
        new = [a for a in args if a not in self.topics]
        # docs/v5/ws/connect: "for one public connection, you cannot have length of "args" array over
        # 21,000 characters". The venue's answer is not documented: a refusal saying so, nothing added.
        limit = self.venue.config.max_args_chars
        if self.category != "private" and len(orjson.dumps(self.topics + new)) > limit:
            return [self.ack(op, req_id, False, f"error:args length over {limit} characters for one connection")]
        self.topics += new
        for topic in new:
            if topic in DCP_TOPICS and self.account is not None:
                self.venue.dcp.hold(self.account, DCP_TOPICS[topic])
        return [self.ack(op, req_id, True)] + [self.book_message(t, "snapshot") for t in new if BOOK.match(t)]

    def let_go(self, *, dropped: bool, topics: list[Any] | None = None) -> None:
        """Release the dcp topics held among ``topics`` (all when None); ``dropped``: the connection is gone."""
        for topic in self.topics if topics is None else [t for t in self.topics if t in topics]:
            if topic in DCP_TOPICS and self.account is not None:
                self.venue.dcp.release(self.account, DCP_TOPICS[topic], dropped=dropped)

    def valid(self, topic: Any) -> bool:
        """A topic this connection may subscribe to."""
        if self.category == "private":
            return topic in PRIVATE
        match = BOOK.match(str(topic)) or TRADE.match(str(topic))
        return match is not None and match.group(2) in self.venue.engines[self.category].books

    def book(self, symbol: str) -> Book:
        """A book of this connection's category."""
        return self.venue.engines[self.category].books[symbol]

    def book_message(self, topic: str, kind: str, change: Any = None) -> dict[str, Any]:
        """An orderbook snapshot (top ``depth`` levels) or delta message."""
        match = BOOK.match(topic)
        assert match is not None
        depth, book = int(match.group(1)), self.book(match.group(2))
        now = self.venue.now_ms()
        if kind == "snapshot":
            data = {"s": book.market.symbol, "b": [[plain(p), plain(q)] for p, q in book.levels("BUY", depth)],
                    "a": [[plain(p), plain(q)] for p, q in book.levels("SELL", depth)], "u": book.flushes,
                    "seq": book.update_id}
        else:
            data = {"s": book.market.symbol, "b": [[plain(p), plain(q)] for p, q in change.bids.items()],
                    "a": [[plain(p), plain(q)] for p, q in change.asks.items()], "u": change.number,
                    "seq": change.last_id}
        return {"topic": topic, "type": kind, "ts": now, "data": data, "cts": now}

    def render(self, event: Event) -> list[Any]:
        """The messages ``event`` produces for this connection."""
        if self.category == "private":
            return list(self._private(event)) if event.account == self.account and self.account else []
        if event.category != self.category:
            return []
        out: list[Any] = []
        for topic in self.topics:
            match = BOOK.match(topic) or TRADE.match(topic)
            if match is None or match.group(2) != event.symbol:
                continue
            if event.kind == "depth" and topic.startswith("orderbook"):
                out.append(self.book_message(topic, "delta", event.data))
            elif event.kind == "trade" and topic.startswith("publicTrade"):
                out.append(self._trade(topic, event.data))
            elif event.kind == "trade" and topic.startswith("tickers"):
                engine = self.venue.engines[self.category]
                out.append({"topic": topic, "type": "snapshot", "ts": self.venue.now_ms(),
                            "cs": engine.books[event.symbol].update_id, "data": ticker(engine, event.symbol)})
        return out

    def _trade(self, topic: str, fill: Fill) -> dict[str, Any]:
        return {"topic": topic, "type": "snapshot", "ts": self.venue.now_ms(), "data": [
            {"T": fill.time_ms, "s": fill.symbol, "S": "Buy" if fill.taker.side == "BUY" else "Sell",
             "v": plain(fill.qty), "p": plain(fill.price), "i": str(fill.trade_id), "BT": False}]}

    def _private(self, event: Event) -> Iterator[Any]:
        if event.kind != "order":
            return
        _, order, fills = event.data
        order_: Order = order
        now = self.venue.now_ms()
        for topic in self.topics:
            if topic in ("order", f"order.{event.category}"):
                yield {"id": str(uuid.uuid4()), "topic": topic, "creationTime": now,
                       "data": [order_json(order_, event.category)]}
            elif topic == "execution" and fills:
                # The order's side of each fill as the engine charged it, as GET /v5/execution/list gives it (one
                # execId, fee and fee coin for both): docs/v5/websocket/private/execution.mdx lists the same
                # fields plus ``category``; its linear example names the fee coin ("USDT"), where the REST one
                # leaves it empty.
                executions = [e for e in self.venue.engines[event.category].executions(order_.account, order_.symbol)
                              if e.order is order_ and e.fill in fills]
                yield {"id": str(uuid.uuid4()), "topic": topic, "creationTime": now, "data": [
                    execution_json(e, event.category) | {"category": event.category, "feeCurrency": e.fee_asset}
                    for e in executions]}
            elif topic in ("position", "position.linear") and event.category == "linear":
                # "Every time when you create/amend/cancel an order, the position topic will generate a
                # new message (regardless if there's any actual change)" (docs/v5/websocket/private/position.mdx)
                engine = self.venue.engines["linear"]
                position = self.venue.positions.of(order_.account, order_.symbol, now)
                yield {"id": str(uuid.uuid4()), "topic": topic, "creationTime": now,
                       "data": [position_json(position, engine, stream=True)]}
            elif topic == "wallet":
                balances = self.venue.accounts.get(order_.account, {})  # the one ledger of every category
                yield {"id": str(uuid.uuid4()), "topic": topic, "creationTime": now, "data": [
                    {"accountType": "UNIFIED", "coin": [
                        {"coin": c, "walletBalance": plain(b.free + b.locked), "locked": plain(b.locked),
                         "free": plain(b.free)} for c, b in sorted(balances.items())]}]}

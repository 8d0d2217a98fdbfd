"""Bybit WebSocket Trade API, ``/v5/trade`` (docs/v5/websocket/trade/guideline.mdx; error codes docs/v5/error.mdx
"WS OE General code").

A connection authenticates with ``{"reqId"?, "op": "auth", "args": [apiKey, expires, signature]}`` (the
signature of /v5/private), then sends ``{"reqId", "header": {"X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"?},
"op", "args": [body]}`` where ``body`` is the JSON body of the REST route the op names. The answer is
``{"reqId", "retCode", "retMsg", "op", "data", "retExtInfo", "header", "connId"}``: ``data`` is REST's
``result``, and ``retCode``, ``retMsg``, ``retExtInfo`` and the header's X-Bapi-Limit* counts are REST's too,
from the REST route's own logic (:meth:`BybitRest.perform`), on the account limits REST counts on.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web

from lotusx.sim.bybit_rest import AMEND_BATCH_PATH, BATCH_PATH, CANCEL_BATCH_PATH, BybitRest, recv_window
from lotusx.sim.bybit_wire import Reject
from lotusx.sim.bybit_ws import authenticate
from lotusx.sim.common import Connection, loses_answer, open_ws
from lotusx.sim.venue import Venue

OPS = {"order.create": "/v5/order/create", "order.amend": "/v5/order/amend", "order.cancel": "/v5/order/cancel",
       "order.create-batch": BATCH_PATH, "order.amend-batch": AMEND_BATCH_PATH,
       "order.cancel-batch": CANCEL_BATCH_PATH}
"""Each op and the REST route whose body it takes and whose behaviour it has."""
REQ_ID_MAX = 36
"""The guideline: a reqId's "length cannot exceed 36 characters"."""


class BybitTrade:
    """The ``/v5/trade`` endpoint."""

    def __init__(self, venue: Venue, rest: BybitRest) -> None:
        self.venue = venue
        self.rest = rest

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        return [web.get("/v5/trade", self.handle)]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One connection; it carries no events, only answers."""
        session = TradeSession(self.venue, self.rest, str(uuid.uuid4()))
        ws = await open_ws(request, self.venue)
        conn = Connection(self.venue, ws, lambda event: [])
        async with conn:
            conn.start(conn.idle_watch)
            async for text in conn.messages():
                reply = await session.command(text)
                if reply is None:
                    # Carried out, then the connection is gone: what was answered before still arrives.
                    await conn.close_after_queued(1011, b"chaos: answer lost")
                    break
                if reply:
                    conn.enqueue(reply)
        return ws


class TradeSession:
    """The auth state and the reqIds seen of one ``/v5/trade`` connection."""

    def __init__(self, venue: Venue, rest: BybitRest, conn_id: str) -> None:
        self.venue = venue
        self.rest = rest
        self.conn_id = conn_id
        self.account: str | None = None
        self.req_ids: set[str] = set()

    async def command(self, text: str) -> dict[str, Any] | None:
        """The answer to one message: {} when there is none (a muted ping), None when chaos loses it."""
        try:
            req = orjson.loads(text)
            op = req["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return self.answer({}, "", Reject(10001, "params error: request not json or op missing"))
        if op == "ping":
            # The guideline's "Ping": op pong, the server time as data's one item.
            return {} if self.venue.chaos.mute_pings else self.answer(
                req, "pong", data=[str(self.venue.now_ms())])
        if op == "auth":
            return self.answer(req, "auth", self.auth(req.get("args")))
        path = OPS.get(op)
        if path is None:
            return self.answer(req, str(op), Reject(10404, f"op type is not found: {op}"))
        try:
            account, body = self.admit(req)
        except Reject as exc:
            return self.answer(req, op, exc)
        out = await self.rest.perform(path, self.rest.trading[path], account, body)
        if loses_answer(self.venue):
            return None
        return self.answer(req, op, data=out.result, ext=out.ext, limits=out.limits,
                           refusal=Reject(out.ret_code, out.ret_msg) if out.ret_code else None)

    def auth(self, args: Any) -> Reject | None:
        """Authenticate the connection with ``args``; the refusal, if any."""
        if self.account is not None:
            return Reject(20001, "Repeat auth")
        try:
            self.account = authenticate(self.venue, args)
        except Reject as exc:
            return exc
        return None

    def admit(self, req: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The account and REST body of an order op the gateway passes on, or its refusal."""
        if self.account is None:
            # The docs give no code for an order op before auth: /v5/private's message, REST's code
            # for a request it cannot attribute to a key (10003).
            raise Reject(10003, "Request not authorized")
        req_id = req.get("reqId")
        if req_id is not None:
            if not isinstance(req_id, str) or len(req_id) > REQ_ID_MAX:
                raise Reject(10001, f"params error: reqId must be a string of at most {REQ_ID_MAX} characters")
            if req_id in self.req_ids:
                raise Reject(20006, "reqId is duplicated")
            self.req_ids.add(req_id)
        args, header = req.get("args"), req.get("header")
        # "Args array, support one item only for now".
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            raise Reject(10001, "params error: args must hold one object")
        recv_window(header if isinstance(header, dict) else {}, self.venue.now_ms())
        category = args[0].get("category")
        if category not in self.venue.engines:
            raise Reject(10404, f"category is not correct/supported: {category}")
        return self.account, args[0]

    def answer(self, req: Any, op: str, refusal: Reject | None = None, *, data: Any = None, ext: Any = None,
               limits: dict[str, str] | None = None) -> dict[str, Any]:
        """The answer to ``req``: its reqId when it had one (the guideline: "If it is not passed, then it is
        not returned"), the code, and for order ops data, retExtInfo and header."""
        reply: dict[str, Any] = {"reqId": req["reqId"]} if isinstance(req, dict) and "reqId" in req else {}
        reply |= {"retCode": refusal.ret_code if refusal else 0, "retMsg": refusal.ret_msg if refusal else "OK",
                  "op": op}
        if op == "pong":
            reply["data"] = data
        elif op in OPS:
            now = str(self.venue.now_ms())
            reply |= {"data": {} if data is None else data, "retExtInfo": {} if ext is None else ext,
                      "header": {**(limits or {}), "Traceid": uuid.uuid4().hex, "Timenow": now}}
        return reply | {"connId": self.conn_id}

"""Binance WebSocket API (binance-spot-api-docs web-socket-api.md: "Request format", "Response format",
"Rate limits", "SIGNED request security", "Trading requests", "Account requests",
"userDataStream.subscribe.signature"; user-data-stream.md).

On ``/ws-api/v3`` a client sends ``{"id", "method", "params"}``; SIGNED params are signed over
``key=value`` pairs sorted by key and joined with ``&``. Answers are ``{"id", "status", "result" |
"error", "rateLimits"}`` and each subscribed account event arrives as ``{"subscriptionId", "event"}``.
The trading and order-query methods run the REST routes' own logic (:meth:`BinanceRest.perform`):
same results, errors, weights and ORDERS counters, shared with REST.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from lotusx.kernel.errors import AuthenticationError, InvalidRequest, InvalidSignature, LotusXError
from lotusx.sim.binance_guard import Signed, Throttle, check_timestamp, mandatory, signature_ok, weight_of
from lotusx.sim.binance_rest import BinanceRest, Outcome, Route
from lotusx.sim.binance_wire import error_body
from lotusx.sim.binance_ws import user_events
from lotusx.sim.common import Connection, loses_answer, open_ws
from lotusx.sim.venue import Event, Venue

CONNECT_WEIGHT = 2  # web-socket-api.md "IP limits": "Connecting to WebSocket API costs 2 weight"
WEIGHTS = {"ping": 1, "time": 1, "userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2}
TRADING: dict[str, Route] = {
    "order.place": ("POST", "/api/v3/order"),
    "order.cancel": ("DELETE", "/api/v3/order"),
    "order.cancelReplace": ("POST", "/api/v3/order/cancelReplace"),
    "order.amend.keepPriority": ("PUT", "/api/v3/order/amend/keepPriority"),
    "openOrders.cancelAll": ("DELETE", "/api/v3/openOrders"),
    "order.status": ("GET", "/api/v3/order"),
    "openOrders.status": ("GET", "/api/v3/openOrders"),
}
"""The SIGNED methods served by the REST route of the same behaviour: its core, its weight (web-socket-api.md gives
each method the weight rest-api.md gives the route) and its ORDERS count."""
LOSABLE = frozenset({"order.place", "order.cancel", "order.cancelReplace"})
"""The methods whose answer ``Chaos.lose_answer_rate`` loses: placements and cancels."""


class BinanceWsApi:
    """The ``/ws-api/v3`` endpoint: ping, time, the user data subscription and the trading calls of :data:`TRADING`."""

    def __init__(self, venue: Venue, throttle: Throttle, rest: BinanceRest) -> None:
        self.venue = venue
        self.throttle = throttle
        self.rest = rest
        self._ids = itertools.count()

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        return [web.get("/ws-api/v3", self.handle)]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One WS API connection."""
        subscriptions: dict[int, str] = {}
        self.throttle.admit(request.remote or "?", CONNECT_WEIGHT)  # counted: its first answer's rateLimits show it
        ws = await open_ws(request, self.venue)
        conn = Connection(self.venue, ws, lambda event: list(self.render(event, subscriptions)))
        unsubscribe = self.venue.hub.subscribe(conn.push)
        async with conn:
            conn.start(conn.server_pings)
            async for text in conn.messages():
                reply = self.call(text, subscriptions, request.remote or "?")
                if reply is None:
                    # Carried out, then the connection is gone: what was answered before still arrives.
                    await conn.close_after_queued(1011, b"chaos: answer lost")
                    break
                conn.enqueue(reply)
        unsubscribe()
        return ws

    def call(self, text: str, subscriptions: dict[int, str], ip: str) -> dict[str, Any] | None:
        """Answer one request; None when it was carried out but chaos loses its answer."""
        try:
            req = orjson.loads(text)
            req_id, method, raw = req.get("id"), req["method"], req.get("params", {})
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": mandatory("method")}}
        # As a query string carries them: the cores, the signature and the weight see the same text.
        params = {str(k): _text(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        route = TRADING.get(method)
        used, refusal = self.throttle.admit(ip, weight_of(*route, params) if route else WEIGHTS.get(method, 1))
        if refusal is not None:
            # web-socket-api.md "IP limits": the refusal's data says when to retry (its 418 example's shape).
            out = Outcome(refusal.status, {"code": -1003, "msg": refusal.msg, "data": {
                "serverTime": self.venue.now_ms(), "retryAfter": refusal.until_ms}}, None)
        elif route is not None:
            out = self._trade(route, params)
        else:
            try:
                out = Outcome(200, self._dispatch(method, params, subscriptions), None)
            except LotusXError as exc:
                out = Outcome(*error_body(exc), None)
        if method in LOSABLE and loses_answer(self.venue):
            return None
        key = "result" if out.status == 200 else "error"
        return {"id": req_id, "status": out.status, key: out.body,
                "rateLimits": self.throttle.rate_limits(used, out.orders)}

    def _trade(self, route: Route, params: dict[str, str]) -> Outcome:
        """A SIGNED trading call: verified, then carried out by the REST route's core."""
        try:
            account = self._verify(params)
        except LotusXError as exc:
            return Outcome(*error_body(exc), None)
        out = self.rest.perform(route, Signed(account, {k: v for k, v in params.items()
                                                        if k not in ("apiKey", "signature")}))
        if out.status == 429 and out.orders is not None:
            # web-socket-api.md "Unfilled Order Count": "Responses that have a status 429 include a
            # retryAfter field"; shaped as the "IP limits" 418 example's data.
            out = Outcome(429, {**out.body, "data": {"serverTime": self.venue.now_ms(), "retryAfter":
                                                     self.venue.now_ms() + (out.orders.retry_after or 1) * 1000}},
                          out.orders)
        return out

    def _dispatch(self, method: str, params: dict[str, str], subscriptions: dict[int, str]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.venue.now_ms()}
        if method == "userDataStream.subscribe.signature":
            subscription = next(self._ids)
            subscriptions[subscription] = self._verify(params)
            return {"subscriptionId": subscription}
        if method == "userDataStream.unsubscribe":
            if "subscriptionId" in params:
                subscriptions.pop(int(params["subscriptionId"]), None)
            else:
                subscriptions.clear()
            return {}
        raise InvalidRequest(f"Unknown method '{method}'.", code=-1102)

    def _verify(self, params: dict[str, str]) -> str:
        """The account of a correctly signed request."""
        key = self.venue.keys.get(params.get("apiKey", ""))
        if key is None:
            raise AuthenticationError("Invalid API-key, IP, or permissions for action.", code=-2015, status=401)
        if "signature" not in params:
            raise InvalidRequest(mandatory("signature"), code=-1102)
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        if not signature_ok(key, payload, params["signature"]):
            raise InvalidSignature("Signature for this request is not valid.", code=-1022)
        check_timestamp(self.venue.now_ms(), params)
        return key.account

    def render(self, event: Event, subscriptions: dict[int, str]) -> Iterator[Any]:
        """Account events, wrapped with the subscription id they belong to."""
        if event.kind != "order" or event.category != "spot":
            return
        for subscription, account in subscriptions.items():
            if account == event.account:
                for payload in user_events(self.venue, *event.data):
                    yield {"subscriptionId": subscription, "event": payload}


def _text(value: Any) -> str:
    """A JSON parameter value as a query string would carry it: strings as they are, numbers in JSON's spelling."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()

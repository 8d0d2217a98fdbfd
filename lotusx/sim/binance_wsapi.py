"""Binance WebSocket API (binance-spot-api-docs web-socket-api.md: "Request format", "Response format",
"Rate limits", "SIGNED request security", "Trading requests", "Account requests",
"userDataStream.subscribe.signature"; user-data-stream.md).

On ``/ws-api/v3`` a client sends ``{"id", "method", "params"}``; SIGNED params are signed over
``key=value`` pairs sorted by key and joined with ``&``. Answers are ``{"id", "status", "result" |
"error", "rateLimits"}`` and each subscribed account event arrives as ``{"subscriptionId", "event"}``.
The trading and order-query methods run the REST routes' own logic (:meth:`BinanceRest.perform`):
same results, errors, weights and ORDERS counters, shared with REST.

"Session Authentication": ``session.logon`` authenticates the connection with an Ed25519 key
("Only Ed25519 keys are supported for this feature"); its SIGNED calls may then omit ``apiKey``
and ``signature`` but still carry ``timestamp``. A key gone during the session revokes it on the
next request with ``{"id": null, "status": 401, "error": {"code": -2015}}`` ("Regarding API key
revocation"). ``session.status`` and ``session.logout`` answer the session's state.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
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
WEIGHTS = {"ping": 1, "time": 1, "userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2,
           "session.logon": 2, "session.status": 2, "session.logout": 2}  # "Authentication requests": Weight 2 each
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
REJECTED_KEY = "Invalid API-key, IP, or permissions for action."  # errors.md -2015 REJECTED_MBX_KEY
# The docs give no code for an HMAC (or RSA) key's session.logon, only "Only Ed25519 keys are supported for
# this feature" (web-socket-api.md "Session Authentication"; errors.md lists none): the sim answers
# errors.md's generic -1002 UNAUTHORIZED.
NOT_ED25519 = "You are not authorized to execute this request."


@dataclass
class Session:
    """One connection's state: its subscriptions, and the key ``session.logon`` authenticated (if any)."""

    connected_ms: int
    subscriptions: dict[int, str] = field(default_factory=dict)
    api_key: str | None = None
    authorized_ms: int | None = None


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
        session = Session(self.venue.now_ms())
        self.throttle.admit(request.remote or "?", CONNECT_WEIGHT)  # counted: its first answer's rateLimits show it
        ws = await open_ws(request, self.venue)
        conn = Connection(self.venue, ws, lambda event: list(self.render(event, session.subscriptions)))
        unsubscribe = self.venue.hub.subscribe(conn.push)
        async with conn:
            conn.start(conn.server_pings)
            async for text in conn.messages():
                reply = self.call(text, session, request.remote or "?")
                if reply is None:
                    # Carried out, then the connection is gone: what was answered before still arrives.
                    await conn.close_after_queued(1011, b"chaos: answer lost")
                    break
                conn.enqueue(reply)
        unsubscribe()
        return ws

    def call(self, text: str, session: Session, ip: str) -> dict[str, Any] | None:
        """Answer one request; None when it was carried out but chaos loses its answer."""
        try:
            req = orjson.loads(text)
            req_id, method, raw = req.get("id"), req["method"], req.get("params", {})
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": mandatory("method")}}
        # As a query string carries them: the cores, the signature and the weight see the same text.
        params = {str(k): _text(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        if session.api_key is not None and session.api_key not in self.venue.keys:
            # The key went during the session: revoked "after the next request", that request unanswered.
            session.api_key = session.authorized_ms = None
            return {"id": None, "status": 401, "error": {"code": -2015, "msg": REJECTED_KEY}}
        route = TRADING.get(method)
        used, refusal = self.throttle.admit(ip, weight_of(*route, params) if route else WEIGHTS.get(method, 1))
        if refusal is not None:
            # web-socket-api.md "IP limits": the refusal's data says when to retry (its 418 example's shape).
            out = Outcome(refusal.status, {"code": -1003, "msg": refusal.msg, "data": {
                "serverTime": self.venue.now_ms(), "retryAfter": refusal.until_ms}}, None)
        elif route is not None:
            out = self._trade(route, params, session)
        else:
            try:
                out = Outcome(200, self._dispatch(method, params, session), None)
            except LotusXError as exc:
                out = Outcome(*error_body(exc), None)
        if method in LOSABLE and loses_answer(self.venue):
            return None
        key = "result" if out.status == 200 else "error"
        return {"id": req_id, "status": out.status, key: out.body,
                "rateLimits": self.throttle.rate_limits(used, out.orders)}

    def _trade(self, route: Route, params: dict[str, str], session: Session) -> Outcome:
        """A SIGNED trading call: verified, then carried out by the REST route's core."""
        try:
            account = self._verify(params, session)
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

    def _dispatch(self, method: str, params: dict[str, str], session: Session) -> Any:
        subscriptions = session.subscriptions
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.venue.now_ms()}
        if method == "session.logon":
            return self._logon(params, session)
        if method == "session.logout":
            session.api_key = session.authorized_ms = None
            return self._status(session)
        if method == "session.status":
            return self._status(session)
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

    def _logon(self, params: dict[str, str], session: Session) -> dict[str, Any]:
        """``session.logon``: an Ed25519 key's signed params authenticate the connection ("Log in with API key")."""
        key = self.venue.keys.get(params.get("apiKey", ""))
        if key is not None and key.ed25519_public is None:
            raise AuthenticationError(NOT_ED25519, code=-1002, status=401)
        self._verify(params)  # as any SIGNED request: key, signature, timestamp
        session.api_key, session.authorized_ms = params["apiKey"], self.venue.now_ms()
        self.venue.ws_api_logons += 1
        return self._status(session)

    def _status(self, session: Session) -> dict[str, Any]:
        """The session's state, as session.logon, session.status and session.logout answer it."""
        return {"apiKey": session.api_key, "authorizedSince": session.authorized_ms,
                "connectedSince": session.connected_ms, "returnRateLimits": True, "serverTime": self.venue.now_ms(),
                "userDataStream": bool(session.subscriptions)}

    def _verify(self, params: dict[str, str], session: Session | None = None) -> str:
        """The account of a correctly signed request, or of the session's key for one without apiKey and signature."""
        if session is not None and session.api_key is not None and "apiKey" not in params and "signature" not in params:
            # "you can omit apiKey and signature [...] You still have to specify the timestamp" (Session Authentication)
            check_timestamp(self.venue.now_ms(), params)
            return self.venue.keys[session.api_key].account
        if "apiKey" not in params:  # the SIGNED methods' apiKey is "Mandatory: YES" (e.g. order.place's table)
            raise InvalidRequest(mandatory("apiKey"), code=-1102)
        key = self.venue.keys.get(params["apiKey"])
        if key is None:
            raise AuthenticationError(REJECTED_KEY, code=-2015, status=401)
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

"""Binance WebSocket API user data (binance-spot-api-docs web-socket-api: "Request format",
"SIGNED request security", "userDataStream.subscribe.signature"; user-data-stream.md).

The current docs retire the REST listen keys in favour of this: on ``/ws-api/v3`` a client
sends ``{"id", "method", "params"}``; SIGNED params are signed over ``key=value`` pairs sorted
by key and joined with ``&``. Answers are ``{"id", "status", "result" | "error", "rateLimits"}``
and each subscribed account event arrives as ``{"subscriptionId", "event"}``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from lotusx.kernel.errors import AuthenticationError, InvalidRequest, InvalidSignature, LotusXError
from lotusx.sim.binance_guard import Throttle, check_timestamp, mandatory, signature_ok
from lotusx.sim.binance_ws import user_events
from lotusx.sim.common import Connection, open_ws
from lotusx.sim.venue import Event, Venue

WEIGHTS = {"ping": 1, "time": 1, "userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2}


class BinanceWsApi:
    """The ``/ws-api/v3`` endpoint, limited to ping, time and the user data subscription."""

    def __init__(self, venue: Venue, throttle: Throttle) -> None:
        self.venue = venue
        self.throttle = throttle
        self._ids = itertools.count()

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        return [web.get("/ws-api/v3", self.handle)]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One WS API connection."""
        subscriptions: dict[int, str] = {}
        ws = await open_ws(request, self.venue)
        conn = Connection(self.venue, ws, lambda event: list(self.render(event, subscriptions)))
        unsubscribe = self.venue.hub.subscribe(conn.push)
        async with conn:
            conn.start(conn.server_pings)
            async for text in conn.messages():
                conn.enqueue(self.call(text, subscriptions, request.remote or "?"))
        unsubscribe()
        return ws

    def call(self, text: str, subscriptions: dict[int, str], ip: str) -> dict[str, Any]:
        """Answer one request."""
        try:
            req = orjson.loads(text)
            req_id, method, params = req.get("id"), req["method"], req.get("params", {})
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": mandatory("method")}}
        self.throttle.limiter.hit(self.throttle.weight, "ip", ip, cost=WEIGHTS.get(method, 1))
        limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                   "limit": self.venue.config.limits.request_weight,
                   "count": self.throttle.used(self.throttle.weight, "ip", ip)}]
        try:
            result = self._dispatch(method, params if isinstance(params, dict) else {}, subscriptions)
        except LotusXError as exc:
            return {"id": req_id, "status": exc.status or 400, "error": {"code": exc.code, "msg": exc.message},
                    "rateLimits": limits}
        return {"id": req_id, "status": 200, "result": result, "rateLimits": limits}

    def _dispatch(self, method: str, params: dict[str, Any], subscriptions: dict[int, str]) -> Any:
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

    def _verify(self, params: dict[str, Any]) -> str:
        """The account of a correctly signed request."""
        key = self.venue.keys.get(str(params.get("apiKey", "")))
        if key is None:
            raise AuthenticationError("Invalid API-key, IP, or permissions for action.", code=-2015, status=401)
        if "signature" not in params:
            raise InvalidRequest(mandatory("signature"), code=-1102)
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        if not signature_ok(key, payload, str(params["signature"])):
            raise InvalidSignature("Signature for this request is not valid.", code=-1022)
        check_timestamp(self.venue.now_ms(), {k: str(v) for k, v in params.items()})
        return key.account

    def render(self, event: Event, subscriptions: dict[int, str]) -> Iterator[Any]:
        """Account events, wrapped with the subscription id they belong to."""
        if event.kind != "order" or event.category != "spot":
            return
        for subscription, account in subscriptions.items():
            if account == event.account:
                for payload in user_events(self.venue, *event.data):
                    yield {"subscriptionId": subscription, "event": payload}

"""Binance request admission: API keys, signatures, timestamps, request weight and IP bans.

Facts from binance/binance-spot-api-docs (rest-api.md "SIGNED Endpoint security", "Timing
security", "LIMITS"; errors.md): the signature is HMAC-SHA256 (hex, case-insensitive) or
Ed25519 (base64) over query string + body exactly as sent, without the ``signature`` parameter;
``recvWindow`` defaults to 5000 ms and may not exceed 60000; a request is accepted when
``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow``; REQUEST_WEIGHT
is 6000 per minute per IP; breaking it answers 429 (-1003) with ``Retry-After`` and continuing
answers 418 (IP ban); every response carries ``X-MBX-USED-WEIGHT-1M``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from lotusx.kernel.errors import (
    AuthenticationError,
    InvalidRequest,
    InvalidSignature,
    RateLimited,
    TimestampOutOfWindow,
)
from lotusx.sim.common import Handler, Middleware, answer
from lotusx.sim.venue import Key, Venue

MAX_RECV_WINDOW = 60_000


def hmac_valid(secret: str, payload: str, signature: str) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of ``payload`` (case-insensitive, as the docs allow)."""
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.lower().encode())


def ed25519_valid(public_key: bytes, payload: str, signature: str) -> bool:
    """Whether ``signature`` is the base64 Ed25519 signature of ``payload``."""
    try:
        VerifyKey(public_key).verify(payload.encode(), base64.b64decode(signature, validate=True))
    except (BadSignatureError, binascii.Error, ValueError):
        return False
    return True


def split_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=`` parameter, and that parameter's (decoded) value."""
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = unquote(part[len("signature="):])
        else:
            kept.append(part)
    return "&".join(kept), signature


@dataclass(frozen=True)
class Signed:
    """The outcome of a verified request."""

    account: str
    params: dict[str, str]


def verify(venue: Venue, api_key: str | None, query: str, body: str) -> Signed:
    """Check key, signature and timestamp of a SIGNED request; raise the venue's error otherwise."""
    if not api_key:
        raise AuthenticationError("API-key format invalid.", code=-2014, status=401)
    key = venue.keys.get(api_key)
    if key is None:
        raise AuthenticationError("Invalid API-key, IP, or permissions for action.", code=-2015, status=401)
    query_payload, sig_q = split_signature(query)
    body_payload, sig_b = split_signature(body)
    signature = sig_q or sig_b
    params = dict(parse_qsl(query_payload, keep_blank_values=True)) | dict(parse_qsl(body_payload,
                                                                                      keep_blank_values=True))
    if not signature:
        raise InvalidRequest(mandatory("signature"), code=-1102)
    if not signature_ok(key, query_payload + body_payload, signature):
        raise InvalidSignature("Signature for this request is not valid.", code=-1022)
    check_timestamp(venue.now_ms(), params)
    return Signed(key.account, params)


def signature_ok(key: Key, payload: str, signature: str) -> bool:
    """Whether ``signature`` signs ``payload`` with ``key`` (HMAC or Ed25519, by key type)."""
    if key.ed25519_public is not None:
        return ed25519_valid(key.ed25519_public, payload, signature)
    return key.secret is not None and hmac_valid(key.secret, payload, signature)


def check_timestamp(server_ms: int, params: dict[str, str]) -> None:
    """Apply the documented timing-security rule."""
    try:
        timestamp = int(params["timestamp"])
    except (KeyError, ValueError):
        raise InvalidRequest(mandatory("timestamp"), code=-1102) from None
    try:
        window = float(params.get("recvWindow", "5000"))
    except ValueError:
        raise InvalidRequest(mandatory("recvWindow"), code=-1102) from None
    if window > MAX_RECV_WINDOW or window <= 0:
        raise InvalidRequest(f"recvWindow must be less than {MAX_RECV_WINDOW}.", code=-1131)
    if timestamp >= server_ms + 1000:
        raise TimestampOutOfWindow("Timestamp for this request was 1000ms ahead of the server's time.", code=-1021)
    if server_ms - timestamp > window:
        raise TimestampOutOfWindow("Timestamp for this request is outside of the recvWindow.", code=-1021)


def mandatory(name: str) -> str:
    """The -1102 message for ``name``."""
    return f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


# ===== request weight =====

WEIGHTS: dict[tuple[str, str], Callable[[dict[str, str]], int]] = {
    ("GET", "/api/v3/ping"): lambda p: 1,
    ("GET", "/api/v3/time"): lambda p: 1,
    ("GET", "/api/v3/exchangeInfo"): lambda p: 20,
    ("GET", "/api/v3/depth"): lambda p: depth_weight(p.get("limit", "100")),
    ("GET", "/api/v3/trades"): lambda p: 25,
    ("GET", "/api/v3/historicalTrades"): lambda p: 25,  # rest-api.md "Old trade lookup"
    ("GET", "/api/v3/ticker/bookTicker"): lambda p: 2 if "symbol" in p else 4,
    ("GET", "/api/v3/ticker/24hr"): lambda p: 2 if "symbol" in p else 80,
    ("POST", "/api/v3/order"): lambda p: 1,
    ("DELETE", "/api/v3/order"): lambda p: 1,
    ("PUT", "/api/v3/order/amend/keepPriority"): lambda p: 4,  # rest-api.md "Order Amend Keep Priority"
    ("POST", "/api/v3/order/cancelReplace"): lambda p: 1,  # rest-api.md "Cancel an Existing Order and Send..."
    ("DELETE", "/api/v3/openOrders"): lambda p: 1,
    ("GET", "/api/v3/order"): lambda p: 4,
    ("GET", "/api/v3/openOrders"): lambda p: 6 if "symbol" in p else 80,
    ("GET", "/api/v3/allOrders"): lambda p: 20,
    ("GET", "/api/v3/myTrades"): lambda p: 5 if "orderId" in p else 20,  # rest-api.md "Account trade list"
    ("GET", "/api/v3/account"): lambda p: 20,
}
DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (5000, 250))
"""rest-api.md, Order book: limit 1-100 weighs 5, 101-500 25, 501-1000 50, 1001-5000 250."""


def depth_weight(limit: str) -> int:
    """The weight of a depth call; invalid limits are charged like the default."""
    number = int(limit) if limit.isdigit() else 100
    return next((w for top, w in DEPTH_WEIGHTS if number <= top), 250)


def weight_of(method: str, path: str, params: dict[str, str]) -> int:
    """Documented weight of one call (1 for anything not listed, e.g. /sapi and listen keys)."""
    rule = WEIGHTS.get((method, path))
    return rule(params) if rule else 1


@dataclass
class Throttle:
    """REQUEST_WEIGHT per IP, ORDERS per account and the IP ban, on ``limits`` fixed windows."""

    venue: Venue
    storage: MemoryStorage = field(default_factory=MemoryStorage)

    def __post_init__(self) -> None:
        limits = self.venue.config.limits
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.weight: RateLimitItem = RateLimitItemPerMinute(limits.request_weight)
        self.strikes: RateLimitItem = RateLimitItemPerMinute(limits.ban_after)
        self.orders: tuple[tuple[str, RateLimitItem], ...] = (
            ("10S", RateLimitItemPerSecond(limits.orders_10s, 10)), ("1D", RateLimitItemPerDay(limits.orders_1d)))
        self.banned_until: dict[str, int] = {}

    def used(self, item: RateLimitItem, *ids: str) -> int:
        """Units used in the current window of ``item`` for ``ids``."""
        return int(self.storage.get(item.key_for(*ids)))

    def retry_after(self, item: RateLimitItem, *ids: str) -> int:
        """Whole seconds until the window of ``item`` resets (at least 1)."""
        reset, _ = self.limiter.get_window_stats(item, *ids)
        return max(1, int(reset - self.venue.clock.time()) + 1)

    def count_order(self, account: str) -> OrderCount:
        """Count one new order on the account's ORDERS windows (REST and WS API alike)."""
        counts, exceeded, retry_after = {}, None, None
        for name, item in self.orders:
            if not self.limiter.hit(item, "orders", account) and exceeded is None:
                exceeded, retry_after = name, self.retry_after(item, "orders", account)
            counts[name] = self.used(item, "orders", account)
        return OrderCount(counts, exceeded, retry_after)

    def too_many_orders(self, counted: OrderCount) -> RateLimited:
        """The -1015 refusal of an order over ``counted.exceeded`` (errors.md, rest-api.md's 429 example)."""
        limit, interval = self._orders_limits()[counted.exceeded or "10S"]
        return RateLimited(f"Too many new orders; current limit is {limit} orders per {interval}.", code=-1015,
                           status=429, retry_after=counted.retry_after)

    def _orders_limits(self) -> dict[str, tuple[int, str]]:
        limits = self.venue.config.limits
        return {"10S": (limits.orders_10s, "10 SECOND"), "1D": (limits.orders_1d, "1 DAY")}

    def rate_limits(self, used: int, counted: OrderCount | None) -> list[dict[str, Any]]:
        """A WS API answer's ``rateLimits``: the ORDERS counts when the call counted one, then REQUEST_WEIGHT
        (web-socket-api.md "Rate limits": "all currently active rate limits affected by the request")."""
        entries = []
        if counted is not None:
            limits = self._orders_limits()
            entries = [{"rateLimitType": "ORDERS", "interval": interval, "intervalNum": number,
                        "limit": limits[name][0], "count": counted.counts[name]}
                       for name, interval, number in (("10S", "SECOND", 10), ("1D", "DAY", 1))]
        return [*entries, {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                           "limit": self.venue.config.limits.request_weight, "count": used}]

    def admit(self, ip: str, cost: int) -> tuple[int, Refusal | None]:
        """Charge ``cost`` to the IP's REQUEST_WEIGHT: the weight used, and the refusal when over or banned.

        A banned IP is refused without a charge. Over the limit, a strike; too many strikes ban the
        IP (418), else the answer is 429 -1003.
        """
        now = self.venue.now_ms()
        if self.banned_until.get(ip, 0) > now:
            return self.used(self.weight, "ip", ip), banned_refusal(ip, self.banned_until[ip], now)
        self.limiter.hit(self.weight, "ip", ip, cost=cost)
        used = self.used(self.weight, "ip", ip)
        limit = self.venue.config.limits.request_weight
        if used <= limit:
            return used, None
        if not self.limiter.hit(self.strikes, "strikes", ip):
            self.banned_until[ip] = now + self.venue.config.limits.ban_seconds * 1000
            return used, banned_refusal(ip, self.banned_until[ip], now)
        retry_after = self.retry_after(self.weight, "ip", ip)
        return used, Refusal(429, f"Too many requests; current limit of IP({ip}) is {limit} requests per minute. "
                                  "Please use the websocket for live updates to avoid polling the API.",
                             retry_after, now + retry_after * 1000)


@dataclass(frozen=True)
class OrderCount:
    """One new order counted: each ORDERS window's count ("10S", "1D"), the one exceeded and when it resets."""

    counts: dict[str, int]
    exceeded: str | None
    retry_after: int | None
    """Whole seconds until the exceeded window resets."""

    def headers(self) -> dict[str, str]:
        """REST's ``X-MBX-ORDER-COUNT-*`` headers, and ``Retry-After`` over a limit: "you will receive a 429
        error with the Retry-After header" (rest-api.md "Unfilled Order Count")."""
        retry = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return retry | {f"X-MBX-ORDER-COUNT-{name}": str(count) for name, count in self.counts.items()}


@dataclass(frozen=True)
class Refusal:
    """A request refused for its IP's weight: 429, or 418 while banned (both -1003)."""

    status: int
    msg: str
    retry_after: int
    """Whole seconds to wait (REST's ``Retry-After``)."""
    until_ms: int
    """When the IP may send again (the WS API's ``retryAfter``)."""

    def response(self) -> web.Response:
        """The REST answer."""
        return answer({"code": -1003, "msg": self.msg}, self.status, {"Retry-After": str(self.retry_after)})


def banned_refusal(ip: str, until_ms: int, now_ms: int) -> Refusal:
    """The refusal of a banned IP."""
    msg = (f"Way too many requests; IP({ip}) banned until {until_ms}. "
           "Please use the websocket for live updates to avoid bans.")
    return Refusal(418, msg, max(1, (until_ms - now_ms + 999) // 1000), until_ms)


def guard_middleware(throttle: Throttle) -> Middleware:
    """Charge weight, answer 429/418 when over, and stamp ``X-MBX-USED-WEIGHT-1M`` on the reply."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim") or request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        ip = request.remote or "?"
        used, refusal = throttle.admit(ip, weight_of(request.method, request.path, dict(request.query)))
        if refusal is not None and refusal.status == 418:
            return refusal.response()  # a ban's answer reports no weight
        response = refusal.response() if refusal is not None else await handler(request)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        return response

    return middleware

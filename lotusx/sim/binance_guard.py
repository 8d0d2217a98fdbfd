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
from urllib.parse import parse_qsl, unquote

from aiohttp import web
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from lotusx.kernel.errors import AuthenticationError, InvalidRequest, InvalidSignature, TimestampOutOfWindow
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

    def count_order(self, account: str) -> tuple[dict[str, str], str | None]:
        """Count one new order: the ORDER-COUNT headers, and the exceeded interval if any.

        Over a limit, the headers carry ``Retry-After`` too: "you will receive a 429 error with the
        Retry-After header" (rest-api.md "Unfilled Order Count").
        """
        headers, exceeded = {}, None
        for name, item in self.orders:
            if not self.limiter.hit(item, "orders", account) and exceeded is None:
                exceeded = name
                headers["Retry-After"] = str(self.retry_after(item, "orders", account))
            headers[f"X-MBX-ORDER-COUNT-{name}"] = str(self.used(item, "orders", account))
        return headers, exceeded


def guard_middleware(throttle: Throttle) -> Middleware:
    """Charge weight, answer 429/418 when over, and stamp ``X-MBX-USED-WEIGHT-1M`` on the reply."""
    venue = throttle.venue

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim") or request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        ip = request.remote or "?"
        now = venue.now_ms()
        if throttle.banned_until.get(ip, 0) > now:
            return banned(ip, throttle.banned_until[ip], now)
        params = dict(request.query)
        throttle.limiter.hit(throttle.weight, "ip", ip, cost=weight_of(request.method, request.path, params))
        used = throttle.used(throttle.weight, "ip", ip)
        if used > venue.config.limits.request_weight:
            if not throttle.limiter.hit(throttle.strikes, "strikes", ip):
                throttle.banned_until[ip] = now + venue.config.limits.ban_seconds * 1000
                return banned(ip, throttle.banned_until[ip], now)
            msg = (f"Too many requests; current limit of IP({ip}) is {venue.config.limits.request_weight} requests"
                   " per minute. Please use the websocket for live updates to avoid polling the API.")
            response: web.StreamResponse = answer({"code": -1003, "msg": msg}, 429, {
                "Retry-After": str(throttle.retry_after(throttle.weight, "ip", ip))})
        else:
            response = await handler(request)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        return response

    return middleware


def banned(ip: str, until_ms: int, now_ms: int) -> web.Response:
    """The 418 answer of a banned IP."""
    msg = (f"Way too many requests; IP({ip}) banned until {until_ms}. "
           "Please use the websocket for live updates to avoid bans.")
    return answer({"code": -1003, "msg": msg}, 418, {"Retry-After": str(max(1, (until_ms - now_ms + 999) // 1000))})

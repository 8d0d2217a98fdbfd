"""The canonical REST stack against a real loopback venue that injects faults.

``Retry ∘ RateLimit ∘ ClockSync ∘ Sign ∘ Trace ∘ Timeout ∘ MapErrors ∘ AiohttpRest`` over real
sockets. The fault venue speaks a Binance-like dialect (HMAC query signatures, -1021, -2010
duplicate client order id, -2013 unknown order, 429 with Retry-After, 418 bans) and counts
the orders it really created, so every test can assert *zero duplicated orders*.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import web

from lotusx import (
    AmbiguousOrderState,
    DuplicateClientOrderId,
    Endpoint,
    Idempotency,
    IpBanned,
    LotusXError,
    MapErrors,
    NotFound,
    RateLimited,
    Request,
    Response,
    ServerError,
    TimestampOutOfWindow,
    chain,
    stack,
)
from lotusx.kernel.protocols import SYSTEM_CLOCK
from lotusx.layers.clock import ClockSync, ServerClock
from lotusx.layers.limiter import Limiter, Pool
from lotusx.layers.ratelimit import RateLimit
from lotusx.layers.retry import Retry, RetryPolicy
from lotusx.layers.sign import Sign
from lotusx.layers.timeout import Timeout
from lotusx.layers.trace import Trace
from lotusx.metrics import Metrics
from lotusx.signers import BinanceHmac
from lotusx.testing import RecordingClock
from lotusx.transport import AiohttpRest
from tests.conftest import ServeApp

KEY, SECRET = "faultvenue-api-key-0001", "faultvenue-secret-0001-abcdef"
PLACE = Endpoint("place_order", "POST", "/api/v3/order", costs={"REQUEST_WEIGHT": 1, "ORDERS": 1}, signed=True,
                 idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
QUERY = Endpoint("get_order", "GET", "/api/v3/order", costs={"REQUEST_WEIGHT": 4}, signed=True)
DEPTH = Endpoint("depth", "GET", "/api/v3/depth", costs={"REQUEST_WEIGHT": 5})
WITHDRAW = Endpoint("withdraw", "POST", "/sapi/v1/capital/withdraw/apply", costs={"REQUEST_WEIGHT": 1},
                    signed=True, idempotency=Idempotency.UNSAFE)
POOLS = (Pool("REQUEST_WEIGHT", 6000, 60), Pool("ORDERS", 100, 10))


@dataclass
class FaultVenue:
    """A tiny signed venue whose next responses are scripted faults."""

    faults: list[str] = field(default_factory=list)  # consumed one per POST /api/v3/order
    depth_faults: list[int] = field(default_factory=list)  # statuses for GET /api/v3/depth
    query_fails: bool = False
    skew_ms: int = 0
    orders: dict[str, dict[str, object]] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)
    order_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    signed_payloads: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.skew_ms

    def check_signature(self, request: web.Request) -> web.Response | None:
        raw = request.rel_url.raw_query_string
        payload, _, signature = raw.rpartition("&signature=")
        expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if request.headers.get("X-MBX-APIKEY") != KEY or not hmac.compare_digest(signature, expected):
            return error(400, -1022, "Signature for this request is not valid.")
        self.signed_payloads.append(payload)
        stamp, window = int(request.query["timestamp"]), int(request.query.get("recvWindow", "5000"))
        now = self.now_ms()
        if stamp > now + 1000 or now - stamp > window:
            return error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return None

    async def place(self, request: web.Request) -> web.StreamResponse:
        self.hits["place"] += 1
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "429":
            return error(429, -1003, "Too many requests.", {"Retry-After": "1"})
        if fault == "418":
            return error(418, -1003, "Way too much request weight used; IP banned.", {"Retry-After": "120"})
        if fault == "503":
            return error(503, -1001, "Service unavailable.")
        if fault == "drop_before":
            return drop(request)
        rejected = self.check_signature(request)
        if rejected is not None:
            return rejected
        cid = request.query["newClientOrderId"]
        if cid in self.orders:
            return error(400, -2010, "Duplicate order sent.")
        order = {"symbol": request.query["symbol"], "orderId": next(self.order_ids), "clientOrderId": cid,
                 "status": "NEW"}
        self.orders[cid] = order
        self.created[cid] += 1
        if fault == "503_after_create":
            return error(503, -1001, "Service unavailable.")
        if fault == "drop_after_create":
            return drop(request)
        if fault == "hang_after_create":
            await self.release.wait()
        return web.json_response(order)

    async def query(self, request: web.Request) -> web.Response:
        self.hits["query"] += 1
        if self.query_fails:
            return error(500, -1000, "Unknown error.")
        rejected = self.check_signature(request)
        if rejected is not None:
            return rejected
        order = self.orders.get(request.query["origClientOrderId"])
        return web.json_response(order) if order else error(400, -2013, "Order does not exist.")

    async def depth(self, request: web.Request) -> web.Response:
        self.hits["depth"] += 1
        if self.depth_faults:
            return error(self.depth_faults.pop(0), -1001, "Service unavailable.")
        return web.json_response({"lastUpdateId": 1, "bids": [["1.0", "2"]], "asks": [["1.1", "3"]]})

    async def withdraw(self, request: web.Request) -> web.Response:
        self.hits["withdraw"] += 1
        return error(503, -1001, "Service unavailable.")

    async def server_time(self, request: web.Request) -> web.Response:
        self.hits["time"] += 1
        return web.json_response({"serverTime": self.now_ms()})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v3/order", self.place)
        app.router.add_get("/api/v3/order", self.query)
        app.router.add_get("/api/v3/depth", self.depth)
        app.router.add_get("/api/v3/time", self.server_time)
        app.router.add_post("/sapi/v1/capital/withdraw/apply", self.withdraw)
        return app


def error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"code": code, "msg": msg}), headers=headers,
                        content_type="application/json")


def drop(request: web.Request) -> web.Response:
    assert request.transport is not None
    request.transport.close()
    return web.Response()


def venue_errors(request: Request, response: Response) -> LotusXError | None:
    """The Binance-like code map a connector would declare."""
    if response.status < 400 or not response.body.startswith(b"{"):
        return None
    body = orjson.loads(response.body)
    code, msg = body.get("code"), body.get("msg")
    where = f"{request.method} {request.path}"
    if code == -1021:
        return TimestampOutOfWindow(where, code=code, venue_message=msg, response=response)
    if code == -2010 and "Duplicate" in msg:
        return DuplicateClientOrderId(where, code=code, venue_message=msg, response=response)
    if code == -2013:
        return NotFound(where, code=code, venue_message=msg, response=response)
    return None


@dataclass
class Harness:
    venue: FaultVenue
    url: str
    metrics: Metrics
    clock: RecordingClock
    server_clock: ServerClock
    transport: AiohttpRest
    limiter: Limiter

    def service(self, *, max_attempts: int = 4):  # type: ignore[no-untyped-def]
        signer = BinanceHmac(KEY, SECRET, recv_window=5000)
        classify = chain(venue_errors, __import__("lotusx").http_errors)
        query_stack = stack(Sign(signer, clock=self.server_clock), MapErrors(classify))(self.transport)

        async def reconcile(request: Request) -> Response | None:
            cid = str(request.ext["client_order_id"])
            try:
                return await query_stack(Request(method="GET", path="/api/v3/order", endpoint=QUERY,
                                                 query=(("symbol", "BTCUSDT"), ("origClientOrderId", cid))))
            except NotFound:
                return None

        layers = stack(
            Retry(RetryPolicy(max_attempts=max_attempts, base=0.05, cap=0.2, deadline=30), reconcile=reconcile,
                  clock=self.clock, metrics=self.metrics, exchange="fault"),
            RateLimit(self.limiter),
            ClockSync(self.server_clock),
            Sign(signer, clock=self.server_clock),
            Trace("fault", metrics=self.metrics),
            Timeout(1.0),
            MapErrors(classify),
        )
        return layers(self.transport)


@pytest.fixture
async def harness(serve_app: ServeApp) -> AsyncIterator[Harness]:
    venue = FaultVenue()
    server = await serve_app(venue.app())
    url = str(server.make_url("")).rstrip("/")
    transport = AiohttpRest(url, timeout=5)

    async def fetch_server_ms() -> int:
        response = await transport(Request(method="GET", path="/api/v3/time"))
        return int(orjson.loads(response.body)["serverTime"])

    server_clock = ServerClock(fetch_server_ms, SYSTEM_CLOCK, samples=3, refresh=300)
    metrics, clock = Metrics(), RecordingClock(speedup=100)
    limiter = Limiter(POOLS, clock=clock, max_wait=5.0, metrics=metrics, exchange="fault")
    yield Harness(venue, url, metrics, clock, server_clock, transport, limiter)
    venue.release.set()
    await transport.aclose()


def order(cid: str) -> Request:
    return Request(method="POST", path="/api/v3/order", endpoint=PLACE, ext={"client_order_id": cid},
                   query=(("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                          ("quantity", "0.01"), ("price", "50000"), ("newClientOrderId", cid)))


async def place(h: Harness, cid: str, faults: list[str]) -> dict[str, object]:
    h.venue.faults = list(faults)
    response = await h.service()(order(cid))
    return dict(orjson.loads(response.body))


async def test_429_waits_retry_after_then_places_once(harness: Harness) -> None:
    """A 429 with Retry-After: 1 is waited out (>= 1 s asked) and the order is created once."""
    result = await place(harness, "c-429", ["429"])
    assert result["clientOrderId"] == "c-429"
    assert harness.venue.created["c-429"] == 1 and harness.venue.hits["place"] == 2
    assert max(harness.clock.slept) >= 1.0


async def test_418_raises_ip_banned_and_blocks_further_calls(harness: Harness) -> None:
    """A 418 raises IpBanned, and the next call is refused locally without reaching the venue."""
    with pytest.raises(IpBanned):
        await place(harness, "c-418", ["418"])
    with pytest.raises(RateLimited):
        await harness.service()(Request(method="GET", path="/api/v3/depth", endpoint=DEPTH))
    assert harness.venue.hits["place"] == 1 and harness.venue.hits["depth"] == 0
    assert harness.venue.created["c-418"] == 0


async def test_503_burst_on_a_safe_read_is_retried_until_success(harness: Harness) -> None:
    """Two 503s on a SAFE read are retried; the third attempt succeeds."""
    harness.venue.depth_faults = [503, 503]
    response = await harness.service()(Request(method="GET", path="/api/v3/depth", endpoint=DEPTH))
    assert response.status == 200 and harness.venue.hits["depth"] == 3
    retried = harness.metrics.registry.get_sample_value(
        "lotusx_retries_total", {"exchange": "fault", "endpoint": "depth", "reason": "ServerError"})
    assert retried == 2.0


async def test_503_burst_on_order_reconciles_then_resends_same_client_id(harness: Harness) -> None:
    """Order 503s that created nothing: reconcile finds none, re-sends the same id, one order results."""
    result = await place(harness, "c-503", ["503", "503"])
    assert result["clientOrderId"] == "c-503"
    assert harness.venue.created["c-503"] == 1
    assert harness.venue.hits["query"] == 2 and harness.venue.hits["place"] == 3


async def test_503_after_create_returns_the_existing_order(harness: Harness) -> None:
    """A 503 after the venue created the order: reconcile returns it, nothing is re-sent."""
    result = await place(harness, "c-503c", ["503_after_create"])
    assert result["clientOrderId"] == "c-503c"
    assert harness.venue.created["c-503c"] == 1 and harness.venue.hits["place"] == 1


async def test_hanging_response_times_out_and_reconciles(harness: Harness) -> None:
    """A response that hangs after the order was created times out; reconcile returns the order."""
    result = await place(harness, "c-hang", ["hang_after_create"])
    assert result["clientOrderId"] == "c-hang"
    assert harness.venue.created["c-hang"] == 1 and harness.venue.hits["place"] == 1


async def test_disconnect_after_receive_reconciles(harness: Harness) -> None:
    """A disconnect after the venue acted is ambiguous: reconcile finds the order, no second one."""
    result = await place(harness, "c-drop", ["drop_after_create"])
    assert result["clientOrderId"] == "c-drop"
    assert harness.venue.created["c-drop"] == 1 and harness.venue.hits["place"] == 1


async def test_disconnect_before_create_resends_once(harness: Harness) -> None:
    """A disconnect before the venue acted: reconcile finds none, the re-send creates one order."""
    result = await place(harness, "c-drop0", ["drop_before"])
    assert result["clientOrderId"] == "c-drop0"
    assert harness.venue.created["c-drop0"] == 1 and harness.venue.hits["place"] == 2


async def test_timestamp_error_resyncs_clock_and_resigns_once(harness: Harness) -> None:
    """-1021 after the venue clock jumps: one resync, one re-signed re-send with a new timestamp."""
    await harness.server_clock.sync()
    harness.venue.skew_ms = -3000  # venue clock now 3 s behind: our timestamps look 3 s ahead
    syncs = harness.venue.hits["time"]
    result = await place(harness, "c-1021", [])
    assert result["clientOrderId"] == "c-1021"
    assert harness.venue.created["c-1021"] == 1
    assert harness.venue.hits["time"] > syncs
    assert harness.venue.hits["place"] == 2
    first, second = harness.venue.signed_payloads[-2:]
    assert first != second  # new timestamp, new signature
    assert -3.2 < harness.server_clock.offset < -2.8


async def test_unknown_state_raises_ambiguous_order_state(harness: Harness) -> None:
    """When the order hangs and the query fails too, AmbiguousOrderState names the client id."""
    harness.venue.query_fails = True
    with pytest.raises(AmbiguousOrderState) as info:
        await place(harness, "c-amb", ["hang_after_create"])
    assert info.value.client_order_id == "c-amb"
    assert harness.venue.created["c-amb"] == 1 and harness.venue.hits["place"] == 1


async def test_unsafe_request_is_not_retried_after_a_503(harness: Harness) -> None:
    """An UNSAFE withdrawal that got a 503 is not re-sent (it may have executed)."""
    request = Request(method="POST", path="/sapi/v1/capital/withdraw/apply", endpoint=WITHDRAW,
                      query=(("coin", "USDT"), ("amount", "10")))
    with pytest.raises(ServerError):
        await harness.service()(request)
    assert harness.venue.hits["withdraw"] == 1


async def test_random_fault_sequences_never_duplicate_an_order(harness: Harness) -> None:
    """Under 25 seeded random fault sequences, no client id ever gets two orders."""
    rng = random.Random(7)
    kinds = ["ok", "429", "503", "503_after_create", "drop_before", "drop_after_create"]
    outcomes: Counter[str] = Counter()
    for n in range(25):
        cid = f"c-rand-{n}"
        try:
            await place(harness, cid, [rng.choice(kinds) for _ in range(rng.randint(0, 3))])
            outcomes["placed"] += 1
            assert harness.venue.created[cid] == 1
        except LotusXError as exc:
            outcomes[type(exc).__name__] += 1
        assert harness.venue.created[cid] <= 1
    assert max(harness.venue.created.values()) == 1
    assert outcomes["placed"] >= 15

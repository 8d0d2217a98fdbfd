"""Review 24: an IP ban is per IP, so one learned on a connector's WebSocket or its REST holds both.

Binance: "The limits on the API are based on the IPs, not the API keys" and "IP bans are
tracked and scale in duration for repeat offenders, from 2 minutes to 3 days" (rest-api.md,
"IP Limits"): a request or an upgrade sent during a ban lengthens it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

import lotusx
from lotusx import IpBanned, RateLimited
from lotusx.kernel.message import Endpoint
from lotusx.kernel.service import stack
from lotusx.layers.limiter import Limiter, Pool
from lotusx.layers.ratelimit import RateLimit
from lotusx.testing import FakeClock
from lotusx.transport import AiohttpWs
from lotusx.ws import Backoff, Heartbeat, ReconnectWs
from lotusx.ws.outbound import admission
from tests.conftest import ServeApp
from tests.ws.test_upgrade_403_review23 import refuse_first, settle

CONNECT = Endpoint("ws_connect", "CONNECT", "/ws", costs={"WS_CONNECTIONS": 1})
QUIET = Heartbeat(interval=None, idle_timeout=10_000)
BACKOFF = Backoff(base=0.5, random=lambda: 1.0)  # the first reconnect waits 0.5 s


class Venue:
    """A loopback venue: REST answers 418 with Retry-After: 60; WS upgrades at ``ws_path`` get ``ws_status``."""

    def __init__(self, ws_path: str = "/stream", ws_status: int = 101) -> None:
        self.ws_path, self.ws_status = ws_path, ws_status
        self.rest_calls = 0
        self.upgrades = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(self.ws_path, self.stream)
        app.router.add_route("*", "/{tail:.*}", self.rest)
        return app

    async def rest(self, request: web.Request) -> web.Response:
        self.rest_calls += 1
        return web.json_response({"code": -1003, "msg": "IP banned"}, status=418, headers={"Retry-After": "60"})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.upgrades += 1
        if self.ws_status != 101:
            return web.Response(status=self.ws_status, headers={"Retry-After": "60"})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws


@pytest.fixture
async def opened(serve_app: ServeApp) -> AsyncIterator[Callable[..., Any]]:
    """Open a connector on a FakeClock (no auto-advance) against a loopback ``Venue``."""
    connectors: list[Any] = []

    async def open_(venue: Venue, name: str = "binance") -> tuple[Any, FakeClock]:
        server = await serve_app(venue.app())
        clock = FakeClock(auto_advance=False)
        ex = await lotusx.connect(name, rest_url=f"http://127.0.0.1:{server.port}",
                                  ws_url=f"ws://127.0.0.1:{server.port}", clock=clock).__aenter__()
        connectors.append(ex)
        return ex, clock

    yield open_
    for ex in connectors:
        await ex.aclose()


@pytest.mark.parametrize(("name", "path", "stream"), [("binance", "/stream", "btcusdt@trade"),
                                                      ("bybit", "/v5/public/spot", "publicTrade.BTCUSDT")])
async def test_an_upgrade_refused_with_403_holds_the_connectors_rest_calls(
        opened: Callable[..., Any], name: str, path: str, stream: str) -> None:
    """A WS upgrade blocked with 403 (Retry-After: 60) bans the limiter: the next REST call is refused unsent."""
    venue = Venue(ws_path=path, ws_status=403)
    ex, clock = await opened(venue, name)
    subscribing = asyncio.ensure_future(ex.subscribe([stream]))
    try:
        await settle(lambda: venue.upgrades == 1 and clock.sleepers >= 1)
        with pytest.raises(IpBanned) as refused:
            await ex.get_ticker("BTCUSDT")
        assert (venue.rest_calls, refused.value.retry_after) == (0, 60.0)
    finally:
        subscribing.cancel()
        await asyncio.gather(subscribing, return_exceptions=True)


async def test_a_rest_418_holds_the_connectors_upgrades_until_the_ban_ends(opened: Callable[..., Any]) -> None:
    """After a REST 418 with Retry-After: 60, no upgrade is attempted before the 60 s are over; then one is."""
    venue = Venue()
    ex, clock = await opened(venue)
    with pytest.raises(IpBanned):
        await ex.get_ticker("BTCUSDT")
    # The raw stream stays open when its subscribe times out (at 30 s), and keeps reconnecting.
    subscribing = asyncio.ensure_future(ex.subscribe(["btcusdt@trade"]))
    try:
        await settle(lambda: clock.sleepers >= 2)  # the shard's wait and the subscribe's timeout
        await clock.advance(59)
        await asyncio.sleep(0.05)  # an upgrade sent now would reach the loopback server
        assert venue.upgrades == 0
        await clock.advance(2)
        await settle(lambda: venue.upgrades == 1)
    finally:
        subscribing.cancel()
        await asyncio.gather(subscribing, return_exceptions=True)


async def test_an_attempt_through_admission_teaches_its_rate_limit_the_ban() -> None:
    """An attempt run by admission(RateLimit(limiter)) that raises IpBanned bans every pool of the limiter."""
    clock = FakeClock(auto_advance=False)
    limiter = Limiter([Pool("WS_CONNECTIONS", 300, 300), Pool("REQUEST_WEIGHT", 6000, 60)], key="review24-admit",
                      clock=clock)
    admit = admission(RateLimit(limiter), CONNECT)

    async def blocked() -> None:
        raise IpBanned("blocked", retry_after=90.0, status=403)

    with pytest.raises(IpBanned):
        await admit(blocked)
    with pytest.raises(IpBanned) as refused:
        await limiter.acquire({"REQUEST_WEIGHT": 1})
    assert refused.value.retry_after == 90.0


async def test_an_attempt_refused_with_429_cools_only_the_connection_pool() -> None:
    """An attempt refused with 429 (Retry-After: 20) cools the pool it charged, as a REST 429 would; REST is free."""
    clock = FakeClock(auto_advance=False)
    limiter = Limiter([Pool("WS_CONNECTIONS", 300, 300), Pool("REQUEST_WEIGHT", 6000, 60)], key="review24-429",
                      clock=clock, max_wait=0)
    admit = admission(RateLimit(limiter), CONNECT)

    async def throttled() -> None:
        raise RateLimited("throttled", retry_after=20.0, status=429)

    with pytest.raises(RateLimited):
        await admit(throttled)
    await limiter.acquire({"REQUEST_WEIGHT": 1})
    with pytest.raises(RateLimited) as refused:
        await limiter.acquire({"WS_CONNECTIONS": 1})
    assert (type(refused.value), refused.value.pool, refused.value.retry_after) == (RateLimited, "WS_CONNECTIONS", 20.0)


@pytest.mark.parametrize("admit", [None, admission(stack(), CONNECT)], ids=["no-admit", "admit-without-limiter"])
async def test_without_a_limiter_a_blocked_upgrade_only_waits_its_retry_after(
        serve_app: ServeApp, admit: Any) -> None:
    """A custom stream with no limiter behind it: a 403 waits its Retry-After (30 s), then connects, as before."""
    app, upgrades = refuse_first({"Retry-After": "30"})
    server = await serve_app(app)
    url = str(server.make_url("/ws")).replace("http://", "ws://")
    clock = FakeClock(auto_advance=False)
    async with ReconnectWs(lambda: AiohttpWs(url), clock=clock, heartbeat=QUIET, backoff=BACKOFF,
                           admit=admit) as ws:
        await settle(lambda: 30.0 in clock.slept)
        assert len(upgrades) == 1
        await clock.advance(30.01)
        await settle(lambda: ws.stats.connections == 1)
        assert len(upgrades) == 2

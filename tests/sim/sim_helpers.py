"""Signed-request helpers for the simulator tests.

They sign with hmac/hashlib directly (never lotusx.signers), exactly as the venues'
documentation describes, so they test the sim's verification and nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

import lotusx
from lotusx.exchanges.bybit import VENUE_LINEAR
from lotusx.testing import FakeClock


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return int(time.time() * 1000)


class HeldClock(FakeClock):
    """Real time, but every sleep waits for the test's ``advance()``: a sim on it fires its timers when told.

    The clocks read the wall, so signatures and timestamps check as on the system clock; only the
    sim's timers (its DCP window, idle watch, depth cadence) are held, so a test never waits one out.
    """

    def __init__(self) -> None:
        super().__init__(auto_advance=False)

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()


async def eventually(check: Callable[[], bool], what: str, limit: float = 5.0) -> None:
    """Return once ``check()`` holds, polling every 10 ms; fail the test naming ``what`` after ``limit`` seconds."""
    for _ in range(int(limit / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


@dataclass
class Binance:
    """Signs and sends Binance requests: HMAC-SHA256 hex over query string + body."""

    http: aiohttp.ClientSession
    base: str
    key: str
    secret: str

    async def public(self, path: str, **params: Any) -> aiohttp.ClientResponse:
        """An unsigned GET."""
        return await self.http.get(self.base + path, params=params)

    async def signed(self, method: str, path: str, *, key: str | None = None, secret: str | None = None,
                     **params: Any) -> aiohttp.ClientResponse:
        """A SIGNED call; parameters in the query string for GET/DELETE, in the body otherwise."""
        params.setdefault("timestamp", now_ms())
        payload = urlencode(params)
        signature = hmac.new((secret or self.secret).encode(), payload.encode(), hashlib.sha256).hexdigest()
        signed = f"{payload}&signature={signature}"
        headers = {"X-MBX-APIKEY": key or self.key}
        if method in ("GET", "DELETE"):
            return await self.http.request(method, f"{self.base}{path}?{signed}", headers=headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await self.http.request(method, self.base + path, data=signed, headers=headers)


@dataclass
class Bybit:
    """Signs and sends Bybit v5 requests: hex HMAC of timestamp + key + recvWindow + payload."""

    http: aiohttp.ClientSession
    base: str
    key: str
    secret: str

    async def public(self, path: str, **params: Any) -> dict[str, Any]:
        """An unsigned GET, decoded."""
        async with self.http.get(self.base + path, params=params) as resp:
            result: dict[str, Any] = orjson.loads(await resp.read())
            return result

    async def signed(self, method: str, path: str, *, timestamp: int | None = None, secret: str | None = None,
                     key: str | None = None, **params: Any) -> aiohttp.ClientResponse:
        """A private call: query string for GET, JSON body for POST."""
        ts, key = str(timestamp or now_ms()), key or self.key
        payload = urlencode(params) if method == "GET" else orjson.dumps(params).decode()
        sign = hmac.new((secret or self.secret).encode(), f"{ts}{key}5000{payload}".encode(),
                        hashlib.sha256).hexdigest()
        headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": "5000",
                   "X-BAPI-SIGN": sign, "Content-Type": "application/json"}
        if method == "GET":
            return await self.http.get(f"{self.base}{path}?{payload}", headers=headers)
        return await self.http.post(self.base + path, data=payload, headers=headers)


async def body(resp: aiohttp.ClientResponse) -> Any:
    """The decoded JSON body of a response."""
    return orjson.loads(await resp.read())


async def next_json(ws: aiohttp.ClientWebSocketResponse, wait: float = 2.0) -> Any:
    """The next text message, decoded (fails the test after ``wait`` seconds)."""
    msg = await ws.receive(timeout=wait)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return orjson.loads(msg.data)


async def until(ws: aiohttp.ClientWebSocketResponse, predicate: Any, limit: int = 200) -> Any:
    """The first message matching ``predicate`` among the next ``limit``."""
    for _ in range(limit):
        message = await next_json(ws)
        if predicate(message):
            return message
    raise AssertionError("no matching message")


def connect_to(sim: Any, venue: str, category: str) -> Any:
    """``lotusx.connect`` to ``sim``'s ``venue`` in ``category`` ("linear": bybit-linear), with the sim's keys."""
    keys = sim.api_keys(venue)
    return lotusx.connect(VENUE_LINEAR if category == "linear" else venue,
                          credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                          rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue))


async def answer_lost_if(lose: bool, sim: Any, venue: str, request: Any, call_next: Any) -> Any:
    """``call_next(request)``; when ``lose``, the sim's ``venue`` carries it out, then cuts the connection
    without answering (chaos ``lose_answer_rate``, reset after)."""
    chaos = sim.chaos(venue)
    chaos.lose_answer_rate = 1.0 if lose else 0.0
    try:
        return await call_next(request)
    finally:
        chaos.lose_answer_rate = 0.0


@asynccontextmanager
async def watching_orders(ex: Any, probe: Callable[[int], Awaitable[Any]]) -> AsyncIterator[list[Any]]:
    """What ``ex.watch_orders()`` yields, collected in a list, once the stream is live.

    Live: ``probe(n)`` places an order, which is cancelled, until one shows on the stream (20 tries).
    The stream is cancelled on the way out; the list stays readable.
    """
    seen: list[Any] = []

    async def drain() -> None:
        async for update in ex.watch_orders():
            seen.append(update)

    task = asyncio.create_task(drain())
    try:
        await _live(ex, probe, seen)
        yield seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _live(ex: Any, probe: Callable[[int], Awaitable[Any]], seen: list[Any]) -> None:
    for n in range(20):
        placed = await probe(n)
        await ex.cancel_order(placed.symbol, order_id=placed.order_id)
        for _ in range(25):
            if any(o.order_id == placed.order_id for o in seen):
                return
            await asyncio.sleep(0.02)
    raise AssertionError("the user stream never delivered a probe order")

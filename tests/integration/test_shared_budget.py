"""Several OS processes share one budget, and one ban, through a real redis-server.

A loopback aiohttp server counts the requests it receives per fixed 2 s window (aligned to
the epoch, as the limiter's windows are, as Binance's are); worker processes hammer it
through ``RateLimit`` with Redis storage.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from multiprocessing.queues import Queue

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from lotusx.kernel.classify import MapErrors
from lotusx.kernel.errors import IpBanned, RateLimited
from lotusx.kernel.message import Endpoint, Request
from lotusx.kernel.service import stack
from lotusx.layers.ratelimit import Limiter, Pool, RateLimit
from lotusx.transport.rest import AiohttpRest

BUDGET = Pool("REQUEST_WEIGHT", 200, 2)
GUARD = 0.25
WORKERS = 4
TASKS_PER_WORKER = 3
WINDOWS = 4
HIT = Endpoint("hit", "GET", "/hit", costs={"REQUEST_WEIGHT": 1})
BAN = Endpoint("ban", "GET", "/ban", costs={"REQUEST_WEIGHT": 1})

pytestmark = [pytest.mark.redis, pytest.mark.timeout(30)]
ServeApp = Callable[[web.Application], Awaitable[TestServer]]


async def test_processes_together_never_exceed_the_budget_and_use_most_of_it(
    redis_url: str, serve_app: ServeApp,
) -> None:
    """No server window ever sees more than 200, and the workers use >= 80 % of the budget."""
    seen: Counter[int] = Counter()

    async def hit(_: web.Request) -> web.Response:
        seen[int(time.time() // BUDGET.per_seconds)] += 1
        return web.Response(body=b"{}")

    app = web.Application()
    app.router.add_get("/hit", hit)
    server = await serve_app(app)
    context = multiprocessing.get_context("spawn")
    ready, go = context.Queue(), context.Queue()
    processes = [spawn(hammer, redis_url, str(server.make_url("/")), ready, go) for _ in range(WORKERS)]
    for _ in range(WORKERS):  # start together, whatever the machine's load did to boot times
        await asyncio.to_thread(ready.get, timeout=20)
    per = BUDGET.per_seconds
    start = math.ceil((time.time() + 0.5) / per) * per
    stop = start + WINDOWS * per
    for _ in range(WORKERS):
        go.put((start, stop))
    exit_codes = [await finished(p, deadline=stop + 8) for p in processes]

    assert exit_codes == [0] * WORKERS
    assert max(seen.values()) <= BUDGET.limit, dict(seen)
    used = sum(seen[int(start // per) + i] for i in range(WINDOWS))
    assert used >= 0.8 * BUDGET.limit * WINDOWS, dict(seen)


async def test_a_ban_recorded_by_one_process_blocks_another(redis_url: str, serve_app: ServeApp) -> None:
    """After a worker process gets a 418, this process's own limiter refuses, then waits it out."""

    async def ban(_: web.Request) -> web.Response:
        return web.Response(status=418, headers={"Retry-After": "2"})

    async def hit(_: web.Request) -> web.Response:
        return web.Response(body=b"{}")

    app = web.Application()
    app.router.add_get("/ban", ban)
    app.router.add_get("/hit", hit)
    server = await serve_app(app)
    assert await finished(spawn(get_banned, redis_url, str(server.make_url("/"))), deadline=time.time() + 15) == 0

    impatient = Limiter([BUDGET], redis_url, key="shared", max_wait=0.2, guard=GUARD)
    with pytest.raises(IpBanned):
        await impatient.acquire(HIT.costs)
    patient = Limiter([BUDGET], redis_url, key="shared", max_wait=10.0, guard=GUARD)
    await patient.acquire(HIT.costs)
    assert await patient.used(BUDGET) >= 1


async def test_a_cool_off_is_shared_and_never_shortened(redis_url: str) -> None:
    """A 429 cool-off written by one limiter holds back another; a shorter one cannot cut it."""
    writer = Limiter([BUDGET], redis_url, key="cool", guard=GUARD)
    reader = Limiter([BUDGET], redis_url, key="cool", max_wait=0.1, guard=GUARD)
    await writer.cool_off(["REQUEST_WEIGHT"], 30.0)
    await writer.cool_off(["REQUEST_WEIGHT"], 1.0)
    with pytest.raises(RateLimited) as caught:
        await reader.acquire(HIT.costs)
    assert caught.value.pool == "REQUEST_WEIGHT"
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 25


# ===== worker processes =====


def spawn(target: object, *args: object) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
    return process


async def finished(process: multiprocessing.process.BaseProcess, deadline: float) -> int | None:
    """The exit code, killing the process if it outlives ``deadline``."""
    await asyncio.to_thread(process.join, max(0.1, deadline - time.time()))
    if process.is_alive():
        process.kill()
        await asyncio.to_thread(process.join, 5)
    return process.exitcode


def hammer(redis_url: str, base_url: str, ready: Queue[int], go: Queue[tuple[float, float]]) -> None:
    asyncio.run(_hammer(redis_url, base_url, ready, go))


async def _hammer(redis_url: str, base_url: str, ready: Queue[int], go: Queue[tuple[float, float]]) -> None:
    limiter = Limiter([BUDGET], redis_url, key="shared", max_wait=5.0, guard=GUARD)
    transport = AiohttpRest(base_url)
    service = stack(RateLimit(limiter), MapErrors())(transport)

    async def loop(stop: float) -> None:
        while time.time() < stop:
            await service(Request(method="GET", path="/hit", endpoint=HIT))

    ready.put(1)
    start, stop = go.get(timeout=20)
    await asyncio.sleep(max(0.0, start - time.time()))
    try:
        await asyncio.gather(*(loop(stop) for _ in range(TASKS_PER_WORKER)))
    finally:
        await transport.aclose()


def get_banned(redis_url: str, base_url: str) -> None:
    asyncio.run(_get_banned(redis_url, base_url))


async def _get_banned(redis_url: str, base_url: str) -> None:
    transport = AiohttpRest(base_url)
    service = stack(RateLimit(Limiter([BUDGET], redis_url, key="shared", guard=GUARD)), MapErrors())(transport)
    try:
        await service(Request(method="GET", path="/ban", endpoint=BAN))
    except IpBanned:
        return
    finally:
        await transport.aclose()
    raise AssertionError("the server did not ban us")

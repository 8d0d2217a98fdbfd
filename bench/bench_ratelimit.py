"""Cost of one RateLimit acquire for a 2-pool request, memory and Redis storage.

Run: ``.venv/bin/python bench/bench_ratelimit.py``. Limits are huge so nothing ever waits:
this measures the hot path only. Redis uses ``$REDIS_URL`` or a throwaway local
redis-server when one is installed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from lotusx.exchanges.binance.endpoints import USAGE
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.ratelimit import Limiter, Pool, RateLimit

POOLS = (Pool("REQUEST_WEIGHT", 10**12, 60), Pool("ORDERS", 10**12, 10))
ORDER = Endpoint("new_order", "POST", "/api/v3/order", costs={"REQUEST_WEIGHT": 1, "ORDERS": 1})
REQUEST = Request(method="POST", path="/api/v3/order", endpoint=ORDER)
# What Binance reports on an order (below our own count after the first call, as for a client
# alone on its IP): the layer reads and learns from it on every call, as it does for real.
OK = Response(status=200, headers={"X-MBX-USED-WEIGHT-1M": "1", "X-MBX-ORDER-COUNT-10S": "1",
                                   "X-MBX-ORDER-COUNT-1D": "1", "Content-Type": "application/json"})


async def per_call(call: Callable[[], Awaitable[object]], n: int) -> float:
    """Best of three runs, in µs per call."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            await call()
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


async def inner(_: Request) -> Response:
    return OK


async def bench(storage: str, n: int) -> None:
    limiter = Limiter(POOLS, storage, key=f"bench-{os.getpid()}")
    service = RateLimit(limiter, usage=USAGE)(inner)
    costs = ORDER.costs

    async def acquire() -> None:
        await limiter.acquire(costs)

    async def acquire_and_yield() -> None:
        await limiter.acquire(costs)
        await asyncio.sleep(0)  # lets limits' memory expiry task run, as in real use

    async def just_yield() -> None:
        await asyncio.sleep(0)

    async def layer() -> None:
        await service(REQUEST)

    label = storage.split("@")[-1]
    print(f"{label:28s} acquire, 2 pools          {await per_call(acquire, n):8.2f} µs/call")
    if storage.startswith("memory"):
        yielded = await per_call(acquire_and_yield, n) - await per_call(just_yield, n)
        print(f"{label:28s} acquire + loop turn       {yielded:8.2f} µs/call (sleep(0) subtracted)")
    print(f"{label:28s} RateLimit layer, no-op inner {await per_call(layer, n):5.2f} µs/call")


@contextmanager
def local_redis() -> Iterator[str | None]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", workdir,
                                    "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        try:
            for _ in range(250):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=5)


async def main() -> None:
    await bench("memory://", 20_000)
    with local_redis() as url:
        if url is None:
            print("redis: skipped (no redis-server, no $REDIS_URL)")
        else:
            await bench(url, 2_000)


if __name__ == "__main__":
    asyncio.run(main())

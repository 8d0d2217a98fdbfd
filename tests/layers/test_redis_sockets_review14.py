"""Soak: connectors and limiters opened and closed many times leave no Redis socket behind.

The garbage collector is off while each test runs: a socket must close because its owner was
closed, not because a collection happened to find it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from redis_server import RedisServer

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.layers.limiter import Limiter, Pool
from lotusx.testing import FakeClock, FakeTransport

CYCLES = 20
POOL = Pool("P", 1000, 10)


@pytest.fixture(autouse=True)
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def sockets_to(port: int) -> int:
    """Open TCP sockets of this process connected to ``port`` on the loopback."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since it was listed
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    with open("/proc/self/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if int(row[2].split(":")[1], 16) == port and row[9] in inodes)


def fake_binance(request: Request) -> Response:
    if request.path == "/api/v3/time":
        return Response(status=200, body=b'{"serverTime": 1700000000000}')
    return Response(status=200, body=b'{"lastUpdateId":7,"bids":[["1.5","2"]],"asks":[["1.6","3"]]}')


async def test_closed_limiters_hold_no_redis_socket(redis: RedisServer) -> None:
    """A limiter that opened Redis from its URI closes its sockets on aclose(), however many came and went."""
    for i in range(CYCLES):
        limiter = Limiter([POOL], redis.url, key=f"soak-{i}")
        await limiter.acquire({"P": 1})
        await limiter.aclose()
    assert sockets_to(redis.port) == 0


async def test_a_closed_limiter_connects_again_when_used(redis: RedisServer) -> None:
    """A limiter used after aclose() connects to Redis again."""
    limiter = Limiter([POOL], redis.url, key="again")
    await limiter.acquire({"P": 1})
    await limiter.aclose()
    await limiter.acquire({"P": 1})
    assert sockets_to(redis.port) == 1
    await limiter.aclose()


async def test_a_storage_passed_in_is_left_open(redis: RedisServer) -> None:
    """aclose() leaves a storage the caller passed in open: it is the caller's to close."""
    opener = Limiter([POOL], redis.url, key="opener")
    await opener.acquire({"P": 1})
    borrower = Limiter([POOL], opener.storage, key="borrower")
    await borrower.aclose()
    assert sockets_to(redis.port) == 1
    await opener.aclose()


async def test_closed_connectors_hold_no_redis_socket(redis: RedisServer) -> None:
    """Each connector closes the Redis connection of its rate limits when its block ends."""
    for _ in range(CYCLES):
        async with lotusx.connect("binance", transport=FakeTransport(fake_binance), clock=FakeClock(),
                                  rate_limit_storage=redis.url) as ex:
            await ex.get_order_book("BTCUSDT", depth=5)
    assert sockets_to(redis.port) == 0

"""A shared (Redis) limiter holds a bounded number of Redis connections, however many calls arrive at once."""

from __future__ import annotations

import asyncio

import coredis
import pytest
from redis_server import RedisServer

import lotusx
from lotusx.kernel.errors import ConfigError, ConnectError
from lotusx.kernel.message import Request, Response
from lotusx.layers.limiter import STORAGE_CONNECTIONS, Limiter, Pool
from lotusx.testing import FakeClock, FakeTransport
from tests.layers.test_limiter_redis_review19 import cluster_url, told

__all__ = ["cluster_url"]  # a fixture, used by name

T0 = 1_700_000_040.0  # a whole minute since the epoch: clear of every guard band
BURST = 2000
POOL = Pool("P", 10_000, 60)
COST = {"P": 1}


async def clients(url: str) -> tuple[int, int]:
    """(clients connected now, connections received so far), as the server counts them, without our own."""
    admin = coredis.Redis.from_url(url, decode_responses=True)
    try:
        connected = (await admin.info("clients"))["connected_clients"]
        received = (await admin.info("stats"))["total_connections_received"]
    finally:
        admin.connection_pool.disconnect()
    assert isinstance(connected, int) and isinstance(received, int)
    return connected - 1, received - 1


def order_book(request: Request) -> Response:
    return Response(status=200, body=b'{"lastUpdateId":7,"bids":[["1.5","2"]],"asks":[["1.6","3"]]}')


async def burst(limiter: Limiter, count: int = BURST) -> None:
    await asyncio.gather(*(limiter.acquire(COST) for _ in range(count)))


async def burst_across_a_restart(limiter: Limiter, server: RedisServer, count: int = BURST) -> None:
    """A burst, ``server`` restarted (every connection lost, the scripts gone: a call between is a
    ``ConnectError``), then another burst."""
    await burst(limiter, count)
    server.stop()
    with pytest.raises(ConnectError):
        await limiter.acquire(COST)
    server.start()
    await burst(limiter, count)


@pytest.mark.redis
async def test_a_burst_of_acquires_opens_at_most_the_default_number_of_connections(redis: RedisServer) -> None:
    """2000 acquires at once on one limiter open no more than STORAGE_CONNECTIONS connections to Redis."""
    _, received_before = await clients(redis.url)
    # Connections received counts every one ever made: a reply or connect timing out on a loaded
    # machine would replace one. This test is of the bound, not of timeouts (those of a stalled
    # loop: test_limiter_redis_timeouts_review27), so it gives them room.
    limiter = Limiter([POOL], redis.url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=20.0)
    await burst(limiter)
    connected, received = await clients(redis.url)
    assert connected <= STORAGE_CONNECTIONS
    assert received - received_before - 1 <= STORAGE_CONNECTIONS  # the 1: clients() of before
    await limiter.aclose()


@pytest.mark.redis
async def test_a_burst_of_acquires_charges_each_once(redis: RedisServer) -> None:
    """Acquires that waited for a connection are all charged, each once."""
    limiter = Limiter([POOL], redis.url, key="t", clock=FakeClock(T0), max_wait=0.0)
    await burst(limiter)
    assert await limiter.used(POOL) == BURST
    await limiter.aclose()


@pytest.mark.redis
async def test_a_burst_after_redis_restarted_reconnects_within_the_bound_and_charges_each_once(
        redis: RedisServer) -> None:
    """Every connection lost at once, then 2000 acquires: at most STORAGE_CONNECTIONS again, each charged once."""
    limiter = Limiter([POOL], redis.url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.5)
    await burst_across_a_restart(limiter, redis)
    assert (await clients(redis.url))[0] <= STORAGE_CONNECTIONS
    assert await limiter.used(POOL) == BURST  # a Redis without persistence forgot the first burst
    await limiter.aclose()


@pytest.mark.redis
async def test_storage_connections_sets_the_bound(redis: RedisServer) -> None:
    """Limiter(storage_connections=3) holds at most 3 connections through a burst, and charges every acquire."""
    limiter = Limiter([POOL], redis.url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_connections=3)
    await burst(limiter)
    assert (await clients(redis.url))[0] <= 3
    assert await limiter.used(POOL) == BURST
    await limiter.aclose()


@pytest.mark.redis
async def test_max_connections_in_the_uri_sets_the_bound_of_a_connector(redis: RedisServer) -> None:
    """?max_connections=2 in rate_limit_storage bounds a connector's Redis connections (the URI wins)."""
    async with lotusx.connect("binance", transport=FakeTransport(order_book), clock=FakeClock(T0),
                              rate_limit_storage=f"{redis.url}?max_connections=2") as ex:
        await asyncio.gather(*(ex.get_order_book("BTCUSDT", depth=5) for _ in range(200)))
        assert (await clients(redis.url))[0] <= 2


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "8"])
def test_a_storage_connections_that_is_not_a_positive_whole_number_is_a_config_error(bad: object) -> None:
    """A bound of 0 would hold every call; "8" read from the environment is refused as a storage_timeout is."""
    with pytest.raises(ConfigError, match="storage_connections"):
        Limiter([POOL], "redis://127.0.0.1:6379", storage_connections=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", ["max_connections=0", "max_connections=many", "max_connections=-3"])
def test_a_bad_max_connections_in_the_uri_is_a_config_error_without_the_password(query: str) -> None:
    """The URI's bound is checked as the keyword's is; the error masks the password."""
    uri = f"redis://u:hunter2@127.0.0.1:6379/0?{query}"  # not on the raising line: the traceback quotes that
    with pytest.raises(ConfigError, match="max_connections") as caught:
        Limiter([POOL], uri)
    assert "hunter2" not in told(caught.value)


async def test_a_wait_for_a_free_connection_beyond_storage_timeout_is_a_connect_error() -> None:
    """With its one connection held by a silent server, the next acquire is a ConnectError, not a hang."""
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # never answers (the handshake holds the connection for 30 s) until the client closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = Limiter([POOL], f"redis://u:hunter2@127.0.0.1:{port}?stream_timeout=30", key="t",
                      storage_timeout=0.2, storage_connections=1)
    holder = asyncio.create_task(limiter.acquire(COST))
    try:
        async with asyncio.timeout(20):  # a hang fails the test instead of stalling the suite
            await accepted.wait()
            with pytest.raises(ConnectError, match="No connection available") as caught:
                await limiter.acquire(COST)
    finally:
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        await limiter.aclose()
        server.close()
        await server.wait_closed()
    assert "hunter2" not in told(caught.value) and "u:***@127.0.0.1" in str(caught.value)


@pytest.mark.redis
async def test_a_burst_on_a_redis_cluster_opens_at_most_the_default_number_of_connections(cluster_url: str) -> None:
    """The cluster's pool is bounded too: 2000 acquires at once, each charged once, within STORAGE_CONNECTIONS."""
    limiter = Limiter([POOL], cluster_url, key="t", clock=FakeClock(T0), max_wait=0.0)
    await burst(limiter)
    assert (await clients(cluster_url.replace("redis+cluster", "redis")))[0] <= STORAGE_CONNECTIONS
    assert await limiter.used(POOL) == BURST
    await limiter.aclose()

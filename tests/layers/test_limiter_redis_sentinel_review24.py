"""A limiter on ``redis+sentinel://`` holds as few connections, fails as fast and tells as little as one on ``redis://``."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import coredis
import pytest
from redis_server import RedisSentinel, RedisServer, free_port

from lotusx.kernel.errors import ConnectError
from lotusx.layers.limiter import STORAGE_CONNECTIONS, Limiter
from lotusx.testing import FakeClock
from tests.layers.test_limiter_redis_pool_review23 import COST, POOL, T0, burst_across_a_restart
from tests.layers.test_limiter_redis_pool_review23 import burst as burst_of
from tests.layers.test_limiter_redis_review19 import told

BURST = 500
PASSWORD = "hunter2"


@dataclass
class Watched:
    """A password-protected master and the sentinel watching it."""

    master: RedisServer
    sentinel: RedisSentinel

    @property
    def uri(self) -> str:
        return f"redis+sentinel://:{PASSWORD}@127.0.0.1:{self.sentinel.port}/{self.sentinel.name}"


@pytest.fixture
def watched() -> Iterator[Watched]:
    """A master, and a sentinel (``redis-server --sentinel``) watching it: up within 10 s each, or an error."""
    master = RedisServer(options=("--requirepass", PASSWORD))
    if master.binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI but is not installed")
        pytest.skip("redis-server is not installed")
    with master, RedisSentinel(master.port, password=PASSWORD) as sentinel:
        yield Watched(master, sentinel)


async def received(port: int) -> tuple[int, int]:
    """(our clients connected now, connections received so far) on ``port``, without a sentinel's nor this one."""
    admin = coredis.Redis(host="127.0.0.1", port=port, password=PASSWORD, decode_responses=True)
    try:
        clients = await admin.client_list()
        total = (await admin.info("stats"))["total_connections_received"]
    finally:
        admin.connection_pool.disconnect()
    ours = [c for c in clients if not str(c.get("name", "")).startswith("sentinel-")]
    assert isinstance(total, int)
    return len(ours) - 1, total - 1


async def burst(limiter: Limiter) -> None:
    await burst_of(limiter, BURST)


@pytest.mark.redis
@pytest.mark.parametrize(("query", "keywords", "bound"), [
    ("", {}, STORAGE_CONNECTIONS), ("?max_connections=3", {}, 3), ("", {"storage_connections": 3}, 3)])
async def test_a_burst_through_a_sentinel_opens_at_most_the_bound_of_connections_to_the_master(
        watched: Watched, query: str, keywords: dict[str, int], bound: int) -> None:
    """500 acquires at once through a sentinel open no more than the bound on the master, default or given."""
    _, before = await received(watched.master.port)
    limiter = Limiter([POOL], watched.uri + query, key="t", clock=FakeClock(T0), max_wait=0.0,
                      **keywords)  # type: ignore[arg-type]
    await burst(limiter)
    connected, after = await received(watched.master.port)
    assert connected <= bound
    assert after - before - 1 <= bound  # every connection it ever opened, not only those still open; 1: received()
    await limiter.aclose()


@pytest.mark.redis
async def test_a_burst_through_a_sentinel_charges_each_acquire_once(watched: Watched) -> None:
    """Acquires that waited for a connection to the master are all charged, each once."""
    limiter = Limiter([POOL], f"{watched.uri}?max_connections=3", key="t", clock=FakeClock(T0), max_wait=0.0)
    await burst(limiter)
    assert await limiter.used(POOL) == BURST
    await limiter.aclose()


@pytest.mark.redis
async def test_a_burst_through_a_sentinel_asks_the_sentinel_on_at_most_the_bound_of_connections(
        watched: Watched) -> None:
    """Each new connection to the master first asks the sentinel where it is: as many connections at most there."""
    limiter = Limiter([POOL], f"{watched.uri}?max_connections=3", key="t", clock=FakeClock(T0), max_wait=0.0)
    await burst(limiter)
    # Those open, not all it received: coredis drops its first connections to a sentinel (which
    # refuses its MODULE LIST) and connects again, on the same slot of the pool.
    assert (await received(watched.sentinel.port))[0] <= 3
    await limiter.aclose()


@pytest.mark.redis
async def test_a_burst_after_the_master_restarted_charges_each_acquire_once(watched: Watched) -> None:
    """Every connection lost and the master's scripts gone with it: the next burst still charges each acquire once."""
    limiter = Limiter([POOL], watched.uri, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.5)
    await burst_across_a_restart(limiter, watched.master, BURST)
    assert await limiter.used(POOL) == BURST  # a Redis without persistence forgot the first burst
    await limiter.aclose()


@pytest.mark.redis
async def test_a_connection_to_a_restarted_master_loads_the_scripts_before_any_call(watched: Watched) -> None:
    """No script call meets a NOSCRIPT on a master that lost its scripts: each connection loads them as it opens."""
    limiter = Limiter([POOL], watched.uri, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.5)
    await burst_across_a_restart(limiter, watched.master, BURST)
    admin = coredis.Redis(host="127.0.0.1", port=watched.master.port, password=PASSWORD, decode_responses=True)
    errors = await admin.info("errorstats")
    admin.connection_pool.disconnect()
    assert "errorstat_NOSCRIPT" not in errors
    await limiter.aclose()


@pytest.mark.redis
async def test_aclose_closes_the_connections_to_the_master_and_to_the_sentinel(watched: Watched) -> None:
    """Nothing the limiter opened stays open after aclose, on the master nor on the sentinel."""
    limiter = Limiter([POOL], watched.uri, key="t", clock=FakeClock(T0), max_wait=0.0)
    await burst(limiter)
    await limiter.aclose()
    assert (await received(watched.master.port))[0] == 0
    assert (await received(watched.sentinel.port))[0] == 0


async def test_a_sentinel_nobody_listens_on_is_a_connect_error_without_the_password() -> None:
    """No sentinel at the address: ConnectError, the password masked."""
    uri = f"redis+sentinel://:{PASSWORD}@127.0.0.1:{free_port()}/mymaster"
    limiter = Limiter([POOL], uri, key="t", storage_timeout=0.2)
    async with asyncio.timeout(20):  # a hang fails the test instead of stalling the suite
        with pytest.raises(ConnectError) as caught:
            await limiter.acquire(COST)
    assert PASSWORD not in told(caught.value) and ":***@127.0.0.1" in str(caught.value)
    await limiter.aclose()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never answers."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_a_sentinel_that_never_answers_is_a_connect_error_not_a_hang(silent_port: int) -> None:
    """A sentinel that accepts and never answers fails within storage_timeout's tries: ConnectError, password masked."""
    uri = f"redis+sentinel://:{PASSWORD}@127.0.0.1:{silent_port}/mymaster"
    limiter = Limiter([POOL], uri, key="t", storage_timeout=0.2)
    try:
        async with asyncio.timeout(20):  # a hang fails the test instead of stalling the suite
            with pytest.raises(ConnectError) as caught:
                await limiter.acquire(COST)
    finally:
        await limiter.aclose()
    assert PASSWORD not in told(caught.value)


@pytest.mark.redis
async def test_a_master_that_never_answers_is_a_connect_error_not_a_hang(watched: Watched) -> None:
    """The sentinel names a master that takes connections and never answers (stopped): ConnectError, password masked."""
    limiter = Limiter([POOL], watched.uri, key="t", storage_timeout=0.2)
    pid = watched.master.pid
    os.kill(pid, signal.SIGSTOP)  # the kernel still accepts its connections; nothing answers them
    try:
        async with asyncio.timeout(20):  # a hang fails the test instead of stalling the suite
            with pytest.raises(ConnectError) as caught:
                await limiter.acquire(COST)
    finally:
        os.kill(pid, signal.SIGCONT)
        await limiter.aclose()
    assert PASSWORD not in told(caught.value)


@dataclass
class Replicated(Watched):
    """A master, a replica of it, and the sentinel watching both."""

    replica: RedisServer


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(1000):  # at most 10 s
        if await check():
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"{what} within 10 s")


@pytest.fixture
async def replicated() -> AsyncIterator[Replicated]:
    """:func:`watched` with a replica, in sync before the sentinel starts (else seen at its next look, 10 s on)."""
    master = RedisServer(options=("--requirepass", PASSWORD, "--repl-diskless-sync-delay", "0"))
    if master.binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI but is not installed")
        pytest.skip("redis-server is not installed")
    with master:
        replica = RedisServer(options=("--requirepass", PASSWORD, "--masterauth", PASSWORD,
                                       "--replicaof", "127.0.0.1", str(master.port)))
        with replica:
            admin = coredis.Redis(host="127.0.0.1", port=replica.port, password=PASSWORD, decode_responses=True)

            async def synced() -> bool:
                return (await admin.info("replication")).get("master_link_status") == "up"

            await _until(synced, "the replica did not sync")
            admin.connection_pool.disconnect()
            with RedisSentinel(master.port, password=PASSWORD) as sentinel:
                asked = coredis.Redis(host="127.0.0.1", port=sentinel.port, password=PASSWORD, decode_responses=True)

                async def listed() -> bool:
                    replicas = await asked.sentinel_replicas(sentinel.name)
                    return bool(replicas) and not replicas[0]["is_sdown"]

                await _until(listed, "the sentinel did not list the replica")
                asked.connection_pool.disconnect()
                yield Replicated(master, sentinel, replica)


@pytest.mark.redis
async def test_used_reads_the_primary_not_a_replica(replicated: Replicated) -> None:
    """With the sentinel's replica stopped, used() still answers: the limiter reads its counts where it charged them."""
    limiter = Limiter([POOL], replicated.uri, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.2)
    await limiter.acquire(COST)
    os.kill(replicated.replica.pid, signal.SIGSTOP)  # a replica far behind, at its extreme
    try:
        async with asyncio.timeout(20):  # a hang fails the test instead of stalling the suite
            assert await limiter.used(POOL) == 1
    finally:
        os.kill(replicated.replica.pid, signal.SIGCONT)
        await limiter.aclose()

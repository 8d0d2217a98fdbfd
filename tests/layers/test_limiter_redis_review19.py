"""Shared (Redis) rate limiting, reviewed against a real redis-server: secrets, cluster failures, restarts."""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable

import coredis
import pytest
from redis_server import RedisServer, cluster_port, free_port

from lotusx.kernel.errors import ConfigError, ConnectError, IpBanned, RateLimited
from lotusx.layers.limiter import Limiter, Pool, Usage
from lotusx.testing import FakeClock
from tests.layers.test_limiter_model_review14 import Unscripted

T0 = 1_700_000_040.0  # a whole minute since the epoch
WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)
COST = {"REQUEST_WEIGHT": 1}


def told(error: BaseException) -> str:
    """Everything an error can tell whoever logs it: its text, its repr, and every exception chained to it."""
    texts, seen = [], set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        texts += [str(link), repr(link)]
        link = link.__cause__ or link.__context__
    return "\n".join([*texts, *traceback.format_exception(error)])


# ===== secrets =====


@pytest.mark.parametrize("uri", ["redis://admin:hunter2/x@127.0.0.1:6399", "redis://admin:hunter2#x@127.0.0.1:6399",
                                 "redis://:hunter2?x@127.0.0.1:6399/0", "redis+cluster://u:hunter2/x@127.0.0.1:6399"])
def test_a_password_with_a_reserved_character_never_shows_in_the_config_error(uri: str) -> None:
    """A generated password pasted unencoded ('/', '#', '?') makes the URI unparsable: refused, the password masked."""
    with pytest.raises(ConfigError) as caught:
        Limiter([WEIGHT], uri)
    assert "hunter2" not in told(caught.value)


def test_an_unparsable_storage_uri_chains_no_error_that_quotes_it() -> None:
    """limits' parse error quotes the whole URI: the ConfigError tells what was wrong without chaining it."""
    uri = "redis://admin:hunter2@127.0.0.1:notaport"  # not on the raising line: the traceback quotes that
    with pytest.raises(ConfigError, match="Unable to parse") as caught:
        Limiter([WEIGHT], uri)
    assert "hunter2" not in told(caught.value)


# ===== Redis Cluster =====


@pytest.fixture
async def cluster_url() -> AsyncIterator[str]:
    """A Redis Cluster of one node holding every slot: the smallest real cluster."""
    server = RedisServer(options=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"))
    server.port = cluster_port()  # a random free port above 55535 leaves the node no room for its bus
    if server.binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI but is not installed")
        pytest.skip("redis-server is not installed")
    with server:
        node = coredis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
        await node.cluster_addslotsrange([(0, 16383)])
        for _ in range(1000):  # until the node sees its slots: at most 10 s
            if (await node.cluster_info()).get("cluster_state") == "ok":
                break
            await asyncio.sleep(0.01)
        node.connection_pool.disconnect()
        yield f"redis+cluster://127.0.0.1:{server.port}"


@pytest.mark.redis
async def test_limiters_on_a_redis_cluster_share_charges_cool_offs_and_pull_ups(cluster_url: str) -> None:
    """A cluster gets no multi-key script (CROSSSLOT), only one-key calls: what one limiter records, another honours."""
    clock = FakeClock(T0)
    one, other = (Limiter([WEIGHT], cluster_url, key="t", clock=clock, max_wait=0.0) for _ in range(2))
    await one.acquire(COST)
    await one.sync(Usage("REQUEST_WEIGHT", 9))
    await other.acquire(COST)
    with pytest.raises(RateLimited):
        await one.acquire(COST)
    assert await other.used(WEIGHT) == 10
    await other.cool_off(None, 30.0)
    with pytest.raises(IpBanned):
        await one.acquire({})
    await one.aclose()
    await other.aclose()


@pytest.mark.parametrize("call", [lambda lim: lim.acquire({"REQUEST_WEIGHT": 1}),
                                  lambda lim: lim.used(WEIGHT),
                                  lambda lim: lim.sync(Usage("REQUEST_WEIGHT", 3)),
                                  lambda lim: lim.cool_off(None, 5.0)])
async def test_an_unreachable_redis_cluster_is_a_connect_error_without_the_password(
        call: Callable[[Limiter], Awaitable[object]]) -> None:
    """coredis' RedisClusterException is no RedisError, so limits lets it through: it is a ConnectError all the same."""
    lim = Limiter([WEIGHT], f"redis+cluster://u:hunter2@127.0.0.1:{free_port()}", key="t", storage_timeout=0.2)
    async with asyncio.timeout(10):  # a hang fails the test instead of stalling the suite
        with pytest.raises(ConnectError, match="cannot be connected") as caught:
            await call(lim)
    assert "hunter2" not in told(caught.value) and "u:***@127.0.0.1" in str(caught.value)


# ===== a Redis that goes away, or holds a call =====


@pytest.mark.redis
async def test_a_redis_restarted_mid_run_is_used_again_without_restarting_the_process(redis: RedisServer) -> None:
    """Down, acquire is a ConnectError; back (its scripts and counts gone with it), the same limiter charges again."""
    lim = Limiter([WEIGHT], redis.url, key="t", clock=FakeClock(T0), storage_timeout=0.5)
    await lim.acquire(COST)
    redis.stop()
    with pytest.raises(ConnectError):
        await lim.acquire(COST)
    redis.start()
    await lim.acquire(COST)
    assert await lim.used(WEIGHT) == 1  # a Redis without persistence forgets the window's earlier charge


@pytest.mark.redis
async def test_an_acquire_cancelled_while_redis_holds_its_script_is_charged_at_most_once(redis: RedisServer) -> None:
    """The cancelled charge lands or not, never twice, and the limiter's next calls get their own answers."""
    lim = Limiter([WEIGHT], redis.url, key="t", clock=FakeClock(T0))
    await lim.acquire(COST)
    admin = coredis.Redis.from_url(redis.url, decode_responses=True)
    await admin.client_pause(10_000, coredis.PureToken.WRITE)
    try:
        task = asyncio.create_task(lim.acquire(COST))
        for _ in range(500):  # until Redis holds the script call (its client is flagged "b"): at most 5 s
            if any("b" in client["flags"] for client in await admin.client_list()):
                break
            await asyncio.sleep(0.01)
        task.cancel()
    finally:
        await admin.client_unpause()
    with pytest.raises(asyncio.CancelledError):
        await task
    before = await lim.used(WEIGHT)
    assert before in (1, 2)
    await lim.acquire(COST)
    assert await lim.used(WEIGHT) == before + 1


# ===== storages without scripts (a Redis Cluster) =====

BEHIND = 5.0  # seconds the venue's clock, which the limiter keeps, is behind this host's


@pytest.mark.redis
async def test_without_scripts_a_longer_ban_is_kept_when_the_venues_clock_is_behind(redis: RedisServer) -> None:
    """A 14 s ban after a 10 s one lasts 14 s in Redis: the storage's expiry is compared on the storage's clock."""
    lim = Limiter([WEIGHT], Unscripted(redis.url), key="t", clock=FakeClock(time.time() - BEHIND))
    await lim.cool_off(None, 10.0)
    await lim.cool_off(None, 14.0)
    assert await coredis.Redis.from_url(redis.url).ttl("LIMITS:lotusx/t/ban") > 12


@pytest.mark.redis
async def test_without_scripts_another_process_waits_out_a_ban_as_long_as_it_lasts(redis: RedisServer) -> None:
    """A 10 s ban marked by one process is 10 s for another, not 10 s plus the offset between the clocks."""
    await Limiter([WEIGHT], Unscripted(redis.url), key="t").cool_off(None, 10.0)
    other = Limiter([WEIGHT], Unscripted(redis.url), key="t", clock=FakeClock(time.time() - BEHIND), max_wait=0.0)
    with pytest.raises(IpBanned) as caught:
        await other.acquire(COST)
    assert caught.value.retry_after is not None and caught.value.retry_after <= 10.5

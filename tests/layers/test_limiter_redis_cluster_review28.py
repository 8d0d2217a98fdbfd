"""A limiter on a real Redis Cluster: a command that may have run is sent once; a moved slot is followed.

coredis' ``RedisCluster`` sends a call again after a ``ConnectionError`` or ``TimeoutError``
(its default ``CompositeRetryPolicy``, two more tries): an ``INCRBY`` whose reply came too late
had run all the same, and each try charged the acquire again. A ``MOVED`` redirection is another
matter: the node refused the command, and coredis follows it in its own loop, whatever the
retry policy. The node announces a :class:`CountingProxy` as its address, so every connection
the cluster client makes (the slot map's, the calls') goes through it and can lose its replies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import coredis
import pytest
from redis_server import RedisServer, cluster_port

from lotusx.kernel.errors import ConnectError
from lotusx.layers.limiter import Limiter, Pool
from lotusx.testing import FakeClock
from tests.conftest import eventually
from tests.layers.test_limiter_redis_review19 import cluster_url
from tests.layers.test_limiter_redis_timeouts_review27 import CountingProxy

__all__ = ["cluster_url"]  # a fixture, used by name

T0 = 1_700_000_040.0  # a whole minute since the epoch: clear of every guard band
POOL = Pool("P", 10_000, 60)
COST = {"P": 1}


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@contextlib.asynccontextmanager
async def proxied(cluster_url: str) -> AsyncIterator[tuple[CountingProxy, Limiter, Limiter]]:
    """(a proxy the node announces as its address, a limiter, another one reading the counts).

    Both limiters find the node through the proxy (the slot map gives its address), each on
    connections of its own: the reader's carry no INCRBY, and stall_on(b"INCRBY") leaves them be.
    """
    real = port_of(cluster_url)
    with CountingProxy(real) as proxy:
        node = coredis.Redis(host="127.0.0.1", port=real)
        # The bus port stays the node's own: left alone, it would follow the announced port.
        await node.config_set({"cluster-announce-bus-port": real + 10_000, "cluster-announce-port": port_of(proxy.url)})
        url = f"redis+cluster://127.0.0.1:{port_of(proxy.url)}"
        limiter = Limiter([POOL], url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.2)
        reader = Limiter([POOL], cluster_url, key="t", clock=FakeClock(T0), max_wait=0.0)
        try:
            yield proxy, limiter, reader
        finally:
            node.connection_pool.disconnect()
            await limiter.aclose()
            await reader.aclose()


@pytest.mark.redis
async def test_a_cluster_call_whose_reply_timed_out_is_not_sent_again(cluster_url: str) -> None:
    """The node ran the charge, its reply came too late: the acquire fails with ConnectError, charged once, not three
    times."""
    async with proxied(cluster_url) as (proxy, limiter, reader):
        await limiter.acquire(COST)  # the slot map learned (the proxy's address)
        proxy.stall_on(b"INCRBY")  # the reads before it are answered: the charge is what times out
        async with asyncio.timeout(20):  # bounded: a hang fails the test instead of stalling the suite
            with pytest.raises(ConnectError, match="timed out"):
                await limiter.acquire(COST)
            assert await reader.used(POOL) == 2


@pytest.mark.redis
async def test_a_cluster_connect_that_timed_out_is_tried_again(cluster_url: str) -> None:
    """The node dropped the limiter's connections and the next connect's handshake times out: the call connects
    again (it had sent nothing) and is charged once."""
    async with proxied(cluster_url) as (proxy, limiter, reader):
        await limiter.acquire(COST)
        node = coredis.Redis(host="127.0.0.1", port=port_of(cluster_url))
        await node.client_kill(type_=coredis.PureToken.NORMAL)  # every client's but its own
        node.connection_pool.disconnect()
        async with asyncio.timeout(20):  # bounded: a hang fails the test instead of stalling the suite
            # Until the limiter's sockets are gone: its calls must connect again.
            await eventually(lambda: not proxy.open, "the limiter's connections closed")
            await asyncio.sleep(0.05)  # the loop has seen their ends
            made = proxy.total
            proxy.stall_next(1)
            await limiter.acquire(COST)
            assert await reader.used(POOL) == 2
        assert proxy.total >= made + 2  # the stalled connect, and the one after it


@contextlib.asynccontextmanager
async def second_node(first_url: str) -> AsyncIterator[tuple[coredis.Redis[str], coredis.Redis[str], str]]:
    """A second node, holding no slot, met by the one at ``first_url``: (first, second, the second's id)."""
    server = RedisServer(options=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"))
    server.port = cluster_port()
    with server:
        first = coredis.Redis(host="127.0.0.1", port=port_of(first_url), decode_responses=True)
        second = coredis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
        try:
            await first.cluster_meet("127.0.0.1", server.port)
            for _ in range(500):  # until each knows the other: at most 5 s (the handshake is a few bus pings)
                if [len(await node.cluster_nodes()) for node in (first, second)] == [2, 2] and \
                        (await second.cluster_info()).get("cluster_state") == "ok":
                    break
                await asyncio.sleep(0.01)
            yield first, second, await second.cluster_myid()
        finally:
            first.connection_pool.disconnect()
            second.connection_pool.disconnect()


async def move_slots(first: coredis.Redis[str], second: coredis.Redis[str], second_id: str, keys: set[str]) -> None:
    """Migrate the slots of ``keys`` and their keys from ``first`` to ``second``, as redis-cli --cluster does."""
    first_id = await first.cluster_myid()
    port = second.connection_pool.connection_kwargs["port"]
    for slot in {await first.cluster_keyslot(key) for key in keys}:
        await second.cluster_setslot(slot, importing=first_id)
        await first.cluster_setslot(slot, migrating=second_id)
        await first.migrate("127.0.0.1", port, 0, 5000, *await first.cluster_getkeysinslot(slot, 100))
        for node in (first, second):
            await node.cluster_setslot(slot, node=second_id)


@pytest.mark.redis
async def test_a_cluster_limiter_follows_its_keys_to_the_node_they_moved_to(cluster_url: str) -> None:
    """The limiter's slot moved to another node with its count: MOVED is followed, the acquire charged once there."""
    limiter = Limiter([POOL], cluster_url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.5)
    try:
        await limiter.acquire(COST)  # its slot map: every slot on the first node
        async with second_node(cluster_url) as (first, second, second_id):
            keys = await first.keys("*")  # the windows the acquire was charged to
            await move_slots(first, second, second_id, keys)
            async with asyncio.timeout(20):  # bounded: a hang fails the test instead of stalling the suite
                await limiter.acquire(COST)  # sent to the first node, MOVED, sent to the second
                assert await limiter.used(POOL) == 2
            assert (await first.dbsize(), await second.dbsize()) == (0, len(keys))
            # The first node answered MOVED to its reads (Redis counts a redirection as a rejected call).
            assert (await first.info("commandstats"))["cmdstat_get"]["rejected_calls"] >= 1
    finally:
        await limiter.aclose()

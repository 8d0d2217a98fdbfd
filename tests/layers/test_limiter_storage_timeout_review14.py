"""A Redis that stops answering fails the limiter's calls with ConnectError after ``storage_timeout``: none hangs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from lotusx.kernel.errors import ConfigError, ConnectError
from lotusx.layers.limiter import Limiter, Pool, Usage

WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)


@pytest.fixture
async def silent_redis() -> AsyncIterator[str]:
    """The URL of a loopback server that accepts connections and never answers: a Redis that hangs."""
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # everything, until the client goes

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    yield f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_an_acquire_on_a_redis_that_never_answers_is_a_connect_error(silent_redis: str) -> None:
    """The request is not sent and the caller gets ConnectError, instead of an acquire that waits forever."""
    lim = Limiter([WEIGHT], silent_redis, key="t", max_wait=1.0, storage_timeout=0.2)
    async with asyncio.timeout(10):  # a hang fails the test instead of stalling the suite
        with pytest.raises(ConnectError, match="timed out"):
            await lim.acquire({"REQUEST_WEIGHT": 1})


@pytest.mark.parametrize("learn", [lambda lim: lim.sync(Usage("REQUEST_WEIGHT", 3)),
                                   lambda lim: lim.cool_off(None, 10.0)])
async def test_learning_on_a_redis_that_never_answers_is_a_connect_error(
        silent_redis: str, learn: Callable[[Limiter], Awaitable[None]]) -> None:
    """A venue count or a ban written to a silent Redis fails with ConnectError instead of holding the caller."""
    lim = Limiter([WEIGHT], silent_redis, key="t", storage_timeout=0.2)
    async with asyncio.timeout(10):
        with pytest.raises(ConnectError, match="timed out"):
            await learn(lim)


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_a_storage_timeout_that_is_not_a_positive_finite_number_is_a_config_error(seconds: float) -> None:
    """Zero would fail every call, NaN and infinity would wait forever: all are refused."""
    with pytest.raises(ConfigError, match="storage_timeout"):
        Limiter([WEIGHT], storage_timeout=seconds)

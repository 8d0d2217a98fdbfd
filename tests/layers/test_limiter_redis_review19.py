"""Shared (Redis) rate limiting, reviewed against a real redis-server: secrets, cluster failures, restarts."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable

import pytest
from redis_server import free_port

from lotusx.kernel.errors import ConfigError, ConnectError
from lotusx.layers.limiter import Limiter, Pool, Usage

WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)


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

"""A rate-limit storage that accepts the connection and never answers fails the call; it never holds it for ever."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lotusx import ConfigError, ConnectError
from lotusx.layers import Limiter, Pool


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    """redis:// at a loopback server that reads and never writes (a hung Redis, or no Redis at all)."""

    async def listen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(listen, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def test_a_storage_that_never_answers_fails_the_acquire_with_connect_error(silent_url: str) -> None:
    """acquire raises ConnectError (the request was not sent) once the storage misses its storage_timeout."""
    limiter = Limiter([Pool("w", 10, 1)], silent_url, storage_timeout=0.05)
    async with asyncio.timeout(10):  # bounds the test; the limiter must give up well before
        with pytest.raises(ConnectError, match="timed out"):
            await limiter.acquire({"w": 1})


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf")])
def test_storage_timeout_must_be_positive_and_finite(seconds: float) -> None:
    """A storage_timeout that would bound nothing is a ConfigError."""
    with pytest.raises(ConfigError, match="storage_timeout"):
        Limiter([Pool("w", 10, 1)], storage_timeout=seconds)

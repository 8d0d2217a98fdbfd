"""Shared fixtures (real aiohttp servers, a real redis-server on 127.0.0.1) and helpers: ``ctrl_c``, ``eventually``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis_server import RedisServer

ServeApp = Callable[[web.Application], Awaitable[TestServer]]
T = TypeVar("T")


@pytest.fixture
async def serve_app() -> AsyncIterator[ServeApp]:
    """Start aiohttp applications on loopback sockets; all are closed after the test."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> TestServer:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A private, throwaway redis-server; skipped without the binary, except under CI=true."""
    server = RedisServer()
    if server.binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI but is not installed")
        pytest.skip("redis-server is not installed")
    with server:
        yield server


@pytest.fixture
def redis_url(redis: RedisServer) -> str:
    """The URL of :func:`redis`."""
    return redis.url


def ctrl_c(argv: Sequence[str], running: str, cwd: str | os.PathLike[str] | None = None) -> tuple[int, str, float]:
    """Run ``argv``, press Ctrl-C once a stdout line holds ``running``: (exit status, stderr, seconds to exit).

    SIGINT as at a terminal: a test runner started in the background may have it ignored, and
    children inherit that. Unbuffered: through a pipe the child's prints come in blocks, so the
    line awaited could reach us only as the child ends by itself, and the Ctrl-C come too late.
    """
    process = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stdout is not None
        for line in process.stdout:  # until the child is well under way
            if running in line:
                break
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, errors = process.communicate(timeout=20)
    finally:
        process.kill()
    return process.returncode, errors, time.monotonic() - started


def json_paths(value: object, path: tuple[object, ...] = (), *,
               per_list: int | None = None) -> Iterator[tuple[object, ...]]:
    """Every path (keys and indexes) into a decoded JSON ``value``, for the mutation tests to pick from.

    ``per_list``: only the first items of each list (a 100-level book need not be walked whole).
    """
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, (*path, key), per_list=per_list)
    elif isinstance(value, list):
        for index, item in enumerate(value[:per_list]):
            yield from json_paths(item, (*path, index), per_list=per_list)


async def eventually(probe: Callable[[], T | None], what: str = "condition", seconds: float = 10.0) -> T:
    """Poll ``probe`` every 20 ms until it returns something truthy, and return that; fail after ``seconds``."""
    for _ in range(int(seconds / 0.02)):
        result = probe()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")

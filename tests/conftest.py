"""Shared fixtures: real aiohttp servers and a real redis-server on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis_server import RedisServer

ServeApp = Callable[[web.Application], Awaitable[TestServer]]


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

"""Shared fixtures: real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

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

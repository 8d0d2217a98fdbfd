"""Integration fixtures: a real, throwaway redis-server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from redis_server import RedisServer


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The URL of a private redis-server; skipped without the binary, except under CI=true."""
    server = RedisServer()
    if server.binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI but is not installed")
        pytest.skip("redis-server is not installed")
    with server:
        yield server.url

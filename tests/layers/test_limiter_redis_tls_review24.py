"""A limiter on ``rediss://`` (TLS): bounded and charging as on ``redis://``, refusing a server it cannot trust."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from redis_server import Certificates, TlsRedisServer

from lotusx.kernel.errors import ConnectError
from lotusx.layers.limiter import STORAGE_CONNECTIONS, Limiter, _checking_hostname
from lotusx.testing import FakeClock
from tests.layers.test_limiter_redis_pool_review23 import COST, POOL, T0, clients
from tests.layers.test_limiter_redis_pool_review23 import burst as burst_of
from tests.layers.test_limiter_redis_review19 import told

BURST = 500
PASSWORD = "hunter2"


def _serve(directory: Path, names: str) -> Iterator[TlsRedisServer]:
    openssl = shutil.which("openssl")
    server = TlsRedisServer(Certificates(directory, directory, directory), options=("--requirepass", PASSWORD))
    if server.binary is None or openssl is None:
        missing = "redis-server" if server.binary is None else "openssl"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is required under CI but is not installed")
        pytest.skip(f"{missing} is not installed")
    server.certificates = Certificates.make(directory, openssl, names)
    with server:
        yield server


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[TlsRedisServer]:
    """A password-protected redis-server on TLS only, its certificate (for 127.0.0.1) from a CA made here."""
    yield from _serve(tmp_path, "IP:127.0.0.1,DNS:localhost")


@pytest.fixture
def misnamed(tmp_path: Path) -> Iterator[TlsRedisServer]:
    """:func:`tls`, its certificate from the same CA but for another host: what a man in the middle could hold."""
    yield from _serve(tmp_path, "DNS:other.example")


def trusting(server: TlsRedisServer, query: str = "") -> str:
    """``server``'s URI for a client that trusts its CA."""
    return f"rediss://:{PASSWORD}@127.0.0.1:{server.port}?ssl_ca_certs={server.certificates.ca}{query}"


async def received(server: TlsRedisServer) -> tuple[int, int]:
    """(clients connected now, connections received so far), without this one."""
    return await clients(trusting(server))


async def burst(limiter: Limiter) -> None:
    await burst_of(limiter, BURST)


async def refused(limiter: Limiter) -> ConnectError:
    """The ConnectError ``limiter``'s first acquire fails with on a certificate it must not trust (closed after)."""
    try:
        async with asyncio.timeout(20):  # a hang fails the test instead of stalling the suite
            with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED") as caught:
                await limiter.acquire(COST)
    finally:
        await limiter.aclose()
    return caught.value


@pytest.mark.redis
@pytest.mark.parametrize(("query", "bound"), [("", STORAGE_CONNECTIONS), ("&max_connections=3", 3)])
async def test_a_burst_over_tls_opens_at_most_the_bound_of_connections(
        tls: TlsRedisServer, query: str, bound: int) -> None:
    """500 acquires at once over TLS open no more than the bound, default or the URI's."""
    _, before = await received(tls)
    limiter = Limiter([POOL], trusting(tls, query), key="t", clock=FakeClock(T0), max_wait=0.0)
    await burst(limiter)
    connected, after = await received(tls)
    assert connected <= bound
    assert after - before - 1 <= bound  # every connection it ever opened; 1: received()
    await limiter.aclose()


@pytest.mark.redis
async def test_a_burst_over_tls_charges_each_acquire_once(tls: TlsRedisServer) -> None:
    """Acquires over TLS that waited for a connection are all charged, each once."""
    limiter = Limiter([POOL], trusting(tls, "&max_connections=3"), key="t", clock=FakeClock(T0), max_wait=0.0)
    await burst(limiter)
    assert await limiter.used(POOL) == BURST
    await limiter.aclose()


@pytest.mark.redis
async def test_a_server_certificate_the_client_does_not_trust_is_a_connect_error_without_the_password(
        tls: TlsRedisServer) -> None:
    """No ssl_ca_certs: the throwaway CA is in no trust store, so the handshake fails, a ConnectError, not a hang."""
    error = await refused(Limiter([POOL], f"rediss://:{PASSWORD}@127.0.0.1:{tls.port}", key="t", storage_timeout=0.5))
    assert PASSWORD not in told(error) and ":***@127.0.0.1" in str(error)


@pytest.mark.redis
async def test_a_certificate_for_another_host_is_a_connect_error(misnamed: TlsRedisServer) -> None:
    """A trusted CA's certificate for another name is refused: the host name is checked unless the URI says not to."""
    error = await refused(Limiter([POOL], trusting(misnamed), key="t", storage_timeout=0.5))
    assert PASSWORD not in told(error)


@pytest.mark.redis
async def test_ssl_check_hostname_false_in_the_uri_accepts_a_certificate_for_another_host(
        misnamed: TlsRedisServer) -> None:
    """The URI's ?ssl_check_hostname=false still wins: a deliberate choice, as coredis lets one make it."""
    limiter = Limiter([POOL], trusting(misnamed, "&ssl_check_hostname=false"), key="t", clock=FakeClock(T0))
    await limiter.acquire(COST)
    assert await limiter.used(POOL) == 1
    await limiter.aclose()


@pytest.mark.parametrize("uri", ["rediss://h:1", "rediss://h:1?", "rediss://h:1?flag", "rediss://h:1?a=1"])
def test_the_host_name_check_is_added_as_a_parameter_of_its_own(uri: str) -> None:
    """However the URI's query ends (none, a bare ?, a flag), ssl_check_hostname=true is a parameter of its own."""
    assert parse_qs(urlsplit(_checking_hostname(uri)).query)["ssl_check_hostname"] == ["true"]

"""Review round 21: AiohttpRest's connection pool, against raw asyncio servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lotusx import ConnectError, Request, Timeout
from lotusx.transport import AiohttpRest
from lotusx.transport.rest import Limits


class Silent:
    """A loopback server that reads requests and never answers them; counts connections and requests."""

    def __init__(self) -> None:
        self.connections = self.requests = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


@pytest.fixture
async def silent() -> AsyncIterator[Silent]:
    peer = Silent()
    server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
    peer.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    yield peer
    for writer in peer.writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_call_left_waiting_for_a_pooled_connection_is_a_connect_error(silent: Silent) -> None:
    """No socket free within connect_timeout: ConnectError (nothing was sent), not a Timeout that may have executed."""
    async with AiohttpRest(silent.url, limits=Limits(total=1), timeout=30, connect_timeout=0.2) as transport:
        holder = asyncio.ensure_future(transport(Request(method="GET", path="/slow")))
        try:
            with pytest.raises(ConnectError, match="no connection in time"):
                await asyncio.wait_for(transport(Request(method="POST", path="/order", body=b"x")), 10)
        finally:
            holder.cancel()
            await asyncio.gather(holder, return_exceptions=True)
    assert (silent.connections, silent.requests) == (1, 1)


async def test_a_timed_out_call_closes_its_socket_rather_than_pooling_it(silent: Silent) -> None:
    """After a Timeout the next call opens a new connection: the late answer could never be read as its own."""
    async with AiohttpRest(silent.url, timeout=0.2) as transport:
        for _ in range(2):
            with pytest.raises(Timeout):
                await transport(Request(method="GET", path="/slow"))
    assert (silent.connections, silent.requests) == (2, 2)


async def test_many_concurrent_calls_open_no_more_sockets_than_the_pool_allows(silent: Silent) -> None:
    """Twenty calls at once over a pool of four: four sockets, four requests sent, the rest never left."""
    async with AiohttpRest(silent.url, limits=Limits(total=4), timeout=3, connect_timeout=0.3) as transport:
        outcomes = await asyncio.wait_for(asyncio.gather(
            *(transport(Request(method="GET", path=f"/{n}")) for n in range(20)), return_exceptions=True), 20)
    assert (silent.connections, silent.requests) == (4, 4)
    assert sorted(type(o).__name__ for o in outcomes) == ["ConnectError"] * 16 + ["Timeout"] * 4

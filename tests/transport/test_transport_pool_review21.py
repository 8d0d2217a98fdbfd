"""Review round 21: AiohttpRest's connection pool, against raw asyncio servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lotusx import ConnectError, Request
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

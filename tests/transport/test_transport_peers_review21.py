"""Review round 21: AiohttpRest against misbehaving peers (raw asyncio servers on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from lotusx import ProtocolError, Request
from lotusx.transport import AiohttpRest

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]
ServeRaw = Callable[[Answer], Awaitable["Peer"]]


class Peer:
    """A loopback server answering every request with ``answer``; counts connections."""

    def __init__(self, answer: Answer) -> None:
        self.answer, self.connections, self.url = answer, 0, ""
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                await self.answer(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


@pytest.fixture
async def serve_raw() -> AsyncIterator[ServeRaw]:
    servers: list[tuple[asyncio.Server, Peer]] = []

    async def start(answer: Answer) -> Peer:
        peer = Peer(answer)
        server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
        peer.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        servers.append((server, peer))
        return peer

    yield start
    for server, peer in servers:
        for writer in peer.writers:
            writer.close()
        server.close()
        await server.wait_closed()


def gzip_of_zeros(mebibytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    return b"".join([*(packer.compress(zeros) for _ in range(mebibytes)), packer.flush()])


async def test_a_gzip_bomb_is_a_protocol_error_not_read_whole_into_memory(serve_raw: ServeRaw) -> None:
    """128 MiB of zeros in 128 KiB of gzip: past the default cap (64 MiB) the answer is refused, not inflated."""
    bomb = gzip_of_zeros(128)

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb)
        await writer.drain()

    peer = await serve_raw(answer)
    async with AiohttpRest(peer.url, timeout=60) as transport:
        with pytest.raises(ProtocolError, match="larger than 67108864 bytes"):
            await transport(Request(method="GET", path="/api/v3/exchangeInfo"))


async def test_an_endless_body_is_cut_at_max_body_and_its_connection_not_reused(serve_raw: ServeRaw) -> None:
    """A chunked answer past ``max_body`` is a ProtocolError; its half-read socket is closed, never pooled."""
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(64):  # 1 MiB at most: a bound, should the client read on
            writer.write(b"4000\r\n" + bytes(16384) + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    peer = await serve_raw(answer)
    async with AiohttpRest(peer.url, max_body=65536) as transport:
        for _ in range(2):
            with pytest.raises(ProtocolError, match="larger than 65536 bytes"):
                await transport(Request(method="GET", path="/big"))
    assert peer.connections == 2

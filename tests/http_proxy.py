"""A forwarding HTTP proxy on loopback, for tests of the transports' ``proxy=``.

It serves both forms a client uses: ``CONNECT host:port`` (a tunnel, for https/wss) and an
absolute-form request (``GET http://host:port/path``, for http/ws), whose bytes it forwards to
that host as they are (aiohttp's server reads an absolute-form target as its path). It records
each request head it saw, and can require a ``Proxy-Authorization``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass, field

from yarl import URL


@dataclass
class HttpProxy:
    """``async with HttpProxy() as proxy: ... proxy.url ...``; ``heads`` holds each request line seen."""

    user: str | None = None
    password: str | None = None
    heads: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The proxy's URL, with the credentials if it requires them."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        auth = f"{self.user}:{self.password}@" if self.user is not None else ""
        return f"http://{auth}127.0.0.1:{port}"

    async def __aenter__(self) -> HttpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # every pipe then ends by itself: a cancelled handler task is logged
            writer.close()
        await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 5)
        await self._server.wait_closed()

    def _authorized(self, head: bytes) -> bool:
        found = None
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "proxy-authorization":
                found = value.strip()
        self.authorizations.append(found)
        if self.user is None:
            return True
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return found == expected

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            self.heads.append(f"{method} {target}")
            if not self._authorized(head):
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n"
                             b"Proxy-Authenticate: Basic\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                self._writers.append(up_writer)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = URL(target)
                up_reader, up_writer = await asyncio.open_connection(url.host, url.port)
                self._writers.append(up_writer)
                up_writer.write(head)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()

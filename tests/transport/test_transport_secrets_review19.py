"""Secrets review 19: a transport error keeps none of aiohttp's exceptions, which hold the signed request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import lotusx
from lotusx.kernel.message import Endpoint, Request
from lotusx.kernel.protocols import Signer
from lotusx.signers import BinanceHmac, BybitHmac
from lotusx.transport import AiohttpRest, AiohttpWs

KEY = "review19-api-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
SECRET = "review19-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
ServeApp = Callable[[web.Application], Awaitable[TestServer]]


def chain_text(exc: BaseException) -> str:
    """Everything the exceptions linked from ``exc`` hold, each ``__cause__`` and ``__context__`` followed.

    ``from None`` only hides an exception from printed tracebacks: ``__context__`` still holds
    it, for any error reporter or handler that walks it.
    """
    texts: list[str] = []
    todo: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while todo:
        linked = todo.pop()
        if linked is None or id(linked) in seen:
            continue
        seen.add(id(linked))
        texts += [repr(linked), str(linked), repr(vars(linked)), repr(getattr(linked, "request_info", None))]
        todo += [linked.__cause__, linked.__context__]
    return "\n".join(texts)


@pytest.fixture
async def garbled_url() -> AsyncIterator[str]:
    """A loopback server answering every request with a line that is no HTTP status line."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"garbage\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("signer", [BinanceHmac(KEY, SECRET), BybitHmac(KEY, SECRET)], ids=["query", "headers"])
async def test_a_garbled_answer_to_a_signed_call_is_an_error_linking_no_api_key(garbled_url: str,
                                                                               signer: Signer) -> None:
    """No exception linked from the ProtocolError holds the key header or the signed URL aiohttp kept."""
    request = Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),), body=b"{}",
                      endpoint=Endpoint("order", "POST", signed=True))
    signed = signer.sign(request, 1_700_000_000_000)
    async with AiohttpRest(garbled_url) as transport:
        with pytest.raises(lotusx.ProtocolError) as garbled:
            await transport(signed)
    text = chain_text(garbled.value)
    assert "BTCUSDT" not in text  # the query, signature and all
    assert KEY not in text


async def refuse(_request: web.Request) -> web.Response:
    """Refuse the upgrade: the key is not welcome (401; a 403 is a block, IpBanned)."""
    return web.Response(status=401)


async def test_a_refused_websocket_upgrade_is_an_error_linking_no_header_or_query(serve_app: ServeApp) -> None:
    """No exception linked from the ConnectError holds the upgrade's key header or its query aiohttp kept."""
    app = web.Application()
    app.router.add_get("/ws", refuse)
    server = await serve_app(app)
    ws = AiohttpWs(f"ws://127.0.0.1:{server.port}/ws?token=review19-query-token",
                   headers=(("X-API-KEY", KEY),), connect_timeout=5)
    with pytest.raises(lotusx.ConnectError) as refused:
        await ws.connect()
    text = chain_text(refused.value)
    assert "review19-query-token" not in text and KEY not in text

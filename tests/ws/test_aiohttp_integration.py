"""ReconnectWs over a real aiohttp WebSocket server on 127.0.0.1, through AiohttpWs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import WSMsgType, web

from lotusx.transport.ws import AiohttpWs
from lotusx.ws import Backoff, Gap, Heartbeat, ReconnectWs, Resumed, WsDialect


class Venue:
    """A venue that acks subscribes, streams three updates, and drops the first connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.subscribes: list[list[str]] = []

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        connection = self.connections
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            message = orjson.loads(msg.data)
            self.subscribes.append(message["params"])
            await ws.send_str(orjson.dumps({"result": None, "id": message["id"]}).decode())
            for u in range(3):
                await ws.send_str(orjson.dumps({"stream": message["params"][0], "u": connection * 10 + u}).decode())
            if connection == 1:
                await ws.close(code=1001)
        return ws


@pytest.fixture
async def venue_url() -> AsyncIterator[tuple[Venue, str]]:
    venue = Venue()
    app = web.Application()
    app.router.add_get("/ws", venue.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield venue, f"ws://127.0.0.1:{port}/ws"
    await runner.cleanup()


DIALECT = WsDialect(
    name="loopback",
    subscribe=lambda streams, rid: orjson.dumps({"method": "SUBSCRIBE", "params": list(streams), "id": rid}).decode(),
    ack=lambda m: (m["id"], True, None) if "result" in m else None,
)


async def test_stream_survives_a_server_close(venue_url: tuple[Venue, str]) -> None:
    """Messages flow, the server's close becomes a Gap, and the stream resubscribes on a new socket."""
    venue, url = venue_url
    ws = ReconnectWs(lambda: AiohttpWs(url), dialect=DIALECT, heartbeat=Heartbeat(interval=5, answer_pings=False),
                     backoff=Backoff(base=0.01, cap=0.05))
    async with ws:
        await asyncio.wait_for(ws.subscribe(["btcusdt@depth"]), 5)
        got = [await asyncio.wait_for(ws.__anext__(), 5) for _ in range(8)]
    assert [m["u"] for m in got[:3]] == [10, 11, 12]
    assert isinstance(got[3], Gap)
    assert got[3].reason == "server_close"
    # The new socket's first messages may come before or after Resumed (it is put once the
    # resubscription's ack is read); every one of them comes after the Gap.
    assert sum(isinstance(m, Resumed) for m in got[4:]) == 1
    assert [m["u"] for m in got[4:] if not isinstance(m, Resumed)] == [20, 21, 22]
    assert venue.subscribes == [["btcusdt@depth"], ["btcusdt@depth"]]

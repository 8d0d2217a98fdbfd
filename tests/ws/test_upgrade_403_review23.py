"""ReconnectWs review 23: an upgrade refused with 403 (an IP block) is not tried again before its Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiohttp import web

from lotusx.testing import FakeClock
from lotusx.transport import AiohttpWs
from lotusx.ws import Backoff, Heartbeat, ReconnectWs
from tests.conftest import ServeApp

QUIET = Heartbeat(interval=None, idle_timeout=10_000)
BACKOFF = Backoff(base=0.5, random=lambda: 1.0)  # the first reconnect waits 0.5 s


def refuse_first(headers: dict[str, str], status: int = 403) -> tuple[web.Application, list[int]]:
    """An app answering the first upgrade ``status`` with ``headers``, the next ones 101; and its upgrade count."""
    upgrades: list[int] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        upgrades.append(1)
        if len(upgrades) == 1:
            return web.Response(status=status, headers=headers)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handle)
    return app, upgrades


async def settle(condition: Callable[[], bool]) -> None:
    """Wait (at most 500 short real sleeps: the socket's I/O is real) until ``condition()``."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "30"}, 30.0), ({}, 0.5)],
                         ids=["retry-after", "none"])
async def test_an_upgrade_blocked_with_403_waits_its_retry_after(serve_app: ServeApp, headers: dict[str, str],
                                                                 wait: float) -> None:
    """403 + Retry-After: 30 waits 30 s before the next upgrade, not the 0.5 s back-off; without one, the back-off."""
    app, upgrades = refuse_first(headers)
    server = await serve_app(app)
    url = str(server.make_url("/ws")).replace("http://", "ws://")
    clock = FakeClock(auto_advance=False)
    async with ReconnectWs(lambda: AiohttpWs(url), clock=clock, heartbeat=QUIET, backoff=BACKOFF) as ws:
        await settle(lambda: wait in clock.slept)
        assert (len(upgrades), ws.stats.connections) == (1, 0)
        assert [s for s in clock.slept if s < 1_000] == [wait]
        await clock.advance(wait * 0.99)
        assert clock.sleepers >= 1 and len(upgrades) == 1  # still waiting out the block
        await clock.advance(wait * 0.02)
        await settle(lambda: ws.stats.connections == 1)
        assert len(upgrades) == 2

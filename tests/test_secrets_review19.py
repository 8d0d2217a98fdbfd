"""Secrets review 19: a failed signed call's traceback, rendered with its locals as rich renders them, holds no key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import lotusx
from lotusx.kernel.message import Request

KEY = "review19-api-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
SECRET = "review19-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
ServeApp = Callable[[web.Application], Awaitable[TestServer]]


def as_rich_shows(value: object) -> str:
    """``value`` as rich's pretty printer shows it: through ``__rich_repr__`` when it has one, else ``repr``.

    structlog renders traceback locals so (its console renderer, and dict_tracebacks for JSON
    logs, whenever rich is installed), and rich's own tracebacks with ``show_locals``.
    """
    rich_repr = getattr(value, "__rich_repr__", None)
    if rich_repr is None or isinstance(value, type):
        return repr(value)
    return repr(list(rich_repr()))


async def clock_then_drop(request: web.Request) -> web.StreamResponse:
    """Answer the venues' server-time calls; drop the connection under any other (a signed call)."""
    now = int(time.time() * 1000)
    if request.path == "/api/v3/time":
        return web.json_response({"serverTime": now})
    if request.path == "/v5/market/time":
        return web.json_response({"retCode": 0, "retMsg": "OK", "time": now,
                                  "result": {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}})
    assert request.transport is not None
    request.transport.close()
    await asyncio.sleep(1)
    return web.Response()


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_the_locals_of_a_failed_signed_calls_traceback_hold_no_key_or_signature(
        serve_app: ServeApp, venue: str) -> None:
    """Every frame's locals, shown as rich shows them, hold neither the API key nor the signed request."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", clock_then_drop)
    server = await serve_app(app)
    url = f"http://127.0.0.1:{server.port}"
    async with lotusx.connect(venue, credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                              rest_url=url) as ex:
        with pytest.raises(lotusx.Disconnected) as dropped:
            await ex.get_balances()
    frame_locals: list[object] = []
    tb: Any = dropped.value.__traceback__
    while tb is not None:
        frame_locals += tb.tb_frame.f_locals.values()
        tb = tb.tb_next
    assert [value for value in frame_locals if isinstance(value, Request)]  # the signed request, as sent
    shown = [as_rich_shows(value) for value in frame_locals]
    assert not [text for text in shown if KEY in text or "('signature', '" in text or "('X-BAPI-SIGN', '" in text]

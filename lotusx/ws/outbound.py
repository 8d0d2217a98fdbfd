"""Outbound WebSocket messages as kernel requests, so REST layers apply to them unchanged.

``session_service(session)`` is a :data:`~lotusx.Service`: it sends ``request.body`` on the
socket (text unless ``ext["binary"]``; a protocol ping if ``ext["ping"]``) and answers a
synthetic ``Response(status=200)``. Wrap it in any layer stack: ``RateLimit`` for Binance's 5
messages a second, ``Trace``. Protocol pings pass the stack too: Binance counts ping frames.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.kernel.protocols import WsSession
from lotusx.kernel.service import Layer, Service

WS_SEND = Endpoint("ws_send", method="SEND", costs={"WS_MESSAGES": 1})
_SENT = Response(status=200)

Send = Callable[[str | bytes], Awaitable[None]]


def session_service(session: WsSession) -> Service:
    """The innermost outbound service: one request, one WebSocket message."""

    async def service(request: Request) -> Response:
        body = request.body or b""
        if request.ext.get("ping"):
            await session.ping(body)
        else:
            await session.send(body if request.ext.get("binary") else body.decode())
        return _SENT

    return service


Attempt = Callable[[], Awaitable[None]]
"""One connection attempt: open a fresh session (its upgrade), raising what the venue answered."""

Admit = Callable[[Attempt], Awaitable[None]]
"""``await admit(attempt)`` makes each connection attempt: ``attempt()`` once, or a raise instead."""


def admission(layers: Layer, endpoint: Endpoint) -> Admit:
    """``await admit(attempt)``: each connection attempt as a request through ``layers`` charged ``endpoint``'s costs.

    For a venue that limits connection attempts per IP (Binance: 300 every 5 minutes): with its
    ``RateLimit`` as ``layers``, an attempt waits for room (or raises ``RateLimited``) instead of
    being made, and an IP ban in effect holds it too. The attempt runs inside the layers, so they
    learn from its refusal as from a REST call's: an upgrade refused with ``IpBanned`` bans
    every pool of the limiter (the connector's REST calls too: a ban is per IP), a 429 cools
    the pools it charged.
    """
    request = Request(method=endpoint.method, path=endpoint.path, endpoint=endpoint)

    async def admit(attempt: Attempt) -> None:
        async def made(_: Request) -> Response:
            await attempt()
            return _SENT

        # Built per attempt (one a connection, not a message): the attempt is the innermost service.
        await layers(made)(request)

    return admit


def pinger(session: WsSession, layers: Layer, endpoint: Endpoint = WS_SEND) -> Callable[[], Awaitable[None]]:
    """``await ping()``: a protocol ping through ``layers`` onto ``session``, charged like a message."""
    service = layers(session_service(session))
    request = Request(method="PING", path="ws", body=b"", endpoint=endpoint, ext={"ping": True})

    async def ping() -> None:
        await service(request)

    return ping


def sender(session: WsSession, layers: Layer, endpoint: Endpoint = WS_SEND) -> Send:
    """``await send(payload)`` through ``layers`` onto ``session``."""
    service = layers(session_service(session))

    async def send(payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            request = Request(method="SEND", path="ws", body=payload, endpoint=endpoint, ext={"binary": True})
        else:
            request = Request(method="SEND", path="ws", body=payload.encode(), endpoint=endpoint)
        await service(request)

    return send

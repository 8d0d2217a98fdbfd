"""Outbound WebSocket messages as kernel requests, so REST layers apply to them unchanged.

``session_service(session)`` is a :data:`~lotusx.Service`: it sends ``request.body`` on the
socket (text unless ``ext["binary"]``) and answers a synthetic ``Response(status=200)``.
Wrap it in any layer stack: ``RateLimit`` for Binance's 5 messages a second, ``Trace``.
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
        await session.send(body if request.ext.get("binary") else body.decode())
        return _SENT

    return service


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

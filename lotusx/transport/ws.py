"""``AiohttpWs``: one WebSocket connection over aiohttp, as a kernel ``WsSession``."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

import aiohttp

from lotusx.kernel.classify import proxy_refused, retry_after
from lotusx.kernel.errors import (
    ConfigError,
    ConnectError,
    Disconnected,
    IpBanned,
    LotusXError,
    ProtocolError,
    RateLimited,
    Timeout,
)
from lotusx.kernel.message import Response
from lotusx.kernel.ws import WsFrame, WsKind
from lotusx.log import scrub, without_password
from lotusx.transport.url import parsed_url, proxy_url

# Enum members bound once: in Python 3.11 ``WsKind.TEXT`` costs ~70 ns a lookup, and data
# frames take these branches once each, at tens of thousands of frames a second.
_AIOHTTP_TEXT, _AIOHTTP_BINARY = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
_TEXT, _BINARY = WsKind.TEXT, WsKind.BINARY


class AiohttpWs:
    """A WebSocket session: ``connect`` / ``send`` / ``next`` / ``close``.

    Protocol pings and pongs are *visible*: ``next()`` returns them as PING/PONG frames so
    heartbeat layers can see them. With ``auto_pong=True`` (default) a PING is also answered
    right away, before it is returned, so a slow consumer cannot miss the venue's deadline.
    A peer close is reported once as a CLOSE frame with the close code; later calls to
    ``next()`` raise :class:`~lotusx.Disconnected`. ``compress=15`` asks for
    permessage-deflate. ``connect_timeout`` bounds the whole opening (DNS, TCP, TLS and the
    HTTP upgrade) and the closing handshake. A frame over ``max_msg_size`` bytes (16 MiB: a
    5000-level book snapshot fits) is a :class:`~lotusx.ProtocolError`. ``headers`` go with the
    upgrade request; ``ssl`` is as for :class:`~lotusx.transport.AiohttpRest`; ``session`` is an
    aiohttp session of your own to open it on (left open), else it makes and closes one.
    ``proxy`` is as for ``AiohttpRest``: the connection goes through that HTTP proxy.
    """

    def __init__(self, url: str, *, auto_pong: bool = True, compress: int = 0, connect_timeout: float = 10.0,
                 max_msg_size: int = 16 * 1024 * 1024, ssl: ssl.SSLContext | bool = True,
                 headers: tuple[tuple[str, str], ...] = (),
                 session: aiohttp.ClientSession | None = None, proxy: str | None = None) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise ConfigError(f"WebSocket url must start with ws:// or wss://, got {_shown(url)!r}")
        parsed_url(url, "WebSocket url")
        self.url = url
        self.auto_pong = auto_pong
        self.compress = compress
        self.connect_timeout = connect_timeout
        self.max_msg_size = max_msg_size
        self._ssl = ssl
        self._headers = headers
        self._shared_session = session
        self._proxy = proxy_url(proxy)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closed = False

    async def connect(self) -> None:
        """Open the connection; failures, a timeout included, raise :class:`~lotusx.ConnectError`.

        An upgrade refused with 429, or 418 or 403 (an IP block), raises :class:`~lotusx.RateLimited`
        or :class:`~lotusx.IpBanned` with the answer's ``Retry-After`` (ReconnectWs waits it out; a
        connector's limiter learns it too, see :func:`lotusx.ws.outbound.admission`).
        """
        session = self._shared_session
        if session is None:
            self._session = session = aiohttp.ClientSession()
        try:
            # ws_connect's own timeouts do not cover the HTTP upgrade: a venue that accepts TCP
            # and never answers would hold a reconnect loop for the session's 5-minute default.
            async with asyncio.timeout(self.connect_timeout):
                self._ws = await session.ws_connect(
                    self.url, autoping=False, autoclose=False, compress=self.compress, ssl=self._ssl,
                    max_msg_size=self.max_msg_size, headers=self._headers or None, proxy=self._proxy,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self.connect_timeout),
                )
        # Raised past the except clauses, as AiohttpRest does: aiohttp's error, left as the
        # __context__, holds the upgrade request's URL (its query) and headers.
        except aiohttp.WSServerHandshakeError as exc:
            error = self._refused(exc)
        except aiohttp.ClientHttpProxyError as exc:  # the proxy refused the tunnel (wss://)
            error = proxy_refused(f"WebSocket {self._where()}", exc.status)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = ConnectError(f"cannot open WebSocket {self._where()}: {type(exc).__name__}")
        except BaseException:  # cancelled (a close() racing the connect): the session must not leak
            await self._close_session()
            raise
        else:
            self._closed = False
            return
        await self._close_session()
        raise error from None

    def _refused(self, exc: aiohttp.WSServerHandshakeError) -> LotusXError:
        """The error an upgrade answered with ``exc.status`` means: a throttle or a block says when to come back."""
        # A venue throttles or bans connection attempts as it does requests (Binance: 300
        # connections per 5 minutes per IP); a retry before its Retry-After lengthens a ban.
        answer = Response(status=exc.status, headers=dict(exc.headers or {}))
        if exc.status == 418:
            return IpBanned(f"WebSocket {self._where()}: IP banned", retry_after=retry_after(answer), status=418)
        # A 403 on an upgrade is a block in front of the venue, not a socket that failed to open:
        # Binance's WAF ("a rate limit violation or a security block", rest-api.md; its REST 403
        # is IpBanned too), Bybit's "IP rate limit breached" or U.S. IP (docs/v5/error). Both
        # venues log in after the upgrade, so no key is refused here. Retried on the quick
        # back-off, each attempt is one more violation; IpBanned waits its Retry-After (ReconnectWs:
        # the back-off without one). A venue whose 403 meant something else would only wait longer.
        if exc.status == 403:
            return IpBanned(f"WebSocket {self._where()}: blocked (IP rate limit or security block)",
                            retry_after=retry_after(answer), status=403)
        if exc.status == 429:
            return RateLimited(f"WebSocket {self._where()}: rate limited", retry_after=retry_after(answer),
                               status=429)
        if exc.status == 407:  # a proxy's answer to a ws:// upgrade it forwards
            return proxy_refused(f"WebSocket {self._where()}", 407)
        return ConnectError(f"cannot open WebSocket {self._where()}: {type(exc).__name__}", status=exc.status)

    def _live(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is None or self._closed:
            raise Disconnected(f"WebSocket {self._where()} is not open", sent=False)
        return self._ws

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message."""
        ws = self._live()
        try:
            if isinstance(data, str):
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise Disconnected(f"send on {self._where()} failed: {type(exc).__name__}", sent=False) from None

    async def ping(self, data: bytes = b"") -> None:
        """Send a protocol ping."""
        try:
            await self._live().ping(data)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise Disconnected(f"ping on {self._where()} failed: {type(exc).__name__}", sent=False) from None

    async def pong(self, data: bytes = b"") -> None:
        """Send a protocol pong."""
        try:
            await self._live().pong(data)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise Disconnected(f"pong on {self._where()} failed: {type(exc).__name__}", sent=False) from None

    async def next(self) -> WsFrame:
        """The next frame from the peer, control frames included."""
        ws = self._live()
        msg = await ws.receive()
        kind = msg.type
        if kind is _AIOHTTP_TEXT:
            return WsFrame(_TEXT, msg.data)
        if kind is _AIOHTTP_BINARY:
            return WsFrame(_BINARY, msg.data)
        return await self._other(ws, msg)

    async def pump(self, sink: Callable[[str | bytes], bool]) -> WsFrame | None:
        """Hand data payloads to ``sink`` until it returns True (``None``) or another frame comes.

        See :class:`~lotusx.kernel.protocols.WsPump`: the frame that is not data is returned
        exactly as :meth:`next` would return it (a PING answered first, CLOSE, errors raised).
        """
        ws = self._live()
        receive = ws.receive
        while True:
            msg = await receive()
            kind = msg.type
            if kind is _AIOHTTP_TEXT or kind is _AIOHTTP_BINARY:
                if sink(msg.data):
                    return None
            else:
                return await self._other(ws, msg)

    async def _other(self, ws: aiohttp.ClientWebSocketResponse, msg: aiohttp.WSMessage) -> WsFrame:
        """A frame that is not data: control frames and the ends of the connection."""
        kind = msg.type
        if kind is aiohttp.WSMsgType.PING:
            if self.auto_pong:
                try:
                    await ws.pong(msg.data)
                except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
                    # The socket died under the ping: end here as a lost connection would.
                    self._closed = True
                    await self._close_session()
                    raise Disconnected(f"pong on {self._where()} failed: {type(exc).__name__}",
                                       sent=False) from None
            return WsFrame(WsKind.PING, msg.data)
        if kind is aiohttp.WSMsgType.PONG:
            return WsFrame(WsKind.PONG, msg.data)
        if kind is aiohttp.WSMsgType.CLOSE:
            code = ws.close_code if ws.close_code is not None else msg.data
            self._closed = True
            await ws.close()  # complete the closing handshake
            await self._close_session()
            return WsFrame(WsKind.CLOSE, msg.extra or "", close_code=code)
        self._closed = True
        await self._close_session()
        if kind is aiohttp.WSMsgType.ERROR:
            if isinstance(msg.data, asyncio.TimeoutError):
                raise Timeout(f"WebSocket {self._where()} timed out")
            if isinstance(msg.data, aiohttp.WebSocketError):
                raise ProtocolError(f"WebSocket {self._where()} protocol error: {msg.data.code}")
        raise Disconnected(f"WebSocket {self._where()} lost ({kind.name})", close_code=ws.close_code)

    async def close(self, code: int = 1000) -> None:
        """Close with ``code`` (idempotent), waiting at most ``connect_timeout`` for the peer's answer."""
        try:
            if self._ws is not None and not self._ws.closed:
                # aiohttp bounds each read of the closing handshake, not the handshake: a peer that
                # streams on and never answers the close frame would hold close() (a rotation, a
                # reconnect, ReconnectWs.close()) forever. Given up on, the socket is dropped.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.connect_timeout):
                        await self._ws.close(code=code)
        finally:  # cancelled too: the session must not leak
            self._closed = True
            await self._close_session()

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _where(self) -> str:
        return _shown(self.url)

    def __repr__(self) -> str:
        return f"AiohttpWs({self._where()!r}, compress={self.compress}, auto_pong={self.auto_pong})"


def _shown(url: str) -> str:
    """``url`` as error texts and reprs show it: without the query or a user-info password, and
    with registered secrets masked.

    A listen key may be in the query, or be a path segment (Binance's ``/ws/<listenKey>``),
    which only the registered secrets (:func:`~lotusx.register_secret`) can tell apart.
    """
    return str(scrub(without_password(url.split("?", 1)[0])))

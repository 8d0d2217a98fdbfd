"""``AiohttpRest``: the REST transport, a ``Service`` over one pooled aiohttp session."""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from lotusx.kernel.classify import proxy_refused
from lotusx.kernel.errors import ConfigError, ConnectError, Disconnected, LotusXError, ProtocolError, Timeout
from lotusx.kernel.message import Request, Response
from lotusx.log import without_password
from lotusx.transport.url import parsed_url, proxy_url

_NO_CONTENT_TYPE = ("Content-Type",)
MAX_BODY = 64 * 1024 * 1024
"""The default cap on an answer's (decoded) body: some hundred times the largest a venue sends
(a full exchange info, a few MB), far below what a wrong base URL or a compressed bomb would fill."""


@dataclass(frozen=True)
class Limits:
    """Connection pool limits: total sockets, sockets per host, idle keep-alive seconds."""

    total: int = 100
    per_host: int = 0
    keepalive: float = 30.0


class AiohttpRest:
    """Sends kernel ``Request`` objects with aiohttp; one keep-alive pool per instance.

    ``AiohttpRest("https://api.binance.com")`` is a :data:`~lotusx.Service`: stack layers on
    it. The query is sent exactly as ``request.query_string`` encodes it, because that is
    what signers sign. TLS verification is on unless ``ssl=False`` is passed explicitly.
    Redirects are never followed: a 3xx comes back as the response. ``timeout`` bounds a whole
    call; ``connect_timeout`` bounds getting its connection (a free pooled socket, or DNS, TCP
    and TLS for a new one). An answer whose body, decompressed, is over ``max_body`` bytes is
    a :class:`~lotusx.ProtocolError` (its connection is closed, not reused). ``limits`` sizes
    the pool (:class:`Limits`); ``user_agent`` is sent with every call. ``proxy``
    (``http://[user:password@]host:port``) sends every call through that HTTP proxy (a tunnel
    for https); its password shows in no repr or error.

    Failures become typed errors: :class:`~lotusx.ConnectError` when the request provably
    never left (refused, DNS, TLS handshake, no pooled socket within ``connect_timeout``),
    :class:`~lotusx.Timeout`, :class:`~lotusx.Disconnected` (``sent=True``: the server may have
    acted) and :class:`~lotusx.ProtocolError`; a call from an event loop other than the pool's
    is a :class:`~lotusx.ConfigError`. Error texts carry method and path, never query or
    headers, and the errors link nothing (no ``__context__``): aiohttp's own holds the request as sent.
    """

    def __init__(self, base_url: str, *, limits: Limits = Limits(), timeout: float = 10.0,
                 connect_timeout: float = 5.0, ssl: ssl.SSLContext | bool = True,
                 user_agent: str = "lotusx/0.1", max_body: int = MAX_BODY, proxy: str | None = None) -> None:
        url = parsed_url(base_url, "base_url")
        if not url.is_absolute() or url.scheme not in ("http", "https"):
            raise ConfigError(f"base_url must be an absolute http(s) URL, got {without_password(base_url)!r}")
        # aiohttp takes 0, a negative or NaN as no timeout at all, and fails every call on inf.
        if not (0 < timeout < math.inf and 0 < connect_timeout < math.inf):
            raise ConfigError(f"timeouts must be positive finite seconds, got {timeout!r}, {connect_timeout!r}")
        if not (isinstance(max_body, int) and max_body > 0):
            raise ConfigError(f"max_body must be a positive number of bytes, got {max_body!r}")
        self.base_url = str(url).rstrip("/")
        self.limits = limits
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_body = max_body
        self._ssl = ssl
        self._user_agent = user_agent
        self._proxy = proxy_url(proxy)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the session's: its sockets belong to it

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session, created on first use (inside the running loop)."""
        if self._session is None or self._session.closed:
            self._loop = asyncio.get_running_loop()
            connector = aiohttp.TCPConnector(
                limit=self.limits.total, limit_per_host=self.limits.per_host,
                keepalive_timeout=self.limits.keepalive, ssl=self._ssl,
            )
            # ``connect`` bounds the wait for a pooled socket as well as the connecting: a call queued
            # behind ``limits`` past it never left, and fails as a ConnectError (safe to re-send), not
            # as the total timeout's Timeout, which an order takes as possibly executed.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=self.connect_timeout,
                                              sock_connect=self.connect_timeout),
                headers={"User-Agent": self._user_agent},
                auto_decompress=True,
                proxy=self._proxy,
            )
            # aiohttp re-sends a PUT or DELETE (to it "idempotent") once, unseen, when the server
            # drops the connection or it resets, though the server may have acted on it: an amend
            # or cancel sent twice. Retry alone decides re-sends, from the endpoint's idempotency.
            self._session._retry_connection = False
        return self._session

    def _url(self, request: Request) -> URL:
        """The request's URL, its query exactly as encoded (and signed)."""
        query, path = request.query_string, request.path
        if path[:1] != "/":  # "@host/x" or "x" glued to the base URL would name another host or path
            raise ConfigError(f"request path must start with '/', got {path.split('?', 1)[0][:60]!r}")
        return URL(f"{self.base_url}{path}?{query}" if query else self.base_url + path, encoded=True)

    async def __call__(self, request: Request) -> Response:
        session = self._session
        if session is None or session.closed:
            session = self.session
        body = request.body
        started = time.perf_counter()
        try:
            # Never a Content-Type of aiohttp's choosing for a body. Only bodies need the skip:
            # a session-wide skip list sends every request down aiohttp's slow header path.
            # Never a redirect followed: aiohttp would carry the key headers to any host the
            # Location names, and re-send (307/308) or turn into a GET (301/302) an order.
            # The URL is no local of this frame: a traceback rendered with its locals (structlog's
            # dict_tracebacks, rich) would show the signed query of every failed call.
            async with session.request(request.method, self._url(request), data=body,
                                       headers=request.headers or None,
                                       skip_auto_headers=None if body is None else _NO_CONTENT_TYPE,
                                       allow_redirects=False) as resp:
                body = await _read(resp.content, self.max_body)
                if body is not None:
                    return Response(status=resp.status, body=body, headers=resp.headers,
                                    elapsed=time.perf_counter() - started)
            # Left unread: the connection is closed, not pooled with the rest of the answer pending.
            error: LotusXError = ProtocolError(f"{_where(request)}: answer larger than {self.max_body} bytes")
        # Error texts are built here, not per call: most calls never need them. Raised past the
        # except clauses: raised in one, the error would keep aiohttp's as its __context__ (``from
        # None`` only hides it from printed tracebacks), and aiohttp's holds the request as sent:
        # the key headers and the URL with its signed query, for any handler that walks the chain.
        except aiohttp.ClientConnectorError as exc:
            error = ConnectError(f"{_where(request)}: cannot connect: {_reason(exc)}")
        except aiohttp.ConnectionTimeoutError:
            # Raised only while getting a connection (connecting, or waiting for a pooled one):
            # nothing was written, so this is a ConnectError (an order may be re-sent), not a Timeout.
            error = ConnectError(f"{_where(request)}: cannot connect: no connection in time")
        except (TimeoutError, aiohttp.ServerTimeoutError):
            error = Timeout(f"{_where(request)}: no response within {self.timeout}s")
        except aiohttp.ClientHttpProxyError as exc:  # the proxy refused the tunnel (https://): nothing left
            error = proxy_refused(_where(request), exc.status)
        except aiohttp.ServerDisconnectedError:
            error = Disconnected(f"{_where(request)}: server disconnected", sent=True)
        except (aiohttp.ClientOSError, aiohttp.ClientConnectionResetError) as exc:
            # A reset (a pooled keep-alive socket the peer or a balancer dropped, say: aiohttp's
            # "Cannot write to closing transport") is a lost connection, retried as one, not
            # malformed traffic. It may come after the request left.
            error = Disconnected(f"{_where(request)}: connection lost: {_reason(exc)}", sent=True)
        except aiohttp.ClientPayloadError as exc:
            error = Disconnected(f"{_where(request)}: response cut short: {_reason(exc)}", sent=True)
        except (aiohttp.ClientResponseError, aiohttp.ClientConnectionError) as exc:
            error = ProtocolError(f"{_where(request)}: {type(exc).__name__}: {_reason(exc)}")
        except RuntimeError:
            # aiohttp's "Event loop is closed" or "Timeout context manager should be used inside a
            # task": checked here, not on every call, as only a call that failed can be such a one.
            if self._loop is asyncio.get_running_loop():
                raise
            error = ConfigError(f"{_where(request)}: this transport's connection pool belongs to another event loop: "
                                "open the connector (lotusx.connect) in the loop that uses it, e.g. per test, "
                                "not once per module (pytest-asyncio runs each test in a new loop)")
        raise error from None

    @property
    def proxy(self) -> str | None:
        """The proxy URL every call goes through (``None``: direct); it may hold a password."""
        return self._proxy

    async def aclose(self) -> None:
        """Close the pool; the transport can be used again (a new pool is made)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AiohttpRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AiohttpRest({without_password(self.base_url)!r}, timeout={self.timeout}, limits={self.limits})"


async def _read(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """The whole body, or ``None`` once it is over ``limit`` bytes.

    Not ``ClientResponse.read()``: that reads without bound, and inflates a compressed body in
    one piece (a few kB of gzip can hold gigabytes); ``readany`` hands it over in bounded pieces.
    """
    blocks = []
    size = 0
    while block := await content.readany():
        size += len(block)
        if size > limit:
            return None
        blocks.append(block)
    return b"".join(blocks)


def _where(request: Request) -> str:
    return f"{request.method} {request.path}"


def _reason(exc: BaseException) -> str:
    # aiohttp messages may embed the full URL (with its signed query): keep only the error kind.
    inner: Any = getattr(exc, "os_error", None) or exc.__cause__ or exc
    text = getattr(inner, "strerror", None) or getattr(exc, "message", None) or type(inner).__name__
    return str(text).split("?", 1)[0]

"""HMAC-SHA256 signer families: signature in the query (Binance) or in headers (Bybit v5).

A family is configured with data (parameter and header names, recv window); the named
constructors :func:`BinanceHmac` and :func:`BybitHmac` are just such configurations.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from lotusx.kernel.credentials import register_secret
from lotusx.kernel.message import Request
from lotusx.signers.query import query_payload, stamp


def hmac_sha256_hex(secret: str, payload: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` keyed with ``secret``."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class QueryHmac:
    """Hex HMAC over ``query + body``, appended as the last query parameter; key in a header."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    recv_window: int | None = None
    key_header: str = "X-MBX-APIKEY"
    signature_param: str = "signature"
    timestamp_param: str = "timestamp"
    recv_window_param: str = "recvWindow"

    def __post_init__(self) -> None:
        register_secret(self.api_key)
        register_secret(self.secret)

    def sign(self, request: Request, timestamp_ms: int) -> Request:
        """A new request carrying timestamp, recvWindow, signature and the API key header."""
        stamped = stamp(request, timestamp_ms, recv_window=self.recv_window,
                        timestamp_param=self.timestamp_param, recv_window_param=self.recv_window_param)
        signature = hmac_sha256_hex(self.secret, query_payload(stamped))
        return stamped.with_query((self.signature_param, signature)).with_headers((self.key_header, self.api_key))


_BODY_METHODS = frozenset({"POST", "PUT"})


@dataclass(frozen=True)
class HeaderHmac:
    """Hex HMAC over ``timestamp + api_key + recv_window + (query | body)``, sent in headers.

    GET/DELETE sign the query string, POST/PUT the raw JSON body, exactly as sent.
    Source: https://bybit-exchange.github.io/docs/v5/guide ("Authentication").
    """

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    recv_window: int = 5000
    key_header: str = "X-BAPI-API-KEY"
    timestamp_header: str = "X-BAPI-TIMESTAMP"
    recv_window_header: str = "X-BAPI-RECV-WINDOW"
    sign_header: str = "X-BAPI-SIGN"
    extra_headers: tuple[tuple[str, str], ...] = (("X-BAPI-SIGN-TYPE", "2"),)

    def __post_init__(self) -> None:
        register_secret(self.api_key)
        register_secret(self.secret)

    def payload(self, request: Request, timestamp_ms: int) -> bytes:
        """The exact bytes signed for ``request`` at ``timestamp_ms``."""
        params = (request.body or b"") if request.method.upper() in _BODY_METHODS else request.query_string.encode()
        return f"{timestamp_ms}{self.api_key}{self.recv_window}".encode() + params

    def sign(self, request: Request, timestamp_ms: int) -> Request:
        """A new request carrying the key, timestamp, recv window and signature headers."""
        signature = hmac_sha256_hex(self.secret, self.payload(request, timestamp_ms))
        return request.with_headers(
            (self.key_header, self.api_key),
            (self.timestamp_header, str(timestamp_ms)),
            (self.recv_window_header, str(self.recv_window)),
            (self.sign_header, signature),
            *self.extra_headers,
        )

    def ws_auth(self, expires_ms: int) -> dict[str, Any]:
        """Bybit's private WebSocket ``auth`` message: hex HMAC of ``"GET/realtime" + expires``.

        Source: https://bybit-exchange.github.io/docs/v5/ws/connect ("Authentication").
        """
        signature = hmac_sha256_hex(self.secret, f"GET/realtime{expires_ms}".encode())
        return {"op": "auth", "args": [self.api_key, expires_ms, signature]}


def BinanceHmac(api_key: str, secret: str, *, recv_window: int | None = None) -> QueryHmac:
    """Binance spot HMAC-SHA256 keys: the query family with Binance's names."""
    return QueryHmac(api_key, secret, recv_window=recv_window)


def BybitHmac(api_key: str, secret: str, *, recv_window: int = 5000) -> HeaderHmac:
    """Bybit v5 system-generated (HMAC) keys: the header family with Bybit's names."""
    return HeaderHmac(api_key, secret, recv_window=recv_window)

"""The "query" signing payload shared by the HMAC and Ed25519 query families (Binance style).

The venue verifies the signature over the exact bytes it receives: the encoded query string
followed, without a separator, by the raw body. So the timestamp (and recvWindow) are added
to the query *before* the payload is built, and the signature goes last.
Source: binance/binance-spot-api-docs rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order".
"""

from __future__ import annotations

from lotusx.kernel.message import Request


def stamp(request: Request, timestamp_ms: int, *, recv_window: int | None,
          timestamp_param: str, recv_window_param: str) -> Request:
    """``request`` with recvWindow (when configured) and the timestamp appended to its query."""
    pairs: list[tuple[str, str]] = []
    if recv_window is not None:
        pairs.append((recv_window_param, str(recv_window)))
    pairs.append((timestamp_param, str(timestamp_ms)))
    return request.with_query(*pairs)


def query_payload(request: Request) -> bytes:
    """Query string as sent, then the body, with no separator between them."""
    return request.query_string.encode("ascii") + (request.body or b"")

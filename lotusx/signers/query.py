"""The "query" signing payload shared by the HMAC and Ed25519 query families (Binance style).

The venue verifies the signature over the exact bytes it receives: the encoded query string
followed, without a separator, by the raw body. So the timestamp (and recvWindow) are added
to the query *before* the payload is built, and the signature goes last.
Source: binance/binance-spot-api-docs rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order".
"""

from __future__ import annotations

from collections.abc import Callable

from lotusx.kernel.message import Request, encode_query, extend_query

Pairs = tuple[tuple[str, str], ...]


def stamped_query(query: Pairs, timestamp_ms: int, *, recv_window: int | None, timestamp_param: str,
                  recv_window_param: str) -> Pairs:
    """``query`` with recvWindow (when configured) and the timestamp appended."""
    if recv_window is None:
        return (*query, (timestamp_param, str(timestamp_ms)))
    return (*query, (recv_window_param, str(recv_window)), (timestamp_param, str(timestamp_ms)))


def query_payload(request: Request) -> bytes:
    """Query string as sent, then the body, with no separator between them."""
    return request.query_string.encode("ascii") + (request.body or b"")


def sign_query(request: Request, query: Pairs, sign: Callable[[bytes], str], signature_param: str,
               key_header: tuple[str, str]) -> Request:
    """``request`` with ``query`` (already stamped), ``signature_param`` signed by ``sign`` over
    ``query + body`` appended last, and the ``key_header`` added: one new request, and the query
    encoded once for both the signature and the transport."""
    text = encode_query(query)
    signature = sign(text.encode("ascii") + (request.body or b""))
    signed, _ = extend_query(query, ((signature_param, signature),))
    return request.replace(query=signed, headers=(*request.headers, key_header))

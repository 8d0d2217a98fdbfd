"""The "query" signing payload shared by the HMAC and Ed25519 query families (Binance style).

The venue verifies the signature over the exact bytes it receives: the encoded query string
followed, without a separator, by the raw body. So the timestamp (and recvWindow) are added
to the query *before* the payload is built, and the signature goes last.
Source: binance/binance-spot-api-docs rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order".
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request, encode_query, extend_query

Pairs = tuple[tuple[str, str], ...]

# rest-api.md "Timing security": "Maximum `recvWindow` is 60000 milliseconds."
BINANCE_MAX_RECV_WINDOW = 60_000


def check_recv_window(owner: str, recv_window: object, *, most: int | None = None) -> None:
    """A ``ConfigError`` unless ``recv_window`` is a positive int of milliseconds (at most ``most``).

    Zero or less makes the venue refuse every call as outside its window, which reads as clock
    skew and costs a resync and a re-send each time; a float or a str is not the int asked for.
    """
    if isinstance(recv_window, bool) or not isinstance(recv_window, int) or recv_window <= 0:
        raise ConfigError(f"{owner}: recv_window is a positive int of milliseconds, got {recv_window!r}")
    if most is not None and recv_window > most:
        raise ConfigError(f"{owner}: recv_window may be at most {most} ms on this venue, got {recv_window}")


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
    # msgspec's replace itself: Request.replace's own frame and keyword packing cost half again as much.
    return msgspec.structs.replace(request, query=signed, headers=(*request.headers, key_header))

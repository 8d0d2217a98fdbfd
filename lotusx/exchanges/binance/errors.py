"""Binance error codes -> LotusX errors (binance-spot-api-docs errors.md)."""

from __future__ import annotations

import msgspec

from lotusx.kernel import errors as e
from lotusx.kernel.classify import chain, http_errors, retry_after
from lotusx.kernel.message import Request, Response


class _Body(msgspec.Struct):
    code: int
    msg: str = ""


_decode = msgspec.json.Decoder(_Body).decode

# -1000 UNKNOWN, -1001 DISCONNECTED, -1006 UNEXPECTED_RESP, -1007 TIMEOUT ("execution status
# unknown"), -1008 SERVER_BUSY: the venue may or may not have acted -> ServerError.
_AMBIGUOUS = {-1000, -1001, -1006, -1007, -1008}
_AUTH = {-1002, -2014, -2015}
_NOT_FOUND = {-2013, -1121}


def venue_errors(request: Request, response: Response) -> e.LotusXError | None:
    """The error a Binance ``{"code": ..., "msg": ...}`` body means; ``None`` when not one."""
    if response.status < 400 or not response.body.startswith(b"{"):
        return None
    try:
        body = _decode(response.body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    code, msg, where = body.code, body.msg, f"{request.method} {request.path}"
    kind: type[e.LotusXError]
    if response.status in (418, 429) or code == -1003:
        cls = e.IpBanned if response.status == 418 else e.RateLimited
        return cls(where, retry_after=retry_after(response), code=code, venue_message=msg, response=response)
    if code == -1021:
        kind = e.TimestampOutOfWindow
    elif code == -1022:
        kind = e.InvalidSignature
    elif code in _AUTH:
        kind = e.AuthenticationError
    elif code in _AMBIGUOUS:
        kind = e.ServerError
    elif code in _NOT_FOUND or (code == -2011 and "unknown order" in msg.lower()):
        # -2011 CANCEL_REJECTED shares errors.md's message table with -2010: only "Unknown order
        # sent." says the order is gone; "cancel restrictions", "action disabled"... leave it live.
        kind = e.NotFound
    elif code == -2010 and "duplicate" in msg.lower():
        kind = e.DuplicateClientOrderId
    elif code == -2010 and "insufficient balance" in msg.lower():
        kind = e.InsufficientBalance
    elif code == -2010:
        kind = e.OrderRejected
    else:
        kind = e.ServerError if response.status >= 500 else e.InvalidRequest
    return kind(where, code=code, venue_message=msg, response=response)


classify = chain(venue_errors, http_errors)

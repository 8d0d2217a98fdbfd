"""Binance error codes -> LotusX errors (binance-spot-api-docs errors.md).

HTTP statuses as rest-api.md "HTTP Return Codes" gives them: 418 and the WAF's 403 are
``IpBanned``, 429 ``RateLimited``, 5xx ``ServerError`` whatever the code (execution status unknown).

On a withdrawal (/sapi/v1/capital/withdraw/apply) a 4xx code is a refusal only when the docs give
it as one (``_WITHDRAWAL_REFUSALS``); any other is a ``ServerError``, which the connector raises as
``AmbiguousWithdrawal``: read as "not done", a withdrawal that went through would be asked again.
The wallet's codes (3xxx-5xxx "SAPI-specific issues") are on developers.binance.com/docs/wallet/
error-code, not in the spot docs' errors.md. No official copy of that page's 3xxx-5xxx part could be
read (only third-party copies of it): those codes, and -1131, are unverified; see each table's source.
"""

from __future__ import annotations

import time

import msgspec

from lotusx.exchanges.binance.endpoints import ORDERS, WITHDRAW
from lotusx.kernel import errors as e
from lotusx.kernel.classify import chain, http_errors, retry_after
from lotusx.kernel.message import Request, Response


class _Body(msgspec.Struct):
    code: int
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")  # cancelReplace's -2021/-2022 say what each half did


class _Half(msgspec.Struct):
    """One half of a cancel-replace's answer: an error ``{code, msg}``, or the cancel report (``orderId``)."""

    code: int | None = None
    msg: str = ""
    orderId: int | None = None


class _Replace(msgspec.Struct):
    cancelResult: str = ""
    newOrderResult: str = ""
    cancelResponse: _Half | None = None
    newOrderResponse: _Half | None = None


_decode = msgspec.json.Decoder(_Body).decode

# WALLET_PAGE: developers.binance.com/zh-CN/docs/products/wallet/error-code, official, but its stored copy
# shows only -1000..-1115. UNVERIFIED: read from third-party copies of the page alone, no official text seen.

# -1000 UNKNOWN, -1001 DISCONNECTED, -1006 UNEXPECTED_RESP, -1007 TIMEOUT ("execution status
# unknown"), -1008 SERVER_BUSY: the venue may or may not have acted -> ServerError. So, from the
# wallet's page, may -1004 SERVER_BUSY ("Server is busy, please wait and try again": when to ask
# again, not that nothing was done), -3000 INNER_FAILURE ("Internal server error") and -3044
# SYSTEM_BUSY.
# Source: binance/binance-spot-api-docs errors.md @a5e0bc3; -1004 WALLET_PAGE (below); -3000, -3044 UNVERIFIED.
_AMBIGUOUS = {-1000, -1001, -1004, -1006, -1007, -1008, -3000, -3044}
# Source of _AUTH, _NOT_FOUND, -1015, -1021, -1022, -2010/-2011: binance/binance-spot-api-docs errors.md @a5e0bc3.
_AUTH = {-1002, -2014, -2015}
_NOT_FOUND = {-2013, -1121}
# The wallet's "You have insufficient balance": -4026 CAPITAL_WITHDRAW_USER_ASSET_NOT_ENOUGH, -5002
# ASSET_ASSET_NOT_ENOUGH. Source: UNVERIFIED (third-party copies of the wallet page only).
_NO_BALANCE = {-4026, -5002}
# -4005 CAPAITAL_TOO_MANY_REQUEST "Too many new requests": a throttle, refused as -1003 is.
# Source: -1003 errors.md @a5e0bc3; -4005 UNVERIFIED (third-party copies of the wallet page only).
_THROTTLES = {-1003, -4005}
# The documented codes that refuse a withdrawal outright (nothing moved): errors.md's "Request
# issues" a withdrawal's parameters can meet, -1020 UNSUPPORTED_OPERATION, -1099 "Not found,
# authenticated, or authorized", and the wallet's checks of the account, asset, address, whitelist
# and amount (the typed refusals, auth and balance, are matched before). Left out, so ambiguous on
# a withdrawal: -4027 "Failed to obtain tranId" (the withdrawal may be made, its id lost), -4030
# "Confirmation of successful asset withdrawal", -4032 "Withdraw verification exception", -4045
# "Failure to acquire assets" (the venue's own failures), -1016 SERVICE_SHUTTING_DOWN, and the
# codes of other endpoints (records, cancels, deposit addresses, mails, margin, savings).
# Source: -1xxx errors.md @a5e0bc3, -1099 WALLET_PAGE; -1131 and every -4xxx/-5xxx UNVERIFIED (see above).
_WITHDRAWAL_REFUSALS = frozenset({
    -1020, -1099, -1100, -1101, -1102, -1103, -1104, -1105, -1106, -1108, -1111, -1128, -1130, -1131, -1135,
    -4001, -4004, -4006, -4007, -4008, -4012, -4013, -4014, -4015, -4016, -4017, -4018, -4019, -4021, -4022,
    -4023, -4024, -4025, -4028, -4033, -4034, -4035, -4036, -4039, -4044, -4046, -4060, -5003,
})
# -1015 TOO_MANY_ORDERS: the account's unfilled order count ran out (rest-api.md "Unfilled Order
# Count"), not the IP's request weight: only new orders wait, a cancel still goes out.
_TOO_MANY_ORDERS = -1015


# rest-api.md "HTTP Return Codes": a 403 is a Web Application Firewall rule violated, "a rate limit
# violation or a security block" (web-socket-api.md says the same of its status 403). Not a refused
# key (those are 401 -2014/-2015 and 400 -1022): "stop, fix the keys" would stop a market maker on a
# block that passes. The WAF stands before every endpoint and the request never reached the engine,
# so it is an IP ban to wait out (every pool, its Retry-After or RateLimit's ban_seconds) and a
# definite refusal: a placement is sent again, never looked up as an order that may exist.
_WAF_BLOCK = 403


def venue_errors(request: Request, response: Response) -> e.LotusXError | None:
    """The error a Binance ``{"code": ..., "msg": ...}`` body (or a 403 from the WAF) means; ``None`` when not one."""
    if response.status < 400:
        return None
    where = f"{request.method} {request.path}"
    body = _body(response)
    if body is None:
        if response.status == _WAF_BLOCK:  # the firewall's own page, not Binance's JSON
            return e.IpBanned(f"{where}: blocked by the web application firewall", retry_after=retry_after(response),
                              response=response)
        return None
    if body.code in (_REPLACE_PARTLY_FAILED, _REPLACE_FAILED) and response.status < 500:
        return _cancel_replace(where, response, body)
    return _error(where, response.status, body.code, body.msg, retry=retry_after(response), response=response,
                  withdrawing=request.endpoint.name == WITHDRAW.name)


# rest-api.md "Cancel an Existing Order and Send a New Order", with cancelReplaceMode=STOP_ON_FAILURE:
# -2022 (HTTP 400) "Order cancel-replace failed.": the cancel failed, no new order was attempted, the
# original is as it was; -2021 (HTTP 409) "Order cancel-replace partially failed.": the cancel
# succeeded and the new order failed, so NOTHING rests any more. Each half's own answer is in "data".
_REPLACE_PARTLY_FAILED, _REPLACE_FAILED = -2021, -2022


def _cancel_replace(where: str, response: Response, body: _Body) -> e.LotusXError:
    try:
        data = msgspec.json.decode(body.data, type=_Replace | None) or _Replace()
    except (msgspec.DecodeError, msgspec.ValidationError):
        data = _Replace()
    cancel, new = data.cancelResponse or _Half(), data.newOrderResponse or _Half()
    if body.code == _REPLACE_FAILED and data.cancelResult == "FAILURE" and data.newOrderResult == "NOT_ATTEMPTED":
        # The cancel's own refusal, typed as a plain cancel's would be (-2011 "Unknown order sent." is NotFound).
        kind = _kind(response.status, cancel.code or body.code, cancel.msg)
        return kind(f"{where}: the cancel of the original order failed ({cancel.code} {cancel.msg}); no new order "
                    "was placed, the original is as it was", code=cancel.code or body.code,
                    venue_message=f"{body.msg} {cancel.msg}".strip(), status=response.status, response=response)
    if body.code == _REPLACE_PARTLY_FAILED and data.cancelResult == "SUCCESS":
        return e.OrderRejected(f"{where}: the original order {cancel.orderId} was CANCELLED, but the new order was "
                               f"refused ({new.code} {new.msg}): neither rests now", code=body.code,
                               venue_message=f"{body.msg} {new.msg}".strip(), status=response.status,
                               response=response)
    # Shapes of cancelReplaceMode=ALLOW_FAILURE, which LotusX never sends.
    return e.OrderRejected(f"{where}: cancel {data.cancelResult or '?'}, new order {data.newOrderResult or '?'}",
                           code=body.code, venue_message=body.msg, status=response.status, response=response)


def _body(response: Response) -> _Body | None:
    if not response.body.startswith(b"{"):
        return None
    try:
        return _decode(response.body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def ws_api_error(method: str, status: int, code: int, msg: str, *, retry_after_ms: int | None = None,
                 server_ms: int | None = None) -> e.LotusXError:
    """The error a WebSocket API answer ``{"status", "error": {"code", "msg", "data"}}`` to ``method`` means.

    The WS API returns "the same status and error codes" as the REST API (web-socket-api.md). A
    429 or 418 says when to try again in ``data.retryAfter`` (epoch ms, beside ``data.serverTime``),
    not in a header: ``retry_after`` is the time between the two, so no clock skew enters it.
    """
    retry = None
    if retry_after_ms is not None:
        now_ms = server_ms if server_ms is not None else time.time() * 1000
        retry = max(0.0, (retry_after_ms - now_ms) / 1000)
    return _error(method, status, code, msg, retry=retry)


def _error(where: str, status: int, code: int, msg: str, *, retry: float | None = None,
           response: Response | None = None, withdrawing: bool = False) -> e.LotusXError:
    # Under a 5xx the execution status is unknown (rest-api.md), so a throttle code there (-1003
    # "Too many requests queued.") proves no refusal a re-send could follow: a ServerError, below.
    if status in (_WAF_BLOCK, 418, 429) or (code in _THROTTLES and status < 500):
        if status in (_WAF_BLOCK, 418):
            return e.IpBanned(where, retry_after=retry, code=code, venue_message=msg, status=status, response=response)
        pool = ORDERS if code == _TOO_MANY_ORDERS else None
        return e.RateLimited(where, retry_after=retry, pool=pool, code=code, venue_message=msg, status=status,
                             response=response)
    kind = _kind(status, code, msg, withdrawing=withdrawing)
    return kind(where, code=code, venue_message=msg, status=status, response=response)


# errors.md "Filter failures": -1013 "Filter failure: PRICE_FILTER" (LOT_SIZE, NOTIONAL...), an order
# refused by the symbol's trading rules: OrderRejected, as Bybit's 170134/170140/110094 are. Other
# -1013 messages ("Invalid quantity." and the like) stay InvalidRequest.
_FILTER_FAILURE = "Filter failure:"


def _kind(status: int, code: int, msg: str, *, withdrawing: bool = False) -> type[e.LotusXError]:
    if status >= 500:
        # rest-api.md: "do NOT treat this as a failure operation; the execution status is
        # UNKNOWN". A refusal's code under a 5xx would otherwise read as "not placed".
        return e.ServerError
    if code == -1021:
        return e.TimestampOutOfWindow
    if code == -1022:
        return e.InvalidSignature
    if code in _AUTH:
        return e.AuthenticationError
    if code in _AMBIGUOUS:
        return e.ServerError
    if code in _NOT_FOUND or (code == -2011 and "unknown order" in msg.lower()):
        # -2011 CANCEL_REJECTED shares errors.md's message table with -2010: only "Unknown order
        # sent." says the order is gone; "cancel restrictions", "action disabled"... leave it live.
        return e.NotFound
    if code == -2010 and "duplicate" in msg.lower():
        return e.DuplicateClientOrderId
    if code == -2010 and "insufficient balance" in msg.lower():
        return e.InsufficientBalance
    if code == -2010 or (code == -1013 and msg.startswith(_FILTER_FAILURE)):
        return e.OrderRejected
    if code in _NO_BALANCE:
        return e.InsufficientBalance
    if withdrawing and code not in _WITHDRAWAL_REFUSALS:
        return e.ServerError  # never re-sent (the endpoint is UNSAFE): AmbiguousWithdrawal with its withdrawOrderId
    return e.InvalidRequest


classify = chain(venue_errors, http_errors)

"""Bybit v5 ``retCode`` -> LotusX errors (https://bybit-exchange.github.io/docs/v5/error).

Bybit answers HTTP 200 with ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``; any
``retCode`` other than 0 is an error. HTTP 403 means the IP limit was breached ("access too
frequent": stay away at least 10 minutes, docs/v5/rate-limit); 429 is "system level frequency
protection", to retry. A ``retCode`` 429 (HTTP 200) is "high server load": a write's outcome is
unknown, so it is a ``ServerError`` (retried; a placement first reconciles).

On a placement or an amend, a ``retCode`` the docs list as a refusal is ``OrderRejected`` (or
``InvalidRequest``); one they do not list is a ``ServerError``: the order may exist, so it is
looked up by its orderLinkId, never read as "not placed". On a withdrawal likewise: a refusal the
docs list (Asset, 131xxx) is ``InvalidRequest`` (``InsufficientBalance``), any other code a
``ServerError``, which the connector raises as ``AmbiguousWithdrawal``, never "not done".
"""

from __future__ import annotations

import msgspec

from lotusx.exchanges.bybit.endpoints import ORDER_WRITES, WITHDRAW
from lotusx.kernel import errors as e
from lotusx.kernel.classify import chain, http_errors
from lotusx.kernel.message import Request, Response

IP_BAN_SECONDS = 600.0


class _Body(msgspec.Struct):
    retCode: int
    retMsg: str = ""
    time: int | None = None


_decode = msgspec.json.Decoder(_Body).decode
_OK = b'{"retCode":0,'  # how Bybit (and the sim) start every success: no decode on the hot path

# Source: github.com/bybit-exchange/docs docs/v5/error.mdx, commit 072c197d (2026-07-24); every code is listed there.
_KINDS: dict[int, type[e.LotusXError]] = {
    # The venue may have acted on these: a placement reconciles by orderLinkId, never reads them as a rejection.
    10000: e.ServerError,  # Server Timeout
    10016: e.ServerError,  # Server error / service restarting
    429: e.ServerError,  # (UTA) The trading service is experiencing a high server load. Please retry.
    170001: e.ServerError,  # (Spot) Internal error.
    170007: e.ServerError,  # (Spot) Timeout waiting for response from backend server.
    170032: e.ServerError,  # (Spot) Network error. Please try again later
    170146: e.ServerError,  # (Spot) Order creation timeout
    170147: e.ServerError,  # (Spot) Order cancellation timeout
    170234: e.ServerError,  # (Spot) System Error
    131001: e.ServerError,  # (Asset) openapi svc error
    131003: e.ServerError,  # (Asset) Internal error
    131200: e.ServerError,  # (Asset) Service error
    131201: e.ServerError,  # (Asset) Internal error
    # (Asset) "The system is busy, please try again later". "Try again later" says when, not
    # whether it acted: nothing in the docs says the request was dropped unprocessed (as Binance's
    # -1013 "didn't reach the Matching Engine" does), and a busy service times out inside as well
    # as at its door. Read as a refusal, a withdrawal that went through would be asked again: the
    # funds moved twice; as a ServerError it is AmbiguousWithdrawal, looked up by requestId. The
    # same wording on retCode 429 ("high server load. Please retry") is a ServerError above.
    131230: e.ServerError,
    # (Asset) "Do not repeat the request": the requestId was seen before, so a withdrawal under it
    # may exist (as 10014 below): looked up, never read as "not done".
    131082: e.ServerError,
    170035: e.ServerError,  # (Spot) Submitted to the system for processing! (not refused: it may go through)
    170310: e.ServerError,  # (Spot) Order modification timeout
    3400214: e.ServerError,  # (UTA) Server error, please try again later
    # (Spot) Create order failed: no reason named, where every refusal names one; the server's own
    # failures ("Internal error", "System Error") read the same, so the order is looked up.
    170149: e.ServerError,
    10014: e.ServerError,  # Invalid duplicate request: the same request seen before, which may have acted
    # The order is busy on the venue: "try again later", not a request to fix (a cancel is retried).
    110079: e.ServerError,  # The order is processing and can not be operated, please try again later
    170191: e.ServerError,  # (Spot) Can not cancel order, please try again later
    170212: e.ServerError,  # (Spot) Cancel order request processing
    # The trade WebSocket's own codes (docs/v5/error.mdx "WS OE General code", docs/v5/websocket/trade/
    # guideline.mdx "Response Parameters"), answered as the envelope's retCode (lotusx.exchanges.bybit.ws_trade).
    # 10019 "ws trade service is restarting, do not accept new request": not acted on, and a new
    # connection reaches a normal service, so it is retried as 10016 is (a placement reconciles first).
    10019: e.ServerError,
    # 20006 "reqId is duplicated": that frame was not acted on; a re-send goes under a new reqId.
    20006: e.ServerError,
    10404: e.InvalidRequest,  # op type is not found; category is not correct/supported
    10001: e.InvalidRequest,  # Request parameter error
    10002: e.TimestampOutOfWindow,  # The request time exceeds the time window range.
    10003: e.AuthenticationError,  # API key is invalid.
    10004: e.InvalidSignature,  # Error sign
    10005: e.AuthenticationError,  # Permission denied
    10007: e.AuthenticationError,  # User authentication failed.
    10010: e.AuthenticationError,  # Unmatched IP
    # "Service Restricted: Access is currently unavailable for your region" (docs/v5/error, UTA, since
    # 2026-05): a refusal no wait lifts, so not an IP ban that a cool-off would retry after.
    10009: e.AuthenticationError,
    33004: e.AuthenticationError,  # (Derivatives) api key has expired
    -2015: e.AuthenticationError,  # (Spot) api key has expired
    110001: e.NotFound,  # Order does not exist
    170213: e.NotFound,  # (Spot) Order does not exist.
    # Nothing left to cancel: the order is closed (what a cancel retried after a lost answer meets).
    110008: e.NotFound,  # The order has been completed or cancelled.
    110010: e.NotFound,  # The order has been cancelled
    170139: e.NotFound,  # (Spot) Order has been filled.
    170142: e.NotFound,  # (Spot) Order has been cancelled
    170190: e.NotFound,  # (Spot) Cancel order has been finished
    170143: e.NotFound,  # (Spot) Cannot be found on order book
    110007: e.InsufficientBalance,  # Available balance is insufficient
    110004: e.InsufficientBalance,  # Wallet balance is insufficient
    110012: e.InsufficientBalance,  # Insufficient available balance.
    110044: e.InsufficientBalance,  # Available margin is insufficient.
    110045: e.InsufficientBalance,  # Wallet balance is insufficient.
    110006: e.InsufficientBalance,  # The assets are estimated to be unable to cover the position margin
    110051: e.InsufficientBalance,  # The user's available balance cannot cover the lowest price of the current market
    110052: e.InsufficientBalance,  # Your available balance is insufficient to set the price
    110053: e.InsufficientBalance,  # The user's available balance cannot cover the current market price and upper ...
    170033: e.InsufficientBalance,  # (Spot) margin Insufficient account balance
    170131: e.InsufficientBalance,  # (Spot) Balance insufficient
    131212: e.InsufficientBalance,  # (Asset) Insufficient balance
    131085: e.InsufficientBalance,  # (Asset) Withdrawal amount is greater than your available balance
    131228: e.InsufficientBalance,  # (Asset) your balance is not enough. Please check transfer safe amount
    110072: e.DuplicateClientOrderId,  # OrderLinkedID is duplicate
    170141: e.DuplicateClientOrderId,  # (Spot) Duplicate clientOrderId
}
# An order without positionIdx 1 or 2 on a symbol in hedge mode is refused 10001 "position idx not
# match position mode" (the create-order docs: "Under hedge-mode, this param is required"). Orders are
# placed one-way (no positionIdx: 0), so the fix is the account's position mode, not the order.
_HEDGE_MODE = "position idx"
_ONE_WAY = ("the symbol is in hedge mode and LotusX places one-way orders (positionIdx 0): switch it to one-way "
            "mode (POST /v5/position/switch-mode with category=linear, symbol or coin, mode=0) once it has no "
            "position and no open order")
# An unknown symbol is the generic 10001 "params error: symbol invalid": a NotFound, as Binance's
# -1121, so one ``except NotFound`` serves both venues.
_UNKNOWN_SYMBOL = "symbol invalid"
# Every other code docs/v5/error lists under "UTA" and "Spot Trade" (July 2026): a validation the
# request failed (a price out of range, a symbol closed, an account restriction...), so nothing was
# placed: a definite refusal, OrderRejected on a placement (11xxxx, 17xxxx...) or InvalidRequest.
# Source: github.com/bybit-exchange/docs docs/v5/error.mdx "UTA", "Spot Trade", commit 072c197d (2026-07-24).
_REFUSALS = frozenset({
    -1, 10008, 10017, 10024, 10027, 10028, 10029, 30035, 30133, 30134, 30135, 30136, 30208, 30209, 30228, 30256,
    34040, 40004, 100028, 110003, 110005, 110009, 110011, 110013, 110014, 110015, 110017, 110018, 110019,
    110020, 110021, 110022, 110023, 110024, 110025, 110026, 110027, 110028, 110029, 110031, 110032, 110033,
    110034, 110035, 110036, 110037, 110038, 110039, 110040, 110041, 110042, 110043, 110046, 110047, 110048,
    110049, 110050, 110054, 110055, 110056, 110057, 110058, 110059, 110060, 110061, 110062, 110063, 110064,
    110065, 110066, 110067, 110068, 110069, 110070, 110071, 110073, 110074, 110076, 110077, 110078, 110080,
    110082, 110083, 110085, 110086, 110087, 110088, 110089, 110090, 110092, 110093, 110094, 110095, 110096,
    110097, 110098, 110099, 110100, 110101, 110102, 110103, 110104, 110105, 110106, 110107, 110108, 110109,
    110110, 110111, 110112, 110113, 110114, 110115, 110116, 110117, 110118, 110119, 110120, 110121, 110123,
    110124, 110125, 110131, 110132, 110135, 110136, 110137, 170010, 170011, 170019, 170031, 170034, 170036,
    170037, 170105, 170115, 170116, 170117, 170121, 170124, 170130, 170132, 170133, 170134, 170136, 170137,
    170140, 170144, 170145, 170148, 170150, 170151, 170157, 170159, 170192, 170193, 170194, 170195, 170196,
    170197, 170198, 170199, 170200, 170201, 170202, 170203, 170204, 170206, 170207, 170209, 170210, 170215,
    170216, 170217, 170218, 170219, 170220, 170221, 170223, 170224, 170226, 170227, 170228, 170229, 170230,
    170241, 170311, 170312, 170313, 170341, 170344, 170346, 170348, 170355, 170358, 170359, 170360, 170371,
    170372, 170381, 170382, 170709, 170810, 181017, 182011, 182100, 182101, 182102, 182103, 182108, 182110,
    182111, 182112, 500010, 500011, 3100181, 3100197, 3100326, 3200316, 3200317, 3200320, 3200403, 3200419,
    3200425, 3200641, 3400052, 3400053, 3400054, 3400071, 3400139, 3400208, 3400209, 3400210, 3400211, 3400212,
    3400213, 3401010
})
# Every other code docs/v5/error lists under "Asset" that refuses a withdrawal (or the transfer a
# withdrawal from another wallet makes first) outright: KYC, travel rule, address and whitelist,
# limits, bans, amounts, accounts. InvalidRequest on a withdrawal; nothing moved. Left out, so
# ambiguous on a withdrawal: 131099 "Hot wallet status can cancel the withdraw" (no verdict a reader
# can be sure of), 131206 "cannot be transfer" (first "Fail to transfer", zh-TW 劃轉失敗: a failure, not
# a verdict), and the failures of a lookup or check the venue ran rather than a verdict on the
# request: 131204 Account info error, 131205 Query transfer error, 131209 Get subMember relation
# error, 131213 TransferLTV check error, 131216 Query balance error, 131217 Risk check error.
# Source: github.com/bybit-exchange/docs docs/v5/error.mdx "Asset" (+ i18n/zh-TW), commit 072c197d (2026-07-24).
_WITHDRAWAL_REFUSALS = frozenset({
    131002, 131004, 131065, 131066, 131067, 131068, 131069, 131070, 131071, 131072, 131073, 131074, 131075,
    131076, 131077, 131078, 131079, 131080, 131081, 131083, 131084, 131086, 131087, 131088, 131089, 131090,
    131091, 131092, 131093, 131094, 131095, 131096, 131097, 131098, 131202, 131203, 131207, 131208,
    131210, 131211, 131215, 131226, 131227, 131229, 131231, 131232, 131233, 131239,
})
_IP_BANNED = {10018}  # Exceeded the IP Rate Limit (struck out in the docs, still mapped for older gateways)
# Per-UID throttles: 10006 Too many visits; (Spot) 170005 Too many new orders, 170222 Too many requests.
# The trade WebSocket's throttles: 10403 "exceed IP rate limit. 3000 requests per second per IP",
# 10429 "System level frequency protection" (HTTP 429's words), 20003 "Too frequent requests under
# the same session" (docs/v5/websocket/trade/guideline.mdx, docs/v5/error.mdx "WS OE General code").
_THROTTLED = {10006, 170005, 170222, 10403, 10429, 20003}


def scrubbed(msg: str) -> str:
    """``msg`` without the signed string a 10004 echoes: ``origin_string[`` timestamp, API key, recv window, params."""
    head, echoed, _ = msg.partition("origin_string")
    return f"{head}origin_string[redacted]" if echoed else msg


def _reset_in(response: Response, server_ms: int | None) -> float | None:
    """Seconds until ``X-Bapi-Limit-Reset-Timestamp``, measured on the venue's own clock."""
    reset = response.header("X-Bapi-Limit-Reset-Timestamp")
    if reset is None or server_ms is None:
        return None
    try:
        return max(0.0, (int(reset) - server_ms) / 1000)
    except ValueError:
        return None


def venue_errors(request: Request, response: Response) -> e.LotusXError | None:
    """The error a Bybit answer means; ``None`` for success and for what HTTP alone explains."""
    where = f"{request.method} {request.path}"
    if response.status == 403:
        return e.IpBanned(f"{where}: IP rate limit breached", retry_after=IP_BAN_SECONDS, response=response)
    body = response.body
    if response.status != 200 or body.startswith(_OK) or not body.startswith(b"{"):
        return None
    try:
        parsed = _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if parsed.retCode == 0:
        return None
    return code_error(request, parsed.retCode, parsed.retMsg, response=response,
                      retry_after=_reset_in(response, parsed.time))


def code_error(request: Request, code: int, msg: str, *, response: Response | None = None,
               retry_after: float | None = None, where: str = "") -> e.LotusXError:
    """The error a ``retCode`` (or a batch order's ``retExtInfo`` code) other than 0 means for ``request``."""
    where = where or f"{request.method} {request.path}"
    msg = scrubbed(msg)  # error texts end up in logs: they must never carry the key
    if code in _THROTTLED:
        return e.RateLimited(where, retry_after=retry_after, pool=request.endpoint.name,
                             code=code, venue_message=msg, response=response)
    if code in _IP_BANNED:
        return e.IpBanned(where, retry_after=IP_BAN_SECONDS, code=code, venue_message=msg, response=response)
    if code == 10001 and _HEDGE_MODE in msg:
        return e.InvalidRequest(f"{where}: {_ONE_WAY}", code=code, venue_message=msg, response=response)
    kind = e.NotFound if code == 10001 and _UNKNOWN_SYMBOL in msg else _KINDS.get(code)
    if kind is None:
        kind = _unlisted(code, placing=request.endpoint.name in ORDER_WRITES,
                         withdrawing=request.endpoint.name == WITHDRAW.name)
    return kind(where, code=code, venue_message=msg, response=response)


def _unlisted(code: int, *, placing: bool, withdrawing: bool) -> type[e.LotusXError]:
    """The error a code without a mapping of its own means: a refusal, unless a write may have acted."""
    if withdrawing:
        # As on a placement below: read as a refusal, a withdrawal that went through would be
        # asked again and the funds move twice. A ServerError is never re-sent (the endpoint is
        # UNSAFE) and the connector raises it as AmbiguousWithdrawal with the requestId.
        documented = code in _WITHDRAWAL_REFUSALS or code in _REFUSALS
        return e.InvalidRequest if documented else e.ServerError
    if not placing:
        return e.InvalidRequest  # nothing is placed twice: an unknown code is the caller's to fix
    if code in _REFUSALS:
        return e.OrderRejected if code >= 100_000 else e.InvalidRequest  # 11xxxx / 17xxxx: order validation
    # A code the docs do not list (a new one, say) may be a failure after the order reached the
    # engine. Read as a refusal, the caller would place again: two orders. As a ServerError, Retry
    # looks it up by orderLinkId and re-sends only the same orderLinkId (the venue's duplicate check
    # stops it if the first landed); not found at the end, it is AmbiguousOrderState.
    return e.ServerError


classify = chain(venue_errors, http_errors)

"""Binance error codes -> LotusX error types, one documented code at a time.

Codes and messages from errors.md (https://github.com/binance/binance-spot-api-docs/blob/master/errors.md);
HTTP statuses from rest-api.md "HTTP Return Codes" (4XX caller, 403 WAF, 409 partial cancelReplace,
418 IP ban, 429 rate limit, 5XX venue side with unknown execution status).
"""

from __future__ import annotations

import orjson
import pytest

from lotusx.exchanges.binance.errors import classify
from lotusx.exchanges.binance.streams import subscribed, user_frames
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.metrics import Metrics

ORDER = Request(method="POST", path="/api/v3/order")


def answer(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, body=orjson.dumps({"code": code, "msg": msg}), headers=headers or {})


@pytest.mark.parametrize(("status", "code", "msg", "kind"), [
    (500, -1000, "An unknown error occurred while processing the request.", e.ServerError),
    (503, -1001, "Internal error; unable to process your request. Please try again.", e.ServerError),
    (401, -1002, "You are not authorized to execute this request.", e.AuthenticationError),
    (429, -1003, "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.", e.RateLimited),
    (418, -1003, "Way too much request weight used; IP banned until 1700000000000.", e.IpBanned),
    (500, -1006, "An unexpected response was received from the message bus. Execution status unknown.",
     e.ServerError),
    (408, -1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
     e.ServerError),
    (503, -1008, "Server is currently overloaded with other requests. Please try again in a few minutes.",
     e.ServerError),
    (400, -1013, "Filter failure: PRICE_FILTER", e.OrderRejected),
    (400, -1013, "Invalid quantity.", e.InvalidRequest),
    (429, -1015, "Too many new orders; current limit is 100 orders per 10 SECOND.", e.RateLimited),
    (400, -1021, "Timestamp for this request is outside of the recvWindow.", e.TimestampOutOfWindow),
    (400, -1022, "Signature for this request is not valid.", e.InvalidSignature),
    (400, -1100, "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
     e.InvalidRequest),
    (400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.", e.InvalidRequest),
    (400, -1106, "Parameter 'timeInForce' sent when not required.", e.InvalidRequest),
    (400, -1121, "Invalid symbol.", e.NotFound),
    (400, -2010, "Duplicate order sent.", e.DuplicateClientOrderId),
    (400, -2010, "Account has insufficient balance for requested action.", e.InsufficientBalance),
    (400, -2010, "Order would immediately match and take.", e.OrderRejected),
    (400, -2011, "Unknown order sent.", e.NotFound),
    (400, -2013, "Order does not exist.", e.NotFound),
    (401, -2014, "API-key format invalid.", e.AuthenticationError),
    (401, -2015, "Invalid API-key, IP, or permissions for action.", e.AuthenticationError),
])
def test_documented_code_maps_to_type(status: int, code: int, msg: str, kind: type[e.LotusXError]) -> None:
    """Each documented code becomes exactly its LotusX error type, carrying code and venue message."""
    error = classify(ORDER, answer(status, code, msg))
    assert type(error) is kind
    assert (error.code, error.venue_message, error.status) == (code, msg, status)


def test_rate_limit_carries_retry_after() -> None:
    """A 429 keeps the venue's Retry-After (seconds) for the limiter and Retry to honour."""
    error = classify(ORDER, answer(429, -1003, "Too many requests.", {"Retry-After": "7"}))
    assert isinstance(error, e.RateLimited) and error.retry_after == 7.0


def test_ban_carries_retry_after() -> None:
    """A 418 is an IpBanned with its Retry-After."""
    error = classify(ORDER, answer(418, -1003, "IP banned.", {"Retry-After": "120"}))
    assert isinstance(error, e.IpBanned) and error.retry_after == 120.0


@pytest.mark.parametrize(("status", "kind"), [(502, e.ServerError), (401, e.AuthenticationError),
                                              (404, e.NotFound), (400, e.InvalidRequest)])
def test_bodies_without_a_code_fall_back_to_http(status: int, kind: type[e.LotusXError]) -> None:
    """A non-JSON or code-less error body is classified by its HTTP status (403: test_binance_waf_403_review23)."""
    assert type(classify(ORDER, Response(status=status, body=b"<html>blocked</html>"))) is kind
    assert type(classify(ORDER, Response(status=status, body=b'{"message": "no code"}'))) is kind


def test_unknown_code_on_5xx_is_server_error() -> None:
    """An undocumented code on a 5xx is still a ServerError (execution status unknown)."""
    assert type(classify(ORDER, answer(502, -9999, "?"))) is e.ServerError


def test_success_is_not_an_error() -> None:
    """A 2xx answer classifies as no error, even if its body happens to hold a ``code``."""
    assert classify(ORDER, answer(200, 0, "")) is None


def test_message_names_the_call_not_the_query() -> None:
    """The error text names method and path, never the signed query string."""
    request = Request(method="POST", path="/api/v3/order", query=(("signature", "deadbeef" * 8),))
    error = classify(request, answer(400, -1022, "Signature for this request is not valid."))
    assert error is not None and "POST /api/v3/order" in str(error) and "deadbeef" not in str(error)


@pytest.mark.parametrize("msg", ["This action is disabled on this account.",
                                 "Order was not canceled due to cancel restrictions."])
def test_cancel_rejected_for_another_reason_is_not_an_unknown_order(msg: str) -> None:
    """-2011 CANCEL_REJECTED is NotFound only for "Unknown order sent."; other reasons are a plain 4xx refusal."""
    assert type(classify(ORDER, answer(400, -2011, msg))) is e.InvalidRequest


# The documented ban answer of the WebSocket API (web-socket-api.md "IP limits").
_BANNED_ANSWER = {"id": 1, "status": 418, "error": {
    "code": -1003, "msg": "Way too much request weight used; IP banned until 1659146400000.",
    "data": {"serverTime": 1659142907531, "retryAfter": 1659146400000}}}


def test_a_ws_api_ban_says_how_long_from_its_own_server_time() -> None:
    """A WS API 418 answer's data.retryAfter minus data.serverTime is the IpBanned's retry_after, in seconds."""
    (answer,) = user_frames(Metrics()).run(orjson.dumps(_BANNED_ANSWER).decode())
    error = subscribed(answer)
    assert type(error) is e.IpBanned
    assert error.retry_after == pytest.approx(3492.469)


def test_a_ws_api_throttle_without_data_has_no_retry_after() -> None:
    """A 429 answer without data leaves retry_after unknown (the reconnect back-off decides)."""
    throttled = {"id": 1, "status": 429, "error": {"code": -1003, "msg": "Too much request weight used."}}
    (answer,) = user_frames(Metrics()).run(orjson.dumps(throttled).decode())
    error = subscribed(answer)
    assert type(error) is e.RateLimited and error.retry_after is None

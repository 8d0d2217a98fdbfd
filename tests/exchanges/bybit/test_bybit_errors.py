"""Bybit answers -> typed errors (https://bybit-exchange.github.io/docs/v5/error)."""

from __future__ import annotations

import orjson
import pytest

from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Request, Response

CREATE = Request(method="POST", path=ep.ORDER_CREATE.path, endpoint=ep.ORDER_CREATE)
REALTIME = Request(method="GET", path=ep.ORDER_REALTIME.path, endpoint=ep.ORDER_REALTIME)


def venue(code: int, msg: str = "msg", *, headers: dict[str, str] | None = None, time: int | None = 1_000) -> Response:
    body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": time}
    return Response(status=200, body=orjson.dumps(body), headers=headers or {})


@pytest.mark.parametrize(("code", "kind"), [
    (10000, e.ServerError), (10016, e.ServerError), (10001, e.InvalidRequest), (10002, e.TimestampOutOfWindow),
    (10003, e.AuthenticationError), (10004, e.InvalidSignature), (10005, e.AuthenticationError),
    (110001, e.NotFound), (170213, e.NotFound), (110007, e.InsufficientBalance), (170131, e.InsufficientBalance),
    (110072, e.DuplicateClientOrderId), (170141, e.DuplicateClientOrderId), (10009, e.AuthenticationError),
    (10018, e.IpBanned),
])
def test_ret_code_maps_to_its_error(code: int, kind: type[e.LotusXError]) -> None:
    """Each documented retCode raises its condition's error type, carrying code and message."""
    error = classify(CREATE, venue(code, "why"))
    assert type(error) is kind
    assert (error.code, error.venue_message) == (code, "why")


def test_success_is_not_an_error() -> None:
    """retCode 0 is success, whatever the key order."""
    body = b'{"retMsg":"OK","retCode":0,"result":{}}'
    assert classify(REALTIME, Response(status=200, body=body)) is None
    assert classify(REALTIME, venue(0)) is None


def test_too_many_visits_names_the_endpoint_pool_and_the_reset() -> None:
    """10006: RateLimited for the endpoint's pool, retry_after = reset header - venue time."""
    error = classify(REALTIME, venue(10006, headers={"X-Bapi-Limit-Reset-Timestamp": "2500"}, time=1_000))
    assert isinstance(error, e.RateLimited)
    assert (error.retry_after, error.pool) == (1.5, "order_realtime")


def test_too_many_visits_without_a_reset_has_no_retry_after() -> None:
    """10006 with no usable reset header leaves the wait to the retry policy."""
    missing = classify(REALTIME, venue(10006))
    garbled = classify(REALTIME, venue(10006, headers={"X-Bapi-Limit-Reset-Timestamp": "soon"}))
    assert isinstance(missing, e.RateLimited) and isinstance(garbled, e.RateLimited)
    assert (missing.retry_after, garbled.retry_after) == (None, None)


def test_unknown_codes_are_order_rejections_only_when_placing() -> None:
    """A documented 1xxxxx refusal without a type of its own rejects an order on create; elsewhere it is invalid."""
    assert type(classify(CREATE, venue(170193))) is e.OrderRejected
    assert type(classify(REALTIME, venue(170193))) is e.InvalidRequest
    assert type(classify(CREATE, venue(10017))) is e.InvalidRequest


def test_http_statuses() -> None:
    """403 is the IP ban (10 minutes), 429 a throttle, 5xx a server error, non-JSON 200 passes."""
    anon = Request(method="GET", path="/v5/market/time", endpoint=Endpoint("time"))
    banned = classify(anon, Response(status=403, body=b"access too frequent"))
    assert isinstance(banned, e.IpBanned) and banned.retry_after == 600.0
    assert type(classify(anon, Response(status=429, body=b"System level frequency protection"))) is e.RateLimited
    assert type(classify(anon, Response(status=502, body=b"{}"))) is e.ServerError
    assert classify(anon, Response(status=200, body=b"ok")) is None
    assert classify(anon, Response(status=200, body=b"{not json")) is None


def test_error_sign_echo_of_the_signed_string_is_kept_out_of_the_error_text() -> None:
    """10004 echoes origin_string (timestamp + API key + recv window + params): the key never reaches the error."""
    api_key = "bybit-test-api-key-42"
    msg = f'error sign! origin_string[1753758776658{api_key}5000{{"category":"spot","symbol":"BTCUSDT"}}]'
    error = classify(CREATE, venue(10004, msg))
    assert isinstance(error, e.InvalidSignature)
    assert api_key not in str(error) and api_key not in repr(error) and api_key not in (error.venue_message or "")

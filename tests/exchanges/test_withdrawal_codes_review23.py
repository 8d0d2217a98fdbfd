"""A withdrawal answered with an error code is a refusal only when the venue's docs say it is one.

A refusal (balance short, address not whitelisted, amount below the minimum...) tells the caller
nothing moved: asking again is safe. A server failure, a "busy", or a code the docs do not list
tells nothing of the kind: the funds may have moved, so it is ``AmbiguousWithdrawal`` carrying the
withdrawal's client id, to be looked up before asking again, and never sent a second time.

Bybit: docs/v5/error ("Asset" lists the 131xxx codes), answered with HTTP 200. Binance: errors.md
and the wallet's error codes (developers.binance.com/docs/wallet/error-code), answered with a 4xx.
"""

from __future__ import annotations

import orjson
import pytest

from lotusx.exchanges.binance import endpoints as binance_ep
from lotusx.exchanges.binance.errors import classify as binance_classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from tests.exchanges.test_ambiguous_withdrawal_review16 import withdraw_against as withdraw
from tests.exchanges.test_rest_mutations_review14 import KEY, NOW_MS, SECRET


def bybit_code(code: int, msg: str = "msg") -> Response:
    return Response(status=200, body=orjson.dumps({"retCode": code, "retMsg": msg, "result": {},
                                                   "retExtInfo": {}, "time": NOW_MS}))


def binance_code(code: int, msg: str = "msg", status: int = 400) -> Response:
    return Response(status=status, body=orjson.dumps({"code": code, "msg": msg}))


# ----- Bybit -----

@pytest.mark.parametrize(("code", "msg"), [
    (131001, "openapi svc error"),
    (131003, "Internal error"),
    (131200, "Service error"),
    (131201, "Internal error"),
    (131230, "The system is busy, please try again later"),
    (131082, "Do not repeat the request"),
    (131216, "Query balance error"),
    (10000, "Server Timeout"),
    (10016, "Server error."),
])
def test_a_bybit_withdrawal_answered_a_failure_or_busy_is_ambiguous(code: int, msg: str) -> None:
    """A server failure, a busy system or a repeated request says nothing moved: AmbiguousWithdrawal, sent once."""
    error, sent = withdraw("bybit", bybit_code(code, msg))
    assert type(error) is e.AmbiguousWithdrawal and error.client_id == "payout-7"
    assert (error.code, error.venue_message, sent) == (code, msg, 1)


def test_a_bybit_withdrawal_answered_a_transfer_failure_is_ambiguous() -> None:
    """131206 "cannot be transfer", first documented "Fail to transfer": no sure refusal, so AmbiguousWithdrawal."""
    error, sent = withdraw("bybit", bybit_code(131206, "cannot be transfer"))
    assert type(error) is e.AmbiguousWithdrawal and error.client_id == "payout-7"
    assert error.code == 131206 and sent == 1


@pytest.mark.parametrize(("code", "msg", "kind"), [
    (131093, "The withdrawal address is not in the whitelist", e.InvalidRequest),
    (131096, "Withdraw amount does not satify the lower limit or upper limit", e.InvalidRequest),
    (131097, "Withdrawal of this currency has been closed", e.InvalidRequest),
    (131002, "Withdraw address chain or destination tag are not equal", e.InvalidRequest),
    (131089, "User sensitive operation, withdrawal is prohibited within 24 hours", e.InvalidRequest),
    (131085, "Withdrawal amount is greater than your availale balance", e.InsufficientBalance),
    (131212, "Insufficient balance", e.InsufficientBalance),
    (10001, "Request parameter error", e.InvalidRequest),
    (10003, "API key is invalid.", e.AuthenticationError),
    (10024, "Compliance rules triggered", e.InvalidRequest),
])
def test_a_bybit_withdrawal_answered_a_documented_refusal_is_that_refusal(code: int, msg: str,
                                                                         kind: type[e.LotusXError]) -> None:
    """A refusal docs/v5/error lists stays that typed refusal: nothing moved, the caller may ask again."""
    error, sent = withdraw("bybit", bybit_code(code, msg))
    assert type(error) is kind and error.code == code and sent == 1


@pytest.mark.parametrize("code", [131999, 131100, 99999, 42, 170999])
def test_a_bybit_withdrawal_answered_an_undocumented_code_is_ambiguous(code: int) -> None:
    """A code the docs do not list may follow a withdrawal that went through: AmbiguousWithdrawal, never a refusal."""
    error, sent = withdraw("bybit", bybit_code(code, "something new"))
    assert type(error) is e.AmbiguousWithdrawal and error.client_id == "payout-7"
    assert error.code == code and sent == 1


def test_a_bybit_ambiguous_withdrawal_carries_no_secret() -> None:
    """A retMsg echoing the signed string (key within) is scrubbed; neither key nor secret reach the error's text."""
    error, _ = withdraw("bybit", bybit_code(131999, f"failed origin_string[{NOW_MS}{KEY}5000{{}}]"))
    assert type(error) is e.AmbiguousWithdrawal
    text = f"{error} {error!r} {error.venue_message} {error.__cause__}"
    assert KEY not in text and SECRET not in text


# ----- Binance -----

@pytest.mark.parametrize(("code", "msg"), [
    (-1000, "An unknown error occurred while processing the request."),
    (-1001, "Internal error; unable to process your request. Please try again."),
    (-1004, "Server is busy, please wait and try again"),
    (-1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown."),
    (-1008, "Server is currently overloaded with other requests. Please try again in a few minutes."),
    (-3000, "Internal server error."),
    (-4027, "Failed to obtain tranId."),
    (-4030, "Confirmation of successful asset withdrawal."),
])
def test_a_binance_withdrawal_answered_a_failure_or_busy_is_ambiguous(code: int, msg: str) -> None:
    """A server failure, a busy server, an id not obtained: AmbiguousWithdrawal with the client id, sent once."""
    error, sent = withdraw("binance", binance_code(code, msg))
    assert type(error) is e.AmbiguousWithdrawal and error.client_id == "payout-7"
    assert (error.code, error.venue_message, sent) == (code, msg, 1)


@pytest.mark.parametrize(("code", "msg", "kind"), [
    (-4026, "You have insufficient balance.", e.InsufficientBalance),
    (-5002, "You have insufficient balance.", e.InsufficientBalance),
    (-4035, "This address is not on the whitelist. Please join and try again.", e.InvalidRequest),
    (-4022, "Not less than the minimum pick-up quantity 10.", e.InvalidRequest),
    (-4019, "Current asset is not open for withdrawal.", e.InvalidRequest),
    (-1102, "Mandatory parameter 'coin' was not sent, was empty/null, or malformed.", e.InvalidRequest),
    (-2015, "Invalid API-key, IP, or permissions for action.", e.AuthenticationError),
    (-1022, "Signature for this request is not valid.", e.InvalidSignature),
])
def test_a_binance_withdrawal_answered_a_documented_refusal_is_that_refusal(code: int, msg: str,
                                                                           kind: type[e.LotusXError]) -> None:
    """A refusal the docs list stays that typed refusal: nothing moved, the caller may ask again."""
    error, sent = withdraw("binance", binance_code(code, msg))
    assert type(error) is kind and error.code == code and sent == 1


@pytest.mark.parametrize(("code", "status"), [(-4999, 400), (-9999, 400), (-1999, 400), (-4029, 400), (-4999, 404)])
def test_a_binance_withdrawal_answered_an_undocumented_code_is_ambiguous(code: int, status: int) -> None:
    """A code no doc gives as a withdrawal's refusal: AmbiguousWithdrawal with the client id, never re-sent."""
    error, sent = withdraw("binance", binance_code(code, "something new", status))
    assert type(error) is e.AmbiguousWithdrawal and error.client_id == "payout-7"
    assert error.code == code and sent == 1


def test_a_binance_ambiguous_withdrawal_carries_no_secret() -> None:
    """Neither the key nor the secret reach the ambiguous withdrawal's text."""
    error, _ = withdraw("binance", binance_code(-4999, "something new"))
    assert type(error) is e.AmbiguousWithdrawal
    text = f"{error} {error!r} {error.venue_message} {error.__cause__}"
    assert KEY not in text and SECRET not in text


def test_an_undocumented_binance_code_elsewhere_is_still_an_invalid_request() -> None:
    """Away from a withdrawal (a read here), an unknown 4xx code stays the caller's to fix."""
    request = Request(method="GET", path=binance_ep.WITHDRAW_HISTORY.path, endpoint=binance_ep.WITHDRAW_HISTORY)
    assert type(binance_classify(request, binance_code(-4999))) is e.InvalidRequest


def test_a_binance_withdrawal_throttled_by_the_wallet_is_rate_limited() -> None:
    """-4005 "Too many new requests" is a throttle, a refusal like -1003: RateLimited, not an ambiguity."""
    request = Request(method="POST", path=binance_ep.WITHDRAW.path, endpoint=binance_ep.WITHDRAW)
    error = binance_classify(request, binance_code(-4005, "Too many new requests."))
    assert type(error) is e.RateLimited and error.code == -4005

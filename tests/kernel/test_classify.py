"""The generic HTTP classifier and chaining."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import pytest

from lotusx import (
    AuthenticationError,
    InvalidRequest,
    IpBanned,
    LotusXError,
    NotFound,
    RateLimited,
    Request,
    Response,
    ServerError,
    TimestampOutOfWindow,
    chain,
    http_errors,
    retry_after,
)

REQ = Request(method="GET", path="/x", query=(("signature", "s3cr3tsig"),))


@pytest.mark.parametrize(("status", "error"), [
    (418, IpBanned), (429, RateLimited), (500, ServerError), (503, ServerError),
    (401, AuthenticationError), (403, AuthenticationError), (404, NotFound),
])
def test_statuses_map_to_typed_errors(status: int, error: type[LotusXError]) -> None:
    """Each error status maps to its error type."""
    assert type(http_errors(REQ, Response(status=status))) is error


def test_success_is_not_an_error() -> None:
    """2xx is not an error."""
    assert http_errors(REQ, Response(status=200)) is None
    assert http_errors(REQ, Response(status=204)) is None


@pytest.mark.parametrize("status", [301, 304, 307, 308])
def test_a_redirect_is_a_definite_refusal_not_data(status: int) -> None:
    """A 3xx (the transport follows none) is an InvalidRequest with the response: never data, never "maybe executed"."""
    error = http_errors(REQ, Response(status=status, headers={"Location": "https://elsewhere/x?s3cr3tsig"}))
    assert type(error) is InvalidRequest and error.response is not None and error.status == status
    assert "elsewhere" not in str(error)


def test_error_text_has_path_but_not_query() -> None:
    """Error texts name the method and path, never the signed query."""
    text = str(http_errors(REQ, Response(status=500)))
    assert "GET /x" in text and "s3cr3tsig" not in text


def test_retry_after_as_seconds_and_http_date() -> None:
    """Retry-After is read both as delta-seconds and as an HTTP date."""
    assert retry_after(Response(status=429, headers={"Retry-After": "120"})) == 120.0
    date = email.utils.formatdate(1_000_060, usegmt=True)
    assert retry_after(Response(status=429, headers={"Retry-After": date}), now=lambda: 1_000_000) == 60.0
    assert retry_after(Response(status=429, headers={"Retry-After": "soon"})) is None
    assert retry_after(Response(status=429)) is None


def test_a_retry_after_that_is_not_a_finite_number_is_ignored() -> None:
    """"inf" would cool a pool off for ever and "nan" compares false: a garbled header says nothing."""
    for value in ("inf", "-inf", "nan", "Infinity"):
        assert retry_after(Response(status=429, headers={"Retry-After": value})) is None


@pytest.mark.parametrize("value", ["1_000", "1e9", " 12 x", "-5"])
def test_a_retry_after_that_is_not_plain_digits_is_ignored(value: str) -> None:
    """Delta-seconds are digits: "1_000" or "1e9" (which float() reads as 1000 s and 31 years) says nothing."""
    assert retry_after(Response(status=429, headers={"Retry-After": value})) is None


def test_a_retry_after_with_a_fraction_or_spaces_is_read() -> None:
    """" 1.5 " is 1.5 s: a fraction and surrounding spaces are tolerated."""
    assert retry_after(Response(status=429, headers={"Retry-After": " 1.5 "})) == 1.5


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local time zone is New York's (five hours from UTC in winter)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_http_date_without_a_zone_is_utc(new_york: None) -> None:
    """A "-0000" HTTP date is read as UTC, not as this machine's local time."""
    date = email.utils.formatdate(1_000_060, usegmt=True).replace("GMT", "-0000")
    assert retry_after(Response(status=429, headers={"Retry-After": date}), now=lambda: 1_000_000) == 60.0


def test_chain_takes_the_first_answer() -> None:
    """A venue classifier in front of http_errors wins for the codes it knows."""

    def venue(request: Request, response: Response) -> LotusXError | None:
        return TimestampOutOfWindow(code=-1021, response=response) if b"-1021" in response.body else None

    classify = chain(venue, http_errors)
    assert isinstance(classify(REQ, Response(status=400, body=b'{"code":-1021}')), TimestampOutOfWindow)
    assert isinstance(classify(REQ, Response(status=400, body=b'{"code":-1100}')), LotusXError)
    assert classify(REQ, Response(status=200)) is None


def test_error_str_carries_venue_code_and_message() -> None:
    """str(error) shows status, venue code and venue message."""
    error = TimestampOutOfWindow("ts", code=-1021, venue_message="outside recvWindow", status=400)
    assert str(error) == "ts status=400 code=-1021 venue_message='outside recvWindow'"

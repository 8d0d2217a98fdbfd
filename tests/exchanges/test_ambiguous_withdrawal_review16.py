"""A withdrawal the venue accepted but whose answer cannot be read is AmbiguousWithdrawal, never a refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.kernel import errors as e
from lotusx.kernel.message import Response
from lotusx.testing import FakeClock, FakeTransport
from tests.exchanges.test_rest_mutations_review14 import (
    KEY,
    NOW_MS,
    SECRET,
    WITHDRAWAL,
    Server,
    binance_cases,
    bybit_cases,
    dumps,
)

WITHDRAWAL_WITH_ID = lotusx.Withdrawal(asset="USDT", address="addr", amount=WITHDRAWAL.amount, network="TRX",
                                       client_id="payout-7")


def withdraw(venue: str, body: Callable[[Any], bytes], withdrawal: lotusx.Withdrawal = WITHDRAWAL_WITH_ID) -> Any:
    """What ``withdraw`` gives (or raises) when its recorded 200 answer is replaced by ``body(answer)``."""
    chosen = next(c for c in (binance_cases() if venue == "binance" else bybit_cases()) if c.name == "withdraw")

    async def run() -> Any:
        transport = FakeTransport(Server(chosen, Response(status=200, body=body(chosen.answer))))
        async with lotusx.connect(venue, credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                                  transport=transport, clock=FakeClock(NOW_MS / 1000)) as ex:
            try:
                return await ex.withdraw(withdrawal)
            except e.LotusXError as exc:
                return exc

    return asyncio.run(run())


def empty_id(venue: str) -> Callable[[Any], bytes]:
    """The recorded answer with the withdrawal id left empty."""
    def change(answer: Any) -> bytes:
        data = orjson.loads(dumps(answer))
        (data["result"] if venue == "bybit" else data)["id"] = ""
        return orjson.dumps(data)
    return change


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_the_recorded_answer_gives_the_withdrawal_id(venue: str) -> None:
    """The unchanged answer is read: withdraw returns the venue's id."""
    assert isinstance(withdraw(venue, dumps), str)


@pytest.mark.parametrize("venue", ["binance", "bybit"])
@pytest.mark.parametrize("body", [lambda _: b"<html>ok</html>", lambda _: b'{"id":', lambda _: b"{}"])
def test_an_unreadable_answer_is_ambiguous_withdrawal_carrying_the_client_id(venue: str, body: Any) -> None:
    """HTML, a body cut short or one without the id: AmbiguousWithdrawal naming client_id, caused by the DecodeError."""
    outcome = withdraw(venue, body)
    assert type(outcome) is e.AmbiguousWithdrawal and outcome.client_id == "payout-7"
    assert isinstance(outcome.__cause__, e.DecodeError) and "client_id=payout-7" in str(outcome)


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_an_empty_withdrawal_id_is_ambiguous_withdrawal(venue: str) -> None:
    """An id the venue left empty names no withdrawal: ambiguous, since the venue said yes."""
    assert type(withdraw(venue, empty_id(venue))) is e.AmbiguousWithdrawal


def test_without_a_client_id_the_error_says_so() -> None:
    """A withdrawal sent without client_id: the error carries None, to be found by asset, amount and time."""
    outcome = withdraw("binance", lambda _: b"<html>", WITHDRAWAL)
    assert type(outcome) is e.AmbiguousWithdrawal and outcome.client_id is None


def test_both_ambiguities_share_one_base() -> None:
    """AmbiguousOrderState and AmbiguousWithdrawal are AmbiguousOutcome, exported at the top level."""
    assert issubclass(lotusx.AmbiguousOrderState, lotusx.AmbiguousOutcome)
    assert issubclass(lotusx.AmbiguousWithdrawal, lotusx.AmbiguousOutcome)
    assert not issubclass(lotusx.AmbiguousOutcome, lotusx.DecodeError)


class Unanswered:
    """Answers the withdrawal route with ``outcome`` (raised, or a Response), every other route as recorded."""

    def __init__(self, venue: str, outcome: Exception | Response) -> None:
        self.server = Server(next(c for c in (binance_cases() if venue == "binance" else bybit_cases())
                                  if c.name == "withdraw"), Response(status=200))
        self.outcome = outcome
        self.withdrawals = 0

    def __call__(self, request: Any) -> Response:
        if (request.method, request.path) != self.server.case.route:
            return self.server(request)
        self.withdrawals += 1
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def withdraw_against(venue: str, outcome: Exception | Response) -> tuple[Any, int]:
    """What ``withdraw`` raises when the venue answers (or fails) with ``outcome``, and how many were sent."""
    venue_double = Unanswered(venue, outcome)

    async def run() -> Any:
        async with lotusx.connect(venue, credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                                  transport=FakeTransport(venue_double), clock=FakeClock(NOW_MS / 1000)) as ex:
            try:
                return await ex.withdraw(WITHDRAWAL_WITH_ID)
            except e.LotusXError as exc:
                return exc

    return asyncio.run(run()), venue_double.withdrawals


@pytest.mark.parametrize("venue", ["binance", "bybit"])
@pytest.mark.parametrize("outcome", [e.Timeout("no answer"), e.Disconnected("lost", sent=True),
                                     Response(status=503, body=b"<html>busy</html>")],
                         ids=["timeout", "lost", "503"])
def test_a_withdrawal_without_an_answer_is_ambiguous_with_its_client_id(venue: str, outcome: Any) -> None:
    """A timeout, a connection lost after sending or a 5xx may have moved the funds: AmbiguousWithdrawal, sent once."""
    error, sent = withdraw_against(venue, outcome)
    assert isinstance(error, e.AmbiguousWithdrawal) and error.client_id == "payout-7"
    assert sent == 1


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_a_withdrawal_that_never_left_is_no_ambiguity(venue: str) -> None:
    """A connection that could not be opened proves nothing moved: the ConnectError as it is."""
    error, _ = withdraw_against(venue, e.ConnectError("refused"))
    assert type(error) is e.ConnectError

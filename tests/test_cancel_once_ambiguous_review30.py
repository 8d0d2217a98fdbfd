"""cancel_once after a cancel whose retries ran out on an outcome that may have executed: the venue is asked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx import ConnectError, Disconnected, InvalidRequest, Order, ServerError, Timeout
from lotusx.account import cancel_once


def order(status: str) -> Order:
    return Order(order_id="1", client_order_id="c-1", symbol="BTCUSDT", side="BUY", type="LIMIT", status=status,
                 price=Decimal(40_000), quantity=Decimal("0.001"), filled_quantity=Decimal(0))


async def failing(error: Exception) -> Order:
    raise error


class Lookup:
    """get_order(): the order in ``status``, or ``error`` raised; counts its calls."""

    def __init__(self, status: str = "CANCELED", error: Exception | None = None) -> None:
        self.status, self.error, self.calls = status, error, 0

    async def __call__(self) -> Order:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return order(self.status)


@pytest.mark.parametrize("error", [ServerError("503 after retries"), Timeout("no answer"),
                                   Disconnected("answer lost", sent=True)], ids=["5xx", "timeout", "lost"])
async def test_an_order_found_cancelled_after_an_unknown_outcome_is_the_answer(error: Exception) -> None:
    """The cancel ran out on an outcome that may have executed; the order reads CANCELED: that is returned."""
    lookup = Lookup("CANCELED")
    assert (await cancel_once(failing(error), lookup)).status == "CANCELED"
    assert lookup.calls == 1


async def test_an_order_still_open_after_an_unknown_outcome_keeps_the_error() -> None:
    """Found still NEW, the cancel did not (yet) take: its own error stands."""
    with pytest.raises(ServerError, match="503 after retries"):
        await cancel_once(failing(ServerError("503 after retries")), Lookup("NEW"))


async def test_a_lookup_that_fails_too_keeps_the_cancels_error() -> None:
    """The venue still failing, the caller gets the cancel's error, not the lookup's."""
    with pytest.raises(ServerError, match="503 after retries"):
        await cancel_once(failing(ServerError("503 after retries")), Lookup(error=ServerError("503 lookup")))


@pytest.mark.parametrize("error", [InvalidRequest("bad symbol"), ConnectError("refused"),
                                   Disconnected("never written", sent=False)], ids=["refused", "connect", "unsent"])
async def test_an_outcome_that_proves_nothing_was_done_is_not_looked_up(error: Exception) -> None:
    """A definite refusal, or a cancel that never left, is raised as it came: the order was not touched."""
    lookup = Lookup("CANCELED")
    with pytest.raises(type(error)):
        await cancel_once(failing(error), lookup)
    assert lookup.calls == 0


async def test_the_cancels_error_keeps_its_own_cause_when_the_lookup_fails() -> None:
    """The error raised is the cancel's, cause untouched: the lookup's failure is neither its cause nor hides it."""
    def caused() -> ServerError:
        try:
            raise Timeout("read back timed out")
        except Timeout as cause:
            error = ServerError("accepted, read back failed")
            error.__cause__ = cause
            return error

    error = caused()
    with pytest.raises(ServerError) as raised:
        await cancel_once(failing(error), Lookup(error=ServerError("503 lookup")))
    assert raised.value is error and isinstance(error.__cause__, Timeout)

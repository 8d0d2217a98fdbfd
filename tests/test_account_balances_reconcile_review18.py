"""watch_balances' fetch after a gap waits out a passing failure, as the order reconcile does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.account import RECONCILE_WAITS, follow_balances
from lotusx.kernel.errors import AuthenticationError, LotusXError, ServerError, Timeout
from lotusx.metrics import Metrics
from lotusx.models import Balance
from lotusx.testing import FakeClock
from tests.test_account import GAP, RESUMED, stream

USDT = {"USDT": Balance(asset="USDT", free=Decimal(7), locked=Decimal(0))}


async def after_a_gap(*failures: LotusXError, metrics: Metrics | None = None
                      ) -> tuple[list[dict[str, Balance]], FakeClock]:
    """What follow_balances yields after one gap when the account fetch first raises ``failures``."""
    clock, left = FakeClock(), list(failures)

    async def fetch() -> tuple[None, dict[str, Balance]]:
        if left:
            raise left.pop(0)
        return None, USDT

    got = [b async for b in follow_balances(stream(GAP, RESUMED), balances=lambda m: None,
                                            fetch=fetch, clock=clock, metrics=metrics, exchange="testex")]
    return got, clock


async def test_a_fetch_failing_for_a_passing_reason_is_asked_again() -> None:
    """A 5xx then a timeout: the account comes after the first two waits, counted per reason."""
    metrics = Metrics()
    got, clock = await after_a_gap(ServerError("503"), Timeout("slow"), metrics=metrics)
    assert got == [USDT] and clock.slept == list(RECONCILE_WAITS[:2])
    assert [metrics.reconcile_retries.labels("testex", "balances", reason)._value.get()
            for reason in ("ServerError", "Timeout")] == [1, 1]


async def test_a_fetch_failing_past_the_waits_ends_the_stream() -> None:
    """Still failing once the waits are used up: the stream ends with the failure, never a guessed account."""
    with pytest.raises(ServerError):
        await after_a_gap(*[ServerError("503")] * (len(RECONCILE_WAITS) + 1))


async def test_a_fetch_refused_for_good_ends_the_stream_at_once() -> None:
    """An AuthenticationError is no passing failure: no wait."""
    with pytest.raises(AuthenticationError):
        await after_a_gap(AuthenticationError("key revoked"))

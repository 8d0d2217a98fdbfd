"""Clock sync failures and timestamp re-sends are counted."""

from __future__ import annotations

from lotusx.kernel import errors as e
from lotusx.layers.clock import ClockSync, ServerClock
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, ScriptedService
from tests.layers.test_reconcile_metrics_review13 import OK, T0, order, value


async def test_a_failed_clock_sync_is_counted() -> None:
    """A refresh that gets no answer keeps the last offset and counts clock_sync_failures."""
    metrics, answers = Metrics(), [int(T0 * 1000)]

    async def fetch() -> int:
        if answers:
            return answers.pop()
        raise e.ServerError("503")

    clock = ServerClock(fetch, FakeClock(T0), samples=1, metrics=metrics, exchange="demo")
    await clock.sync()
    await clock.resync()
    assert value(metrics, "lotusx_clock_sync_failures_total", exchange="demo") == 1


async def test_a_resend_after_a_timestamp_rejection_is_counted_as_a_retry() -> None:
    """ClockSync's one re-send after TimestampOutOfWindow shows in retries{reason=TimestampOutOfWindow}."""
    metrics = Metrics()

    async def fetch() -> int:
        return int(T0 * 1000)

    clock = ServerClock(fetch, FakeClock(T0), samples=1, metrics=metrics, exchange="demo")
    inner = ScriptedService([e.TimestampOutOfWindow("-1021"), OK])
    await ClockSync(clock)(inner)(order())
    assert value(metrics, "lotusx_retries_total", exchange="demo", endpoint="new_order",
                 reason="TimestampOutOfWindow") == 1

"""Learning from usage reports on memory://: the already-counted shortcut changes no count."""

from __future__ import annotations

from lotusx.kernel.message import Response
from lotusx.layers.limiter import Limiter, Pool, Usage
from lotusx.layers.ratelimit import RemainingHeader
from lotusx.testing import FakeClock

T0 = 1_700_000_040.0  # a whole minute, and a whole 10 s, since the epoch
WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)
ORDERS_10S = Pool("ORDERS", 3, 10)
ORDERS_1D = Pool("ORDERS", 5, 86_400)


def limiter(clock: FakeClock) -> Limiter:
    return Limiter((WEIGHT, ORDERS_10S, ORDERS_1D), "memory://", key="learning", clock=clock, guard=0.0)


async def test_a_report_beyond_a_full_windows_limit_leaves_it_at_the_limit() -> None:
    """A full window says nothing new at any higher count: it stays full, never above its limit."""
    lim = limiter(FakeClock(T0))
    await lim.acquire({"REQUEST_WEIGHT": 10})
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 25, per_seconds=60)) is True
    assert await lim.used(WEIGHT) == 10


async def test_a_report_for_every_window_pulls_up_only_the_one_behind() -> None:
    """A report without a window is checked against each pool of the name: one counted already, the other pulled up."""
    lim = limiter(FakeClock(T0))
    await lim.acquire({"ORDERS": 1})
    assert lim.sync_nowait(Usage("ORDERS", 4, per_seconds=86_400)) is True
    assert lim.sync_nowait(Usage("ORDERS", 3)) is True
    assert [await lim.used(pool) for pool in (ORDERS_10S, ORDERS_1D)] == [3, 4]


async def test_a_report_at_or_below_our_count_changes_nothing() -> None:
    """The venue counted no more than we charged: our counts stay as they are."""
    lim = limiter(FakeClock(T0))
    await lim.acquire({"REQUEST_WEIGHT": 4})
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 3, per_seconds=60)) is True
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 4, per_seconds=60)) is True
    assert await lim.used(WEIGHT) == 4


async def test_a_report_of_a_window_no_pool_has_is_ignored() -> None:
    """A window length no pool of that name declares matches nothing, so nothing is pulled up."""
    lim = limiter(FakeClock(T0))
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 7, per_seconds=1)) is True
    assert await lim.used(WEIGHT) == 0


def test_a_remaining_header_that_is_no_number_reports_nothing() -> None:
    """A garbled remaining count is no reading: the response is not counted against any pool."""
    parser = RemainingHeader("X-Bapi-Limit-Status", "X-Bapi-Limit", "X-Bapi-Limit-Reset-Timestamp", "ORDERS")
    headers = {"X-Bapi-Limit-Status": "many", "X-Bapi-Limit": "10"}
    assert list(parser.read(Response(status=200, headers=headers))) == []

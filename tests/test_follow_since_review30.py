"""A Backfill marker (an account watch's since=): the follows reconcile from a venue time itself, as after a gap."""

from __future__ import annotations

from lotusx.account import Backfill, follow_fills, follow_orders, gap_start_ms
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Resumed
from tests.test_account import Venue as OrdersVenue
from tests.test_account import order, stream, updates
from tests.test_follow_fills_review30 import Venue as FillsVenue
from tests.test_follow_fills_review30 import fill, fills

SINCE = 1_700_000_000_000


def test_a_backfill_starts_at_its_own_time() -> None:
    """The reconcile window of a Backfill starts at since itself: no silent-link allowance, no slack."""
    assert gap_start_ms(Backfill(SINCE), offset=3.0, silent=60.0) == SINCE


def test_a_gap_still_starts_before_its_time() -> None:
    """A real gap keeps its allowance: its window starts the idle timeout and the slack before it."""
    assert gap_start_ms(1_000.0, offset=0.0, silent=60.0) == (1_000 - 60 - 10) * 1000


async def test_follow_fills_reconciles_from_a_backfill() -> None:
    """A Backfill, then the Resumed after it: the fills since that time are fetched and yielded, then the stream."""
    venue = FillsVenue([fill("2", 2), fill("1", 1)])
    got = [f async for f in follow_fills(stream(Backfill(SINCE), Resumed(0.0), fill("3", 3)), fills=fills,
                                         fetch=venue.fetch, clock=FakeClock())]
    assert [f.trade_id for f in got] == ["1", "2", "3"]
    assert venue.asked == [(Backfill(SINCE), frozenset())]


async def test_a_gap_before_the_backfills_reconcile_does_not_move_its_start() -> None:
    """A Gap between a Backfill and the next message leaves one reconcile, from the Backfill's time."""
    venue = FillsVenue()
    [f async for f in follow_fills(stream(Backfill(SINCE), Gap("disconnected", 5.0), Resumed(6.0)), fills=fills,
                                   fetch=venue.fetch, clock=FakeClock())]
    assert venue.asked == [(Backfill(SINCE), frozenset())]


async def test_follow_orders_reconciles_from_a_backfill() -> None:
    """A Backfill, then the Resumed: open orders and the orders changed since that time are yielded."""
    venue = OrdersVenue(open_now=[order("1")], changed=[order("2", "FILLED", "5", 2)])
    got = [o async for o in follow_orders(stream(Backfill(SINCE), Resumed(0.0)), orders=updates,
                                          open_orders=venue.open_orders, orders_since=venue.orders_since,
                                          get_order=venue.get_order, clock=FakeClock())]
    assert [(o.order_id, o.status) for o in got] == [("1", "NEW"), ("2", "FILLED")]
    assert venue.since == [(Backfill(SINCE), frozenset({"BTCUSDT"}))]

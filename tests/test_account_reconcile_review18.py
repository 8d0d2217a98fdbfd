"""The order reconcile after a gap outlasts a venue that lags or stumbles, and never hides a change.

A lookup that fails for a passing reason (the venue's lists behind its engine: ``NotFound`` for
an order just seen; a transport error, a 5xx, a throttle short of a ban) is asked again after a
back-off on the injected clock, within one bounded budget per reconcile; past it, the error
ends the iteration as before. Any other error ends it at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from lotusx.account import RECONCILE_WAITS, follow_orders
from lotusx.kernel.errors import (
    AuthenticationError,
    ConfigError,
    IpBanned,
    LotusXError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    Timeout,
)
from lotusx.metrics import Metrics
from lotusx.models import Order
from lotusx.testing import FakeClock
from tests.test_account import GAP, RESUMED, order, stream, updates


class Venue:
    """REST answers after scripted failures: ``fail[call]`` are raised first, one per call (``None``: it answers)."""

    def __init__(self, *, open_now: list[Order] | None = None, current: list[Order] | None = None,
                 **fail: list[LotusXError | None]) -> None:
        self.open_now = open_now or []
        self.current = {o.order_id: o for o in current or []}
        self.fail = fail
        self.asked: list[str] = []

    def _stumble(self, call: str) -> None:
        self.asked.append(call)
        failure = self.fail[call].pop(0) if self.fail.get(call) else None
        if failure is not None:
            raise failure

    async def open_orders(self) -> list[Order]:
        self._stumble("open")
        return self.open_now

    async def orders_since(self, gap_time: float, symbols: frozenset[str]) -> list[Order]:
        self._stumble("since")
        return []

    async def get_order(self, last: Order) -> Order:
        self._stumble(last.order_id)
        if last.order_id not in self.current:
            raise NotFound(f"no order {last.order_id}")
        return self.current[last.order_id]


async def follow(venue: Venue, clock: FakeClock, *messages: Any, metrics: Metrics | None = None) -> list[Order]:
    return [o async for o in follow_orders(stream(*messages), orders=updates, open_orders=venue.open_orders,
                                           orders_since=venue.orders_since, get_order=venue.get_order,
                                           clock=clock, metrics=metrics, exchange="testex")]


def lagging(times: int, order_id: str = "1") -> list[LotusXError | None]:
    return [NotFound(f"no order {order_id}", code=110001) for _ in range(times)]


async def test_an_order_the_venue_cannot_find_yet_is_looked_up_again_after_a_back_off() -> None:
    """A lagging venue's NotFound for an order last seen open is asked again, and its fill is reported."""
    clock = FakeClock()
    venue = Venue(current=[order("1", "FILLED", "5")], **{"1": lagging(2)})
    got = await follow(venue, clock, order("1"), GAP, RESUMED)
    assert got == [order("1"), order("1", "FILLED", "5")]
    assert clock.slept == list(RECONCILE_WAITS[:2])


@pytest.mark.parametrize("call", ["open", "since", "1"])
@pytest.mark.parametrize("error", [Timeout("no answer"), ServerError("503", status=503),
                                   RateLimited("slow down", retry_after=1.0)], ids=type)
async def test_a_passing_failure_of_any_reconcile_call_is_asked_again(call: str, error: LotusXError) -> None:
    """A timeout, a 5xx or a throttle on any of the three queries is waited out, not the stream's end."""
    clock = FakeClock()
    venue = Venue(current=[order("1", "CANCELED")], **{call: [error]})
    got = await follow(venue, clock, order("1"), GAP, RESUMED)
    assert got == [order("1"), order("1", "CANCELED")]
    assert clock.slept == [RECONCILE_WAITS[0]]


async def test_an_order_never_found_ends_the_stream_with_not_found_after_the_bound() -> None:
    """The order's state is never dropped: once the waits run out, the venue's NotFound ends the iteration."""
    clock = FakeClock()
    venue = Venue()
    with pytest.raises(NotFound):
        await follow(venue, clock, order("1"), GAP, RESUMED)
    assert clock.slept == list(RECONCILE_WAITS)
    assert venue.asked == ["open", "since", *["1"] * (len(RECONCILE_WAITS) + 1)]


async def test_the_bound_is_one_budget_for_the_whole_reconcile() -> None:
    """Two orders that stay unfindable share the waits: a reconcile never waits longer than RECONCILE_WAITS."""
    clock = FakeClock()
    with pytest.raises(NotFound):
        await follow(Venue(), clock, order("1"), order("2"), GAP, RESUMED)
    assert clock.slept == list(RECONCILE_WAITS)


async def test_each_reconcile_has_its_own_budget() -> None:
    """A reconcile that used up some waits leaves the next gap's reconcile its whole budget."""
    clock = FakeClock()
    lag = lagging(len(RECONCILE_WAITS))
    venue = Venue(current=[order("1", "PARTIALLY_FILLED", "1")], **{"1": [*lag, None, *lag]})
    got = await follow(venue, clock, order("1"), GAP, RESUMED, GAP, RESUMED)
    assert got == [order("1"), order("1", "PARTIALLY_FILLED", "1")]
    assert clock.slept == list(RECONCILE_WAITS) * 2


@pytest.mark.parametrize(("call", "error"), [
    ("1", AuthenticationError("key revoked")),
    ("1", IpBanned("banned", retry_after=120.0)),
    ("1", ConfigError("this bybit connector is closed")),
    ("open", NotFound("no such symbol")),  # only a single order's lookup can lag; a list's NotFound stands
    ("since", NotFound("no such symbol")),
    # The connectors' own paging limits ("still more orders after 100 pages", a repeated cursor):
    # asked again, each try costs a walk of up to 100 pages (2000 weight on Binance) for the same end.
    ("since", ProtocolError("GET /v5/order/history: still more orders after 100 pages")),
], ids=lambda v: v if isinstance(v, str) else type(v).__name__)
async def test_a_failure_that_will_not_pass_ends_the_stream_at_once(call: str, error: LotusXError) -> None:
    """A refused key, a ban, a closed connector, a list's NotFound or malformed traffic ends it without waiting."""
    clock = FakeClock()
    venue = Venue(current=[order("1", "CANCELED")], **{call: [error]})
    with pytest.raises(type(error)):
        await follow(venue, clock, order("1"), GAP, RESUMED)
    assert clock.slept == []


async def test_every_retry_of_the_reconcile_is_counted_by_its_reason() -> None:
    """reconcile_retries_total{exchange,stream="orders",reason} counts each lookup asked again."""
    metrics = Metrics()
    venue = Venue(current=[order("1", "CANCELED")], open=[ServerError("503")], **{"1": lagging(2)})
    await follow(venue, FakeClock(), order("1"), GAP, RESUMED, metrics=metrics)
    counted = [metrics.reconcile_retries.labels("testex", "orders", reason)._value.get() for reason in
               ("ServerError", "NotFound")]
    assert counted == [1, 2]

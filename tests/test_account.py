"""Account followers: orders and balances reconciled by REST after stream gaps, never moved back in time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from lotusx.account import GAP_SLACK, as_asked, cancel_once, follow_balances, follow_orders, gap_start_ms
from lotusx.kernel.errors import AmbiguousOrderState, DuplicateClientOrderId, NotFound
from lotusx.models import Balance, NewOrder, Order
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Resumed

GAP, RESUMED = Gap("disconnected", 0.0), Resumed(0.0)


def order(order_id: str, status: str = "NEW", filled: str = "0", timestamp: int = 1, symbol: str = "BTCUSDT") -> Order:
    return Order(order_id=order_id, client_order_id=f"c-{order_id}", symbol=symbol, side="BUY", type="LIMIT",
                 status=status, price=Decimal("100"), quantity=Decimal("5"), filled_quantity=Decimal(filled),
                 timestamp=timestamp)


class Venue:
    """The REST side: what is open now, what changed lately, each order's current state; records what was asked."""

    def __init__(self, open_now: Iterable[Order] = (), current: Iterable[Order] = (),
                 changed: Iterable[Order] = ()) -> None:
        self.open_now = list(open_now)
        self.current = {o.order_id: o for o in current}
        self.changed = list(changed)
        self.asked: list[str] = []
        self.since: list[tuple[float, frozenset[str]]] = []

    async def open_orders(self) -> list[Order]:
        self.asked.append("open")
        return self.open_now

    async def orders_since(self, gap_time: float, symbols: frozenset[str]) -> list[Order]:
        self.asked.append("since")
        self.since.append((gap_time, symbols))
        return self.changed

    async def get_order(self, last: Order) -> Order:
        self.asked.append(last.order_id)
        if last.order_id not in self.current:
            raise NotFound(f"no order {last.order_id}")
        return self.current[last.order_id]


async def stream(*messages: Any) -> AsyncIterator[Any]:
    for message in messages:
        yield message


def updates(message: Any) -> list[Order]:
    return [message] if isinstance(message, Order) else []


async def follow(venue: Venue, *messages: Any) -> list[Order]:
    # A FakeClock: an order the venue cannot find is asked again after waits before its NotFound ends the stream.
    return [o async for o in follow_orders(stream(*messages), orders=updates, open_orders=venue.open_orders,
                                           orders_since=venue.orders_since, get_order=venue.get_order,
                                           clock=FakeClock())]


async def test_stream_updates_pass_through_and_repeats_are_dropped() -> None:
    """Each new state of an order is yielded once; the same state again is not."""
    venue = Venue()
    got = await follow(venue, order("1"), order("1"), "a trade", order("1", "PARTIALLY_FILLED", "2", 2))
    assert [(o.status, o.filled_quantity) for o in got] == [("NEW", 0), ("PARTIALLY_FILLED", 2)]
    assert venue.asked == []


async def test_after_a_gap_orders_closed_meanwhile_get_their_final_state() -> None:
    """An order seen open before the gap and no longer open is fetched, and its final state yielded."""
    venue = Venue(open_now=[], current=[order("1", "FILLED", "5", 9)])
    got = await follow(venue, order("1"), GAP, RESUMED)
    assert [(o.order_id, o.status) for o in got] == [("1", "NEW"), ("1", "FILLED")]
    assert venue.asked == ["open", "since", "1"]


async def test_after_a_gap_orders_opened_or_filled_meanwhile_are_reported() -> None:
    """Open orders the stream never showed, or showed at an older state, are yielded; unchanged ones not."""
    venue = Venue(open_now=[order("1"), order("2", "PARTIALLY_FILLED", "1", 5), order("3", timestamp=6)])
    got = await follow(venue, order("1"), order("2"), GAP, RESUMED)
    assert [(o.order_id, o.status) for o in got][2:] == [("2", "PARTIALLY_FILLED"), ("3", "NEW")]
    assert venue.asked == ["open", "since"]


async def test_after_a_gap_orders_opened_and_closed_meanwhile_are_reported() -> None:
    """An order placed and filled (or cancelled) while the stream was down is yielded, in its final state."""
    venue = Venue(open_now=[order("1")], changed=[order("2", "FILLED", "5", 9), order("3", "CANCELED", "0", 9)])
    got = await follow(venue, order("1"), GAP, RESUMED)
    assert [(o.order_id, o.status, o.filled_quantity) for o in got] == [
        ("1", "NEW", 0), ("2", "FILLED", 5), ("3", "CANCELED", 0)]


async def test_an_order_reported_before_the_gap_is_not_reported_again() -> None:
    """The venue listing an order in the state the stream already gave is no news."""
    venue = Venue(changed=[order("1", "FILLED", "5", 9)])
    got = await follow(venue, order("1"), order("1", "FILLED", "5", 9), GAP, RESUMED)
    assert [(o.order_id, o.status) for o in got] == [("1", "NEW"), ("1", "FILLED")]


async def test_an_order_the_changed_list_answers_for_is_not_fetched_one_by_one() -> None:
    """An order last seen open and listed as changed needs no get_order of its own."""
    venue = Venue(changed=[order("1", "FILLED", "5", 9)])
    got = await follow(venue, order("1"), GAP, RESUMED)
    assert [o.status for o in got] == ["NEW", "FILLED"]
    assert venue.asked == ["open", "since"]


async def test_changes_are_asked_from_the_earliest_gap_for_every_known_symbol() -> None:
    """Several gaps before the stream is back: asked once, from the first, naming remembered and open symbols."""
    venue = Venue(open_now=[order("9", symbol="ETHUSDT")], current=[order("1", "FILLED", "5", 9)])
    await follow(venue, order("1", symbol="BTCUSDT"), Gap("disconnected", 50.0), Gap("disconnected", 40.0), RESUMED,
                 Gap("disconnected", 70.0), RESUMED)
    both = frozenset({"BTCUSDT", "ETHUSDT"})
    assert venue.since == [(40.0, both), (70.0, both)]


def test_gap_start_is_on_the_venue_clock_before_the_silent_window() -> None:
    """The gap's local time, moved by the clock offset, less the heartbeat window and the slack, in ms."""
    assert gap_start_ms(1_000.0, 2.5, 60.0) == int((1_000.0 + 2.5 - 60.0 - GAP_SLACK) * 1000)


async def test_updates_queued_behind_the_reconcile_never_move_an_order_back() -> None:
    """A stream update older than what the reconcile found is dropped: a final state stays final."""
    venue = Venue(current=[order("1", "FILLED", "5", 9)])
    late = order("1", "PARTIALLY_FILLED", "3", 8)  # delivered after the gap, older than the REST answer
    got = await follow(venue, order("1"), GAP, late, order("2", timestamp=10))
    assert [(o.order_id, o.status) for o in got] == [("1", "NEW"), ("1", "FILLED"), ("2", "NEW")]


async def test_a_later_state_with_an_earlier_venue_time_is_still_news() -> None:
    """A fill or an end reported with a REST time before the stream event's send time still counts."""
    venue = Venue(current=[order("1", "FILLED", "5", 7)])
    got = await follow(venue, order("1", "PARTIALLY_FILLED", "2", 8), GAP, RESUMED)
    assert [(o.status, o.filled_quantity) for o in got] == [("PARTIALLY_FILLED", 2), ("FILLED", 5)]


async def test_an_older_amendment_does_not_replace_a_newer_one() -> None:
    """Same fill, both open: the venue's times order the changes (a late event is dropped)."""
    newer = msgspec.structs.replace(order("1", timestamp=9), price=Decimal("101"))
    older = msgspec.structs.replace(order("1", timestamp=5), price=Decimal("99"))
    got = await follow(Venue(), order("1"), newer, older)
    assert [o.price for o in got] == [Decimal("100"), Decimal("101")]


async def test_any_message_after_a_gap_starts_the_reconcile() -> None:
    """An overflow gap has no Resumed: the next delivered message shows the stream is live."""
    venue = Venue(open_now=[order("7")])
    got = await follow(venue, GAP, "a balance update")
    assert [o.order_id for o in got] == ["7"]


async def test_no_gap_no_reconcile() -> None:
    """A Resumed without a Gap before it (or a second one) asks nothing."""
    venue = Venue(open_now=[order("1"), order("7")])
    assert await follow(venue, RESUMED, order("1"), GAP, RESUMED, RESUMED) == [order("1"), order("7")]
    assert venue.asked == ["open", "since"]


async def test_a_failed_reconcile_ends_the_stream_with_its_error() -> None:
    """If the venue cannot say what happened to an order, the caller hears it instead of a silent hole."""
    venue = Venue()
    with pytest.raises(NotFound):
        await follow(venue, order("1"), GAP, RESUMED)


async def test_orders_are_told_apart_by_symbol_and_id() -> None:
    """The same order id on two symbols is two orders."""
    got = await follow(Venue(), order("1", symbol="A"), order("1", symbol="B"))
    assert [o.symbol for o in got] == ["A", "B"]


async def test_memory_is_bounded_to_the_most_recently_finished_orders() -> None:
    """Past 10 000 finished orders the least recently updated is forgotten (a repeat of it is news again)."""
    many = [order(str(n), "FILLED", "5") for n in range(10_001)]
    got = await follow(Venue(), *many, order("0", "FILLED", "5"), order("10000", "FILLED", "5"))
    assert len(got) == 10_002 and got[-1].order_id == "0"


async def test_an_open_order_is_never_forgotten_however_many_orders_finish_after_it() -> None:
    """A resting order outlived by 10 000 finished ones is still fetched after a gap: its fill is not lost."""
    venue = Venue(current=[order("rest", "FILLED", "5", 9, symbol="ETHUSDT")])
    many = [order(str(n), "FILLED", "5") for n in range(10_000)]
    got = await follow(venue, order("rest", symbol="ETHUSDT"), *many, GAP, RESUMED)
    assert (got[-1].order_id, got[-1].status) == ("rest", "FILLED")
    assert venue.since[-1][1] == frozenset({"BTCUSDT", "ETHUSDT"})


# ===== balances =====

def balance(asset: str, free: str, locked: str = "0") -> Balance:
    return Balance(asset=asset, free=Decimal(free), locked=Decimal(locked))


async def balances(fetched: dict[str, Balance], *messages: Any) -> tuple[list[dict[str, Balance]], int]:
    calls = []

    async def fetch() -> tuple[None, dict[str, Balance]]:
        calls.append(1)
        return None, fetched

    got = [b async for b in follow_balances(stream(*messages),
                                             balances=lambda m: (None, m) if isinstance(m, dict) else None,
                                             fetch=fetch)]
    return got, len(calls)


async def test_balance_changes_pass_through_without_rest() -> None:
    """Without a gap each change is yielded as the stream gives it; nothing is fetched."""
    got, fetched = await balances({}, {"BTC": balance("BTC", "1")}, "an order update", {"USDT": balance("USDT", "5")})
    assert (got, fetched) == ([{"BTC": balance("BTC", "1")}, {"USDT": balance("USDT", "5")}], 0)


async def test_after_a_gap_the_whole_account_comes_with_emptied_assets_at_zero() -> None:
    """Once live again the account is fetched; an asset seen before and gone now is reported as zero."""
    got, fetched = await balances({"USDT": balance("USDT", "7")}, {"BTC": balance("BTC", "1")}, GAP, RESUMED)
    assert fetched == 1
    assert got[-1] == {"BTC": balance("BTC", "0"), "USDT": balance("USDT", "7")}


async def _answer(value: Order) -> Order:
    return value


async def _unknown() -> Order:
    raise NotFound("unknown order", code=-2011)


async def test_cancel_once_returns_what_the_cancel_returned() -> None:
    """A cancel that goes through is its own answer; nothing is looked up."""
    looked_up: list[str] = []

    async def get_order() -> Order:
        looked_up.append("1")
        return order("1", "CANCELED")

    assert (await cancel_once(_answer(order("1", "CANCELED")), get_order)).status == "CANCELED"
    assert looked_up == []


async def test_cancel_once_reports_an_order_already_cancelled() -> None:
    """A retried cancel told "unknown order" returns the order its first attempt cancelled."""
    assert (await cancel_once(_unknown(), lambda: _answer(order("1", "CANCELED")))).order_id == "1"


async def test_cancel_once_keeps_not_found_for_an_order_that_filled() -> None:
    """An order found FILLED was not cancelled: the venue's NotFound stands."""
    with pytest.raises(NotFound, match="unknown order"):
        await cancel_once(_unknown(), lambda: _answer(order("1", "FILLED", filled="1")))


async def test_cancel_once_keeps_the_first_not_found_when_the_order_is_unknown() -> None:
    """An order the venue does not know at all raises the cancel's own NotFound."""
    async def get_order() -> Order:
        raise NotFound("no such order (lookup)")

    with pytest.raises(NotFound, match="unknown order"):
        await cancel_once(_unknown(), get_order)


def _asked(**changes: object) -> NewOrder:
    fields: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": Decimal("0.5"),
                              "price": Decimal("100"), "client_order_id": "c1"}
    return NewOrder(**{**fields, **changes})


def _got(**changes: object) -> Order:
    fields: dict[str, Any] = {"order_id": "9", "client_order_id": "c1", "symbol": "BTCUSDT", "side": "BUY",
                              "type": "LIMIT", "status": "NEW", "price": Decimal("100.00000000"),
                              "quantity": Decimal("0.50000000"), "filled_quantity": Decimal(0)}
    return Order(**{**fields, **changes})


def test_the_order_found_under_the_id_is_returned_when_it_is_the_one_asked_for() -> None:
    """Same symbol (any case), side, price and size (any writing): the found order is the placement's result."""
    got = _got()
    assert as_asked(_asked(symbol="btcusdt"), got) is got


@pytest.mark.parametrize("other", [{"side": "SELL"}, {"symbol": "ETHUSDT"}, {"price": Decimal("101")},
                                   {"quantity": Decimal("0.4")}])
def test_another_order_under_the_id_is_a_duplicate_client_order_id(other: dict[str, object]) -> None:
    """An id reused for another side, symbol, limit price or size names someone else's order."""
    with pytest.raises(DuplicateClientOrderId, match="'c1' is taken by another order"):
        as_asked(_asked(), _got(**other))


def test_a_market_order_of_unreported_sizing_is_matched_on_symbol_and_side_only() -> None:
    """A quote-sized market order's price and quantity prove nothing when the venue does not say its quote amount."""
    got = _got(price=Decimal(0), quantity=Decimal("12.5"))
    assert as_asked(_asked(type="MARKET", price=None, quantity=None, quote_quantity=Decimal("10")), got) is got


def test_an_earlier_closed_order_under_a_reusable_id_is_ambiguous_even_when_alike() -> None:
    """Reusable ids: a closed order created before this placement proves nothing about it, asked alike or not."""
    with pytest.raises(AmbiguousOrderState, match="earlier, closed order"):
        as_asked(_asked(), _got(status="FILLED"), reusable=True, earlier=True)
    got = _got()
    assert as_asked(_asked(), got, reusable=True, earlier=True) is got  # still open: this id's order now

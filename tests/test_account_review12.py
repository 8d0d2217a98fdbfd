"""Account followers, review 12: balances ordered by the venue's time; a MARKET order's size checked on reconcile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from lotusx.account import as_asked, follow_balances, follow_orders
from lotusx.kernel.errors import AmbiguousOrderState, DuplicateClientOrderId
from lotusx.models import Balance, NewOrder, Order
from lotusx.ws import Gap, Resumed

GAP, RESUMED = Gap("disconnected", 0.0), Resumed(0.0)


def held(asset: str, free: str) -> Balance:
    return Balance(asset=asset, free=Decimal(free), locked=Decimal(0))


class Push:
    """A stream event: balances of the account state at venue time ``time``."""

    def __init__(self, time: int | None, *balances: Balance) -> None:
        self.time, self.balances = time, {b.asset: b for b in balances}


async def follow(*messages: Any, account: tuple[int | None, dict[str, Balance]] = (None, {})
                 ) -> list[dict[str, Balance]]:
    async def stream() -> AsyncIterator[Any]:
        for message in messages:
            yield message

    async def fetch() -> tuple[int | None, dict[str, Balance]]:
        return account

    return [b async for b in follow_balances(
        stream(), balances=lambda m: (m.time, m.balances) if isinstance(m, Push) else None, fetch=fetch)]


async def test_a_balance_older_than_the_last_one_of_its_asset_is_dropped() -> None:
    """A position that reaches us late (a rotation's old connection) never puts an older balance back."""
    got = await follow(Push(200, held("BTC", "2")), Push(100, held("BTC", "1"), held("ETH", "5")))
    assert got == [{"BTC": held("BTC", "2")}, {"ETH": held("ETH", "5")}]


async def test_a_late_event_wholly_older_yields_nothing() -> None:
    """An event all of whose balances are older than those held is no change at all."""
    got = await follow(Push(200, held("BTC", "2")), Push(100, held("BTC", "1")), Push(300, held("BTC", "3")))
    assert got == [{"BTC": held("BTC", "2")}, {"BTC": held("BTC", "3")}]


async def test_balances_of_the_same_time_or_of_no_time_are_yielded() -> None:
    """Two states in one millisecond cannot be told apart, nor untimed ones: neither is dropped."""
    got = await follow(Push(200, held("BTC", "2")), Push(200, held("BTC", "1")), Push(None, held("BTC", "7")))
    assert [b["BTC"].free for b in got] == [2, 1, 7]


async def test_events_older_than_the_account_fetched_after_a_gap_are_dropped() -> None:
    """Stream events queued while the account was fetched, and older than it, do not undo it."""
    got = await follow(GAP, RESUMED, Push(90, held("BTC", "1")), Push(110, held("BTC", "3")),
                       account=(100, {"BTC": held("BTC", "2")}))
    assert got == [{"BTC": held("BTC", "2")}, {"BTC": held("BTC", "3")}]


async def test_the_account_fetched_after_a_gap_is_yielded_whatever_its_time() -> None:
    """The fetch is the recovery from the gap: an account time older than the stream's never suppresses it."""
    got = await follow(Push(200, held("BTC", "1")), GAP, RESUMED, account=(100, {"BTC": held("BTC", "2")}))
    assert got == [{"BTC": held("BTC", "1")}, {"BTC": held("BTC", "2")}]


# ===== a MARKET order found under the client id it was placed with =====

def market(**sizing: Decimal) -> NewOrder:
    return NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", client_order_id="c1", **sizing)


def found(quantity: str = "0.50000000", status: str = "NEW") -> Order:
    return Order(order_id="9", client_order_id="c1", symbol="BTCUSDT", side="BUY", type="MARKET", status=status,
                 price=Decimal(0), quantity=Decimal(quantity), filled_quantity=Decimal(0))


@pytest.mark.parametrize(("asked", "got", "quote"), [
    (market(quantity=Decimal("0.5")), found("0.4"), Decimal(0)),  # another quantity
    (market(quantity=Decimal("0.5")), found("0.5"), Decimal(10)),  # sized by a quote amount instead
    (market(quote_quantity=Decimal(10)), found("0.5"), Decimal(0)),  # sized by quantity instead
    (market(quote_quantity=Decimal(10)), found("0.5"), Decimal(20)),  # another quote amount
])
def test_a_market_order_sized_otherwise_is_a_duplicate_client_order_id(asked: NewOrder, got: Order,
                                                                       quote: Decimal) -> None:
    """An id reused for a MARKET order of another size or sizing names someone else's order."""
    with pytest.raises(DuplicateClientOrderId, match="'c1' is taken by another order"):
        as_asked(asked, got, quote=quote)


@pytest.mark.parametrize(("asked", "got", "quote"), [
    (market(quantity=Decimal("0.5")), found("0.50000000"), Decimal("0E-8")),
    (market(quantity=Decimal("0.5")), found("0.5"), None),  # the venue does not say how it was sized
    (market(quote_quantity=Decimal(10)), found("0.00021"), Decimal("10.000000")),  # quantity: what it bought
    (market(quote_quantity=Decimal(10)), found("0.00021"), None),
])
def test_a_market_order_sized_alike_is_the_placement(asked: NewOrder, got: Order, quote: Decimal | None) -> None:
    """Same sizing and amount (any writing), or a sizing the venue does not report: the order found is the result."""
    assert as_asked(asked, got, quote=quote) is got


def test_a_closed_market_order_sized_otherwise_under_a_reusable_id_is_ambiguous() -> None:
    """Binance takes a filled order's id again: another filled MARKET order under it proves nothing about this one."""
    with pytest.raises(AmbiguousOrderState, match="a closed order"):
        as_asked(market(quantity=Decimal("0.5")), found("0.4", "FILLED"), quote=Decimal(0), reusable=True)


# ===== order updates on a rotation's overlap (already guarded: a regression check) =====

def report(status: str, filled: str, timestamp: int) -> Order:
    return Order(order_id="1", client_order_id="c1", symbol="BTCUSDT", side="BUY", type="LIMIT", status=status,
                 price=Decimal(100), quantity=Decimal(5), filled_quantity=Decimal(filled), timestamp=timestamp)


async def follow_reports(*reports: Order) -> list[tuple[str, Decimal]]:
    async def stream() -> AsyncIterator[Any]:
        for message in reports:
            yield message

    async def nothing(*_: Any) -> list[Order]:
        return []

    async def unused(last: Order) -> Order:
        raise AssertionError("no gap, no lookup")

    return [(o.status, o.filled_quantity) async for o in follow_orders(
        stream(), orders=lambda m: [m], open_orders=nothing, orders_since=nothing, get_order=unused)]


@pytest.mark.parametrize("final", [("FILLED", "5"), ("CANCELED", "0"), ("CANCELED", "2"), ("EXPIRED", "2")])
async def test_an_older_report_after_a_final_one_moves_nothing_back(final: tuple[str, str]) -> None:
    """A NEW or partial fill reaching us on the old connection after the order ended is dropped."""
    status, filled = final
    got = await follow_reports(report("NEW", "0", 1), report(status, filled, 9), report("NEW", "0", 1),
                               report("PARTIALLY_FILLED", "1", 5))
    assert got == [("NEW", 0), (status, Decimal(filled))]

"""Property tests of the matching engine under random order flow."""

from __future__ import annotations

from decimal import Decimal as D
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from lotusx.kernel.errors import LotusXError
from lotusx.sim.engine import OPEN, Engine, Market

BTC = Market("BTCUSDT", "BTC", "USDT", D("0.5"), D("0.1"), D(100))
ACCOUNTS = ("a", "b", "c")



class Place(NamedTuple):
    """Place an order (a quote-sized market order when ``by_quote``)."""

    who: str
    side: str
    type: str
    tif: str
    qty: D
    price: D
    by_quote: bool


class Cancel(NamedTuple):
    """Cancel an order id (often unknown or not the caller's: that must be harmless)."""

    who: str
    order_id: int


place = st.builds(
    Place, st.sampled_from(ACCOUNTS), st.sampled_from(("BUY", "SELL")),
    st.sampled_from(("LIMIT", "LIMIT", "MARKET", "LIMIT_MAKER")), st.sampled_from(("GTC", "GTC", "IOC", "FOK")),
    st.integers(1, 60).map(lambda n: D(n) / 10), st.integers(180, 220).map(lambda n: D(n) / 2), st.booleans())
cancel = st.builds(Cancel, st.sampled_from(ACCOUNTS), st.integers(0, 40))
actions = st.lists(st.one_of(place, place, cancel), max_size=60)


def run(flow: list[Place | Cancel]) -> Engine:
    """Apply ``flow`` to a fresh engine, checking the invariants after every action."""
    e = Engine([BTC], lambda: 0)
    for who in ACCOUNTS:
        e.deposit(who, "BTC", D(20))
        e.deposit(who, "USDT", D(2_000))
    before = e.totals()
    for action in flow:
        try:
            if isinstance(action, Place):
                quote = action.by_quote and action.type == "MARKET"
                e.place(action.who, "BTCUSDT", action.side, action.type, quantity=None if quote else action.qty,
                        price=action.price, tif=action.tif, quote_qty=action.qty * 100 if quote else None)
            else:
                e.cancel(action.who, "BTCUSDT", action.order_id)
        except LotusXError:
            pass
        check(e, before)
    return e


def check(e: Engine, before: dict[str, D]) -> None:
    """Conservation, an uncrossed book, no overfills and locks that match open orders."""
    assert e.totals() == before
    book = e.books["BTCUSDT"]
    if book.bids and book.asks:
        assert max(book.bids) < min(book.asks)
    for order in e.orders.values():
        assert 0 <= order.filled <= order.quantity
        assert sum(f.qty for f in order.fills) == order.filled
    for who in ACCOUNTS:
        for asset in ("BTC", "USDT"):
            bal = e.balance(who, asset)
            assert bal.free >= 0
            assert bal.locked == sum(o.locked for o in e.orders.values()
                                     if o.account == who and o.lock_asset == asset and o.status in OPEN)


@settings(max_examples=150, deadline=None)
@given(actions)
def test_matching_conserves_balances_and_never_crosses(flow: list[Place | Cancel]) -> None:
    """Per asset, free + locked over all accounts never changes; the book is never crossed."""
    run(flow)


@settings(max_examples=50, deadline=None)
@given(actions)
def test_closed_orders_hold_no_lock(flow: list[Place | Cancel]) -> None:
    """Filled, cancelled and expired orders keep nothing locked."""
    e = run(flow)
    assert all(o.locked == 0 for o in e.orders.values() if o.status not in OPEN)

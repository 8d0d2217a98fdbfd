"""The matching engine: price-time priority, order types, time in force and locked balances."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from lotusx.kernel.errors import DuplicateClientOrderId, InsufficientBalance, InvalidRequest, NotFound, OrderRejected
from lotusx.sim.engine import Engine, Market

BTC = Market("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.001"), D(100))


def engine() -> Engine:
    """An empty book; alice and bob each hold 10 BTC and 10 000 USDT."""
    e = Engine([BTC], lambda: 1_000)
    for who in ("alice", "bob"):
        e.deposit(who, "BTC", D(10))
        e.deposit(who, "USDT", D(10_000))
    return e


def test_limit_order_rests_and_locks_quote() -> None:
    """A non-crossing buy rests on the book and locks price x quantity of quote."""
    e = engine()
    order = e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(2), price=D(100))
    assert order.status == "NEW"
    assert e.books["BTCUSDT"].levels("BUY", 5) == [(D(100), D(2))]
    assert e.balance("alice", "USDT").locked == D(200)
    assert e.balance("alice", "USDT").free == D(9_800)


def test_crossing_order_trades_at_maker_price_and_refunds_difference() -> None:
    """A buy above the best ask pays the ask and gets the rest of its lock back."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    taker = e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(110))
    assert taker.status == "FILLED"
    assert [(f.price, f.qty) for f in taker.fills] == [(D(100), D(1))]
    assert e.balance("alice", "USDT") .free == D(9_900)
    assert e.balance("alice", "USDT").locked == 0
    assert e.balance("bob", "USDT").free == D(10_100)
    assert e.balance("alice", "BTC").free == D(11)


def test_price_time_priority() -> None:
    """Better prices fill first, and within a price the older order fills first."""
    e = engine()
    first = e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(101))
    second = e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(101))
    best = e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    taker = e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D("1.5"), price=D(101))
    assert [f.maker for f in taker.fills] == [best, first]
    assert first.status == "PARTIALLY_FILLED" and second.status == "NEW"


def test_partial_fill_rests_remainder() -> None:
    """A GTC order larger than the opposite side fills partly and rests the rest."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    taker = e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(3), price=D(100))
    assert (taker.status, taker.filled) == ("PARTIALLY_FILLED", D(1))
    assert e.books["BTCUSDT"].levels("BUY", 1) == [(D(100), D(2))]


def test_ioc_expires_remainder() -> None:
    """IOC fills what it can and expires the rest, releasing its lock."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    taker = e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(3), price=D(100), tif="IOC")
    assert (taker.status, taker.filled) == ("EXPIRED", D(1))
    assert e.balance("alice", "USDT").locked == 0
    assert e.books["BTCUSDT"].bids == {}


def test_fok_expires_without_trading_when_not_fully_fillable() -> None:
    """FOK trades nothing unless the whole quantity can fill."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    taker = e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(2), price=D(100), tif="FOK")
    assert (taker.status, taker.filled) == ("EXPIRED", D(0))
    assert e.books["BTCUSDT"].levels("SELL", 1) == [(D(100), D(1))]


def test_fok_fills_when_fully_fillable() -> None:
    """FOK fills completely when the book holds enough."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(2), price=D(100))
    assert e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(2), price=D(100), tif="FOK").status == "FILLED"


def test_market_order_by_quantity_walks_the_book() -> None:
    """A market buy by base quantity takes levels best first."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(102))
    taker = e.place("alice", "BTCUSDT", "BUY", "MARKET", quantity=D("1.5"))
    assert (taker.status, taker.quote_filled) == ("FILLED", D(151))
    assert e.balance("alice", "USDT").free == D(10_000 - 151)


def test_market_order_by_quote_quantity_spends_at_most_that() -> None:
    """quoteOrderQty buys as much base as the quote amount allows, rounded down to the step."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(5), price=D(300))
    taker = e.place("alice", "BTCUSDT", "BUY", "MARKET", quote_qty=D(100))
    assert taker.filled == D("0.333")
    assert taker.quote_filled == D("99.9")


def test_market_order_on_empty_book_expires() -> None:
    """A market order with nothing to trade against expires untouched."""
    e = engine()
    assert e.place("alice", "BTCUSDT", "BUY", "MARKET", quote_qty=D(100)).status == "EXPIRED"
    assert e.place("alice", "BTCUSDT", "SELL", "MARKET", quantity=D(1)).status == "EXPIRED"
    assert e.balance("alice", "BTC").locked == 0


def test_limit_maker_that_would_take_is_rejected() -> None:
    """LIMIT_MAKER crossing the book is rejected and locks nothing."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    with pytest.raises(OrderRejected, match="immediately match"):
        e.place("alice", "BTCUSDT", "BUY", "LIMIT_MAKER", quantity=D(1), price=D(100))
    assert e.balance("alice", "USDT").locked == 0


def test_cancel_releases_lock_and_removes_level() -> None:
    """Cancelling an open order frees its lock and empties its level."""
    e = engine()
    order = e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(2), price=D(120))
    assert e.cancel("alice", "BTCUSDT", order.order_id).status == "CANCELED"
    assert e.balance("alice", "BTC").free == D(10)
    assert e.books["BTCUSDT"].asks == {}


def test_cancel_of_unknown_or_closed_order_is_not_found() -> None:
    """Only open orders of the caller can be cancelled."""
    e = engine()
    order = e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(2), price=D(120))
    with pytest.raises(NotFound):
        e.cancel("bob", "BTCUSDT", order.order_id)
    e.cancel("alice", "BTCUSDT", order.order_id)
    with pytest.raises(NotFound):
        e.cancel("alice", "BTCUSDT", order.order_id)


def test_query_by_client_order_id_and_open_orders() -> None:
    """Orders are found by client id; open orders list only live ones."""
    e = engine()
    a = e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(120), client_id="a-1")
    e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(121), client_id="a-2")
    e.cancel("alice", "BTCUSDT", client_id="a-2")
    assert e.find("alice", "BTCUSDT", client_id="a-1") is a
    assert e.open_orders("alice") == [a]


def test_duplicate_open_client_order_id_is_rejected() -> None:
    """A client order id still open cannot be reused."""
    e = engine()
    e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(120), client_id="same")
    with pytest.raises(DuplicateClientOrderId):
        e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(121), client_id="same")


def test_insufficient_balance_rejects_before_anything_happens() -> None:
    """An order its account cannot pay for is rejected and leaves no trace."""
    e = engine()
    with pytest.raises(InsufficientBalance):
        e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(200), price=D(100))
    assert e.open_orders("alice") == [] and e.balance("alice", "USDT").free == D(10_000)


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"symbol": "XXX", "side": "BUY", "type": "LIMIT"}, InvalidRequest),
    ({"symbol": "BTCUSDT", "side": "UP", "type": "LIMIT"}, InvalidRequest),
    ({"symbol": "BTCUSDT", "side": "BUY", "type": "STOP"}, InvalidRequest),
    ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": D("100.001")}, OrderRejected),
    ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": D("0.0001")}, OrderRejected),
    ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "tif": "GTX"}, InvalidRequest),
    ({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_qty": D(-1), "quantity": None}, InvalidRequest),
])
def test_invalid_orders_are_rejected(kwargs: dict[str, object], error: type[Exception]) -> None:
    """Unknown symbols, sides, types, time in force and filter breaches are rejected."""
    args = {"quantity": D(1), "price": D(100)} | kwargs
    symbol, side, type_ = args.pop("symbol"), args.pop("side"), args.pop("type")
    with pytest.raises(error):
        engine().place("alice", symbol, side, type_, **args)  # type: ignore[arg-type]


def test_depth_flush_reports_contiguous_update_ids_and_skips() -> None:
    """Each flush covers the ids after the previous one; skip() opens a visible gap."""
    e = engine()
    book = e.books["BTCUSDT"]
    start = book.update_id
    e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(99))
    first = book.flush()
    assert first is not None and (first.first_id, first.last_id) == (start + 1, start + 1)
    assert book.flush() is None
    book.skip(5)
    e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(98))
    second = book.flush()
    assert second is not None and second.first_id == first.last_id + 6
    assert second.number == first.number + 6

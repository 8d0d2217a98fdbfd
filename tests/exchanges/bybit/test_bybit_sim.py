"""Every REST method end to end against the embedded sim over loopback (real aiohttp, real signing)."""

from __future__ import annotations

from decimal import Decimal

import pytest

import lotusx
from lotusx.exchanges.bybit import VENUE_LINEAR, Bybit
from lotusx.kernel import errors as e
from lotusx.sim import Sim

BTC = "BTCUSDT"


def limit(side: str, price: str, qty: str = "0.01", cid: str | None = None) -> lotusx.NewOrder:
    return lotusx.NewOrder(symbol=BTC, side=side, type="LIMIT", quantity=Decimal(qty),  # type: ignore[arg-type]
                           price=Decimal(price), client_order_id=cid)


async def test_server_time_is_the_venue_clock(bybit: Bybit, sim: Sim) -> None:
    """get_server_time is the sim's clock in ms."""
    before = sim.venue("bybit").now_ms()
    assert before <= await bybit.get_server_time() <= sim.venue("bybit").now_ms()


async def test_order_book_matches_the_engine(bybit: Bybit, sim: Sim) -> None:
    """get_order_book returns the engine's best levels, exactly."""
    book = await bybit.get_order_book(BTC, depth=5)
    engine = sim.engine("bybit").books[BTC]
    assert (book.bids, book.asks, book.sequence) == (engine.levels("BUY", 5), engine.levels("SELL", 5), engine.flushes)
    assert len(book.bids) == 5 and book.bids[0][0] < book.asks[0][0]


async def test_ticker_is_the_top_of_the_book(bybit: Bybit) -> None:
    """get_ticker: best bid below best ask, sizes positive."""
    ticker = await bybit.get_ticker(BTC)
    assert ticker.symbol == BTC and ticker.bid < ticker.ask and ticker.bid_quantity > 0 < ticker.ask_quantity


async def test_trades_are_oldest_first(bybit: Bybit) -> None:
    """get_trades returns the sim's recent trades, oldest first."""
    await bybit.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="MARKET", quantity=Decimal("0.001")))
    trades = await bybit.get_trades(BTC, limit=10)
    assert trades and [t.timestamp for t in trades] == sorted(t.timestamp for t in trades)
    assert all(t.symbol == BTC and t.price > 0 for t in trades)


async def test_place_query_list_and_cancel(bybit: Bybit, sim: Sim) -> None:
    """An order placed rests in the engine, is found by both ids, listed, then cancelled."""
    placed = await bybit.place_order(limit("BUY", "30000", cid="e2e-1"))
    assert placed.client_order_id == "e2e-1" and placed.status == "NEW"
    by_id = await bybit.get_order(BTC, order_id=placed.order_id)
    by_cid = await bybit.get_order(BTC, client_order_id="e2e-1")
    assert by_id == by_cid and (by_id.price, by_id.quantity, by_id.side) == (Decimal(30000), Decimal("0.01"), "BUY")
    assert placed.order_id in {o.order_id for o in await bybit.get_open_orders(BTC)}
    assert placed.order_id in {o.order_id for o in await bybit.get_open_orders()}
    cancelled = await bybit.cancel_order(BTC, client_order_id="e2e-1")
    assert cancelled.status == "CANCELED"
    assert placed.order_id not in {o.order_id for o in await bybit.get_open_orders(BTC)}


async def test_a_closed_order_is_found_after_a_venue_restart(bybit: Bybit, sim: Sim) -> None:
    """After a restart realtime forgets closed orders; get_order still finds one, in the order history."""
    placed = await bybit.place_order(limit("BUY", "30000", cid="restart-1"))
    await bybit.cancel_order(BTC, client_order_id="restart-1")
    sim.chaos("bybit").closed_orders_forgotten = True
    try:
        found = await bybit.get_order(BTC, order_id=placed.order_id)
        with pytest.raises(e.NotFound):
            await bybit.get_order(BTC, client_order_id="never-placed")
    finally:
        sim.chaos("bybit").closed_orders_forgotten = False
    assert (found.order_id, found.status) == (placed.order_id, "CANCELED")


async def test_duplicate_client_order_id_returns_the_existing_order(bybit: Bybit) -> None:
    """Re-placing an orderLinkId reconciles to the first order instead of a second one."""
    first = await bybit.place_order(limit("BUY", "31000", cid="dup-1"))
    again = await bybit.place_order(limit("BUY", "31000", cid="dup-1"))
    assert again.order_id == first.order_id
    assert [o.client_order_id for o in await bybit.get_open_orders(BTC)].count("dup-1") == 1


async def test_unknown_order_and_insufficient_balance(bybit: Bybit) -> None:
    """Cancelling a missing order is NotFound; an unaffordable order is InsufficientBalance."""
    with pytest.raises(e.NotFound):
        await bybit.cancel_order(BTC, client_order_id="never-placed")
    with pytest.raises(e.InsufficientBalance):
        await bybit.place_order(limit("BUY", "50000", qty="1000"))


async def test_balances_and_withdraw(bybit: Bybit, sim: Sim) -> None:
    """get_balances shows the account; a withdrawal takes the amount out of it."""
    before = await bybit.get_balances()
    withdrawal_id = await bybit.withdraw(lotusx.Withdrawal(asset="USDT", address="Taddr", amount=Decimal("12.5"),
                                                           network="TRX"))
    after = await bybit.get_balances()
    assert withdrawal_id and before["USDT"].total - after["USDT"].total == Decimal("12.5")


async def test_bad_signature_is_rejected_typed(sim: Sim) -> None:
    """A wrong secret ends in InvalidSignature, a wrong key in AuthenticationError."""
    keys = sim.api_keys("bybit")
    for creds, kind in ((lotusx.Credentials(api_key=keys.hmac_key, secret="wrong-secret"), e.InvalidSignature),
                        (lotusx.Credentials(api_key="unknown-key", secret="wrong-secret"), e.AuthenticationError)):
        async with lotusx.connect("bybit", credentials=creds, rest_url=sim.rest_url("bybit")) as ex:
            with pytest.raises(kind):
                await ex.get_balances()


async def test_linear_category_trades_its_own_engine(sim: Sim, credentials: lotusx.Credentials) -> None:
    """VENUE_LINEAR places into the sim's linear engine, not the spot one."""
    async with lotusx.connect(VENUE_LINEAR, credentials=credentials, rest_url=sim.rest_url("bybit")) as ex:
        placed = await ex.place_order(limit("BUY", "30000", cid="lin-1"))
        book = await ex.get_order_book(BTC, depth=3)
        listed = await ex.get_open_orders()
    assert sim.engine("bybit", "linear").find(sim.venue("bybit").keys[credentials.api_key].account, BTC,
                                              client_id="lin-1").order_id == int(placed.order_id)
    assert len(book.bids) == 3 and "lin-1" in {o.client_order_id for o in listed}


async def test_an_order_link_id_reused_for_another_order_is_a_duplicate(bybit: Bybit) -> None:
    """An orderLinkId taken by a BUY, sent with a SELL at another price: DuplicateClientOrderId, one order."""
    await bybit.place_order(limit("BUY", "31000", cid="reused-1"))
    with pytest.raises(e.DuplicateClientOrderId, match="taken by another order"):
        await bybit.place_order(limit("SELL", "69000", cid="reused-1"))
    assert [o.side for o in await bybit.get_open_orders(BTC) if o.client_order_id == "reused-1"] == ["BUY"]

"""The sim's money is exact whatever decimal context its caller set (a strategy's getcontext().prec = 6)."""

from __future__ import annotations

import decimal
import random
from collections.abc import Iterator
from decimal import Decimal as D

import pytest
from sim_helpers import Bybit, body

from lotusx.kernel.errors import LotusXError
from lotusx.sim import Sim
from lotusx.sim.common import plain
from lotusx.sim.engine import Engine, Market

BTC = Market("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.00001"), D(30_000))


@pytest.fixture
def coarse() -> Iterator[None]:
    """The current decimal context at 6 digits, as a strategy that set getcontext().prec = 6 has it."""
    context = decimal.getcontext()
    saved = context.prec
    context.prec = 6
    try:
        yield
    finally:
        context.prec = saved


def engine() -> Engine:
    """alice and bob each hold 10 BTC and 1 000 000 USDT."""
    e = Engine([BTC], lambda: 1_000)
    for who in ("alice", "bob"):
        e.deposit(who, "BTC", D(10))
        e.deposit(who, "USDT", D(1_000_000))
    return e


@pytest.mark.usefixtures("coarse")
def test_a_fill_is_exact_in_a_coarse_decimal_context() -> None:
    """0.12345 BTC at 30000.12 costs 3703.514814 USDT to the last digit, not 3703.51."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D("0.12345"), price=D("30000.12"))
    e.place("alice", "BTCUSDT", "BUY", "LIMIT", quantity=D("0.12345"), price=D("30000.12"))
    assert e.balance("alice", "USDT").free == D("996296.485186")
    assert e.balance("bob", "USDT").free == D("1003703.514814")
    assert e.totals() == {"BTC": D(20), "USDT": D(2_000_000)}


@pytest.mark.usefixtures("coarse")
def test_random_flow_conserves_every_asset_in_a_coarse_decimal_context() -> None:
    """300 seeded random orders: each asset's total over the accounts never changes, no lock is left over."""
    e, rng = engine(), random.Random(20)
    before = e.totals()
    for _ in range(300):
        who, side = rng.choice(("alice", "bob")), rng.choice(("BUY", "SELL"))
        qty = BTC.step * rng.randint(1, 20_000)
        try:
            if rng.random() < 0.2:
                e.place(who, "BTCUSDT", side, "MARKET", quote_qty=D(rng.randint(1, 500_000)) / 100)
            else:
                e.place(who, "BTCUSDT", side, "LIMIT", quantity=qty,
                        price=BTC.mid + BTC.tick * rng.randint(-500, 500), tif=rng.choice(("GTC", "IOC")))
        except LotusXError:
            pass
        assert e.totals() == before
    for order in e.open_orders("alice") + e.open_orders("bob"):
        e.cancel(order.account, "BTCUSDT", order.order_id)
    assert all(bal.locked == 0 for assets in e.accounts.values() for bal in assets.values())


def test_a_quote_sized_market_order_spends_no_more_than_its_quote() -> None:
    """A quote just under 3 units buys 2 at a price of 1: the division is not rounded up to 3."""
    unit = Market("XY", "X", "Y", D(1), D(1), D(1))
    e = Engine([unit], lambda: 1_000)
    e.deposit("bob", "X", D(10))
    e.deposit("alice", "Y", D(10))
    e.place("bob", "XY", "SELL", "LIMIT", quantity=D(10), price=D(1))
    quote = D("2." + "9" * 28)
    order = e.place("alice", "XY", "BUY", "MARKET", quote_qty=quote)
    assert (order.filled, order.quote_filled) == (D(2), D(2))
    assert e.balance("alice", "Y").free == D(8)


@pytest.mark.usefixtures("coarse")
def test_the_sim_writes_an_amount_whole_in_a_coarse_decimal_context() -> None:
    """plain() of 1234567.891 is '1234567.891', not '1234570' rounded to the caller's 6 digits."""
    assert plain(D("1234567.891")) == "1234567.891"


async def test_a_sim_answers_exact_balances_after_its_caller_set_a_coarse_context(sim: Sim, bybit: Bybit) -> None:
    """A strategy's getcontext().prec = 6 in the process serving the sim leaves its orders and balances exact."""
    context = decimal.getcontext()
    saved, context.prec = context.prec, 6
    try:
        placed = await body(await bybit.signed("POST", "/v5/order/create", category="spot", symbol="BTCUSDT",
                                               side="Buy", orderType="Limit", qty="0.12345", price="40000.01"))
        wallet = await body(await bybit.signed("GET", "/v5/account/wallet-balance", accountType="UNIFIED"))
    finally:
        context.prec = saved
    assert placed["retCode"] == 0, placed
    usdt = next(c for c in wallet["result"]["list"][0]["coin"] if c["coin"] == "USDT")
    assert (usdt["walletBalance"], usdt["locked"]) == ("1000000", "4938.0012345")

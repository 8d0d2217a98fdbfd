"""Bybit sim: linear (perpetual) orders are margin-traded in the settle coin, as a unified account trades them.

An order locks initial margin, price * quantity / leverage, in the settle coin (USDT), buy and sell
alike; a fill moves no base coin: it changes the position, keeps its margin (entry * size / leverage)
locked, and pays realised pnl and the fee in the settle coin. The sim's leverage is SimConfig.leverage (10).
"""

from __future__ import annotations

from decimal import Decimal as D

from sim_helpers import Bybit, body
from test_sim_bybit_ledger import coin
from test_sim_bybit_rest import create

from lotusx.kernel.errors import InsufficientBalance
from lotusx.sim import Sim, SimConfig
from lotusx.sim.driver import Driver
from lotusx.sim.engine import CLEARING, FEES, Balance, Engine
from lotusx.sim.venue import MAKER, USER, Venue

BTC = "BTCUSDT"
LINEAR_FEES = SimConfig(maker_fee=D("0.0002"), taker_fee=D("0.00055"))
"""Bybit's base linear rates (0.02 % maker, 0.055 % taker): the user takes, the market maker rests."""


NO_FEES = SimConfig()


def linear(config: SimConfig = NO_FEES) -> tuple[Venue, Engine]:
    """A Bybit venue with empty books (no driver): every trade is one the test makes."""
    venue = Venue("bybit", ("spot", "linear"), seed=1, config=config)
    return venue, venue.engines["linear"]


def trade(engine: Engine, side: str, qty: str, price: str, account: str = USER, maker: str = MAKER) -> None:
    """``account`` takes ``qty`` at exactly ``price`` from an order ``maker`` rests there first."""
    engine.place(maker, BTC, "SELL" if side == "BUY" else "BUY", "LIMIT", quantity=D(qty), price=D(price))
    order = engine.place(account, BTC, side, "LIMIT", quantity=D(qty), price=D(price), tif="IOC")
    assert order.status == "FILLED"


def test_a_short_with_no_btc_in_the_wallet_rests_and_fills() -> None:
    """A sell needs settle-coin margin, not base coin: with no BTC it rests (locking 5001 USDT) and fills."""
    venue, engine = linear()
    venue.accounts[USER]["BTC"] = Balance()
    order = engine.place(USER, BTC, "SELL", "LIMIT", quantity=D(1), price=D(50_010))
    assert engine.balance(USER, "USDT") == Balance(free=D(994_999), locked=D(5001))
    engine.place(MAKER, BTC, "BUY", "LIMIT", quantity=D(1), price=D(50_010), tif="IOC")
    assert order.status == "FILLED" and engine.balance(USER, "BTC") == Balance()
    position = venue.positions.of(USER, BTC, 0)
    assert (position.size, position.entry) == (D(-1), D(50_010))
    assert engine.balance(USER, "USDT") == Balance(free=D(994_999), locked=D(5001))


def test_a_resting_buy_locks_its_initial_margin_in_usdt() -> None:
    """2 BTC bid at 49000 locks 2 * 49000 / 10 = 9800 USDT and no BTC; a cancel frees it."""
    _, engine = linear()
    order = engine.place(USER, BTC, "BUY", "LIMIT", quantity=D(2), price=D(49_000))
    assert (engine.balance(USER, "USDT"), order.locked) == (Balance(free=D(990_200), locked=D(9800)), D(9800))
    assert engine.balance(USER, "BTC") == Balance(free=D(10))
    engine.cancel(USER, BTC, order.order_id)
    assert engine.balance(USER, "USDT") == Balance(free=D(1_000_000))


def test_a_long_fill_keeps_its_margin_locked_and_moves_no_btc() -> None:
    """A 2 BTC long at 50000 keeps 10000 USDT locked as position margin; neither side's BTC moves."""
    venue, engine = linear()
    trade(engine, "BUY", "2", "50000")
    assert engine.balance(USER, "USDT") == Balance(free=D(990_000), locked=D(10_000))
    assert engine.balance(MAKER, "USDT") == Balance(free=D(99_990_000), locked=D(10_000))
    assert (engine.balance(USER, "BTC"), engine.balance(MAKER, "BTC")) == (Balance(free=D(10)), Balance(free=D(10_000)))
    assert (venue.positions.of(USER, BTC, 0).size, venue.positions.of(MAKER, BTC, 0).size) == (D(2), D(-2))


def test_a_taker_crossing_better_prices_locks_exactly_what_it_fills_at() -> None:
    """A sell crossing bids above its limit locks their prices' margin, so the position's margin is covered."""
    _, engine = linear()
    engine.place(MAKER, BTC, "BUY", "LIMIT", quantity=D(1), price=D(50_100))
    order = engine.place(USER, BTC, "SELL", "LIMIT", quantity=D(3), price=D(50_000))
    assert (order.filled, order.locked) == (D(1), D(10_000))  # the 2 left rest at 50000
    assert engine.balance(USER, "USDT") == Balance(free=D(984_990), locked=D(15_010))


def test_closing_at_a_profit_credits_the_pnl_less_fees_and_releases_the_margin() -> None:
    """Long 2 at 50000, sold at 50100: +200 USDT less 55 and 55.11 taker fees, nothing left locked."""
    venue, engine = linear(LINEAR_FEES)
    trade(engine, "BUY", "2", "50000")
    assert engine.balance(USER, "USDT") == Balance(free=D(989_945), locked=D(10_000))
    trade(engine, "SELL", "2", "50100")
    assert engine.balance(USER, "USDT") == Balance(free=D("1000089.89"))  # 1e6 + 200 - 55 - 55.11
    assert engine.balance(MAKER, "USDT") == Balance(free=D("99999759.96"))  # 1e8 - 200 - 20 - 20.04
    assert engine.balance(FEES, "USDT") == Balance(free=D("150.15"))
    assert venue.positions.of(USER, BTC, 0).realised == D(200)
    assert [(e.fee, e.fee_asset) for e in engine.executions(USER)] == [(D("55.00000"), "USDT"),
                                                                      (D("55.11000"), "USDT")]


def test_a_partial_close_releases_its_share_of_the_margin() -> None:
    """Selling 1 of a 2 BTC long entered at 50000 releases 5000 of its 10000 margin and credits the pnl."""
    _, engine = linear()
    trade(engine, "BUY", "2", "50000")
    trade(engine, "SELL", "1", "49950")
    assert engine.balance(USER, "USDT") == Balance(free=D(994_950), locked=D(5000))  # -50 realised


def test_a_flip_realises_the_close_and_margins_the_new_short() -> None:
    """Long 2 at 50000, sell 5 at 49900: -200 realised, short 3 at 49900 holding 14970 USDT margin."""
    venue, engine = linear()
    trade(engine, "BUY", "2", "50000")
    trade(engine, "SELL", "5", "49900")
    position = venue.positions.of(USER, BTC, 0)
    assert (position.size, position.entry, position.realised) == (D(-3), D(49_900), D(-200))
    assert engine.balance(USER, "USDT") == Balance(free=D(984_830), locked=D(14_970))
    assert engine.balance(USER, "BTC") == Balance(free=D(10))


def test_an_order_without_the_margin_is_refused_either_side() -> None:
    """201 BTC at 50000 needs 1 005 000 USDT of margin, more than the 1 000 000 held: refused, nothing locked."""
    _, engine = linear()
    for side in ("BUY", "SELL"):
        try:
            engine.place(USER, BTC, side, "LIMIT", quantity=D(201), price=D(50_000))
        except InsufficientBalance:
            pass
        else:
            raise AssertionError(f"{side} was accepted")
    assert engine.open_orders(USER) == [] and engine.balance(USER, "USDT") == Balance(free=D(1_000_000))
    engine.place(USER, BTC, "SELL", "LIMIT", quantity=D(200), price=D(50_000))  # 1 000 000: exactly enough


def test_an_amend_relocks_the_margin_of_the_new_size_and_price() -> None:
    """Amending a 1 BTC bid at 49000 (4900 locked) to 2 at 48000 locks 9600."""
    _, engine = linear()
    order = engine.place(USER, BTC, "BUY", "LIMIT", quantity=D(1), price=D(49_000))
    engine.amend(USER, BTC, order.order_id, quantity=D(2), price=D(48_000))
    assert (order.locked, engine.balance(USER, "USDT")) == (D(9600), Balance(free=D(990_400), locked=D(9600)))


def test_totals_are_conserved_through_linear_trades_with_pnl() -> None:
    """Every asset's total over all accounts (fees and clearing included) is unchanged by trades that realise
    pnl on both sides, three accounts trading at different entries; clearing is back to 0 once all are flat."""
    venue, engine = linear(LINEAR_FEES)
    engine.deposit("carol", "USDT", D(1_000_000))
    before = engine.totals()
    trade(engine, "BUY", "2", "50000")                                # user long 2 @ 50000, maker short
    trade(engine, "BUY", "1", "50300", account="carol")               # maker short 3 @ 50100, carol long 1
    trade(engine, "SELL", "1", "50600", account="carol", maker=USER)  # carol +300; user long 3 @ 50200
    assert engine.totals() == before
    assert engine.balance(CLEARING, "USDT") == Balance(free=D(-300))  # held against the open user and maker
    trade(engine, "SELL", "3", "49900")                               # user -900, maker +600: all flat
    assert engine.totals() == before and engine.balance(CLEARING, "USDT") == Balance()
    assert [venue.positions.of(a, BTC, 0).realised for a in (USER, MAKER, "carol")] == [D(-900), D(600), D(300)]
    assert all(p.size == 0 for p in venue.positions.by_key.values())
    assert engine.balance("carol", "USDT").free == D(1_000_300) - D("27.665") - D("27.83")  # 2 taker fees


def test_two_accounts_settle_pnl_with_each_other_alone() -> None:
    """Trading only with each other, what one side realises the other pays: clearing never holds anything."""
    _, engine = linear()
    trade(engine, "BUY", "2", "50000")
    trade(engine, "SELL", "1", "50100")
    trade(engine, "SELL", "4", "49900")
    assert engine.balance(CLEARING, "USDT") == Balance()
    assert engine.balance(USER, "USDT").free + engine.balance(MAKER, "USDT").free == D(101_000_000) - 2 * D(14_970)


async def test_a_linear_order_without_margin_is_110007(bybit: Bybit) -> None:
    """Over REST the margin refusal is the venue's insufficient-balance answer, 110007."""
    refused = await create(bybit, category="linear", side="Sell", qty="201", price="50000")
    assert (refused["retCode"], refused["retMsg"]) == (110007, "Insufficient available balance")


async def test_wallet_balance_shows_the_margin_locked_and_no_btc_moved(sim: Sim, bybit: Bybit) -> None:
    """A filled linear market buy locks its margin in USDT (wallet-balance "locked"); BTC stays 10."""
    engine = sim.engine("bybit", "linear")
    engine.cancel_all(MAKER, BTC)  # the seeded book gone: the buy fills at the one price rested
    engine.place(MAKER, BTC, "SELL", "LIMIT", quantity=D("0.1"), price=D("49999.5"))
    assert (await create(bybit, category="linear", orderType="Market", qty="0.1"))["retCode"] == 0
    usdt, btc = await coin(bybit, "USDT"), await coin(bybit, "BTC")
    assert (usdt["walletBalance"], usdt["free"], usdt["locked"]) == ("1000000", "999500.005", "499.995")
    assert (btc["walletBalance"], btc["free"], btc["locked"]) == ("10", "10", "0")
    answer = await body(await bybit.signed("GET", "/v5/position/list", category="linear", symbol=BTC))
    [row] = answer["result"]["list"]
    assert (row["size"], row["avgPrice"], row["positionIM"], row["leverage"]) == ("0.1", "49999.5", "499.995", "10")


def test_the_drivers_flow_keeps_totals_and_every_lock_accounted_for() -> None:
    """500 driver rounds (the maker trading with itself) and user trades: totals conserved, and each account's
    USDT locked is exactly its open orders' margin plus its positions' margin; no BTC moves."""
    venue = Venue("bybit", ("linear",), seed=1, config=LINEAR_FEES)
    engine, driver = venue.engines["linear"], Driver(venue, seed=7)
    before = engine.totals()
    for step in range(500):
        driver.step()
        if step % 50 == 0:
            engine.place(USER, BTC, "BUY" if step % 100 else "SELL", "MARKET", quantity=D("0.05"))
    assert engine.totals() == before
    assert venue.positions.of(MAKER, BTC, 0).realised != 0 and engine.balance(FEES, "USDT").free > 0
    for account in (USER, MAKER):
        orders = sum((o.locked for o in engine.open_orders(account)), D(0))
        margins = sum((p.margin(venue.positions.leverage) for p in venue.positions.account(account)), D(0))
        assert engine.balance(account, "USDT").locked == orders + margins
    assert (engine.balance(USER, "BTC"), engine.balance(MAKER, "BTC")) == (Balance(free=D(10)),
                                                                         Balance(free=D(10_000)))
    places = {-b.free.as_tuple().exponent for assets in venue.accounts.values() for b in assets.values()}
    assert max(places) <= 12  # qty (5) * price (2) * fee rate (5) at most: no repeating average leaks in


def test_a_repeating_average_entry_moves_money_rounded_to_8_decimals() -> None:
    """Entry 150000.07 / 3 repeats: margin is rounded up (10000.00466667 for 2 left), pnl to the nearest."""
    _, engine = linear()
    for price in ("50000.01", "50000.02", "50000.04"):
        trade(engine, "BUY", "1", price)
    assert engine.balance(USER, "USDT").locked == D("15000.007")
    trade(engine, "SELL", "1", "50000.05")  # realises 50000.05 - 50000.0233... = 0.02666667
    assert engine.balance(USER, "USDT") == Balance(free=D("990000.022"), locked=D("10000.00466667"))

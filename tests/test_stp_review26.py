"""Self-trade prevention: ``NewOrder.self_trade_prevention`` on Binance spot and Bybit spot and linear.

Against the embedded sim over loopback sockets, with fees (0.1 % maker, 0.2 % taker): a self
trade would move the account's balances by the fees it pays, so "balances unchanged" shows that
none happened. The user's own resting order sits inside the spread, so only the test's orders
trade at its price. Binance reports an order STP expired as EXPIRED_IN_MATCH (enums.md), Bybit
as Cancelled (cancelType CancelBySmp, docs/v5/enum), which the connector reads as CANCELED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import ZERO, Engine
from lotusx.sim.venue import MAKER, USER
from tests.conftest import eventually
from tests.exchanges.test_fills_review25 import inside_spread
from tests.sim.sim_helpers import connect_to, watching_orders

D = Decimal
SYMBOL, OTHER = "BTCUSDT", "ETHUSDT"
QTY = D("0.002")


@dataclass(frozen=True)
class Case:
    """One venue and category, and the status it reports an order STP took off with."""

    venue: str
    category: str
    prevented: str

    def connect(self, sim: Sim) -> Any:
        return connect_to(sim, self.venue, self.category)

    def engine(self, sim: Sim) -> Engine:
        return sim.engine(self.venue, self.category)


CASES = [Case("binance", "spot", "EXPIRED_IN_MATCH"), Case("bybit", "spot", "CANCELED"),
         Case("bybit", "linear", "CANCELED")]


@pytest.fixture(params=CASES, ids=lambda case: f"{case.venue}-{case.category}")
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Both venues, no random flow, with fees."""
    config = SimConfig(driver_rate=0, maker_fee=D("0.001"), taker_fee=D("0.002"), depth_interval=0.05)
    async with serve(("binance", "bybit"), seed=1, config=config) as running:
        yield running


def totals(engine: Engine) -> dict[str, Decimal]:
    """The user's free plus locked per asset: what a self trade's fees would lower."""
    return {asset: b.free + b.locked for asset, b in engine.accounts[USER].items()}


def sell(price: Decimal, quantity: Decimal = QTY) -> lotusx.NewOrder:
    return lotusx.NewOrder(symbol=SYMBOL, side="SELL", type="LIMIT", quantity=quantity, price=price)


def buy(price: Decimal, stp: Any, quantity: Decimal = QTY) -> lotusx.NewOrder:
    return lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=quantity, price=price,
                           self_trade_prevention=stp)


async def test_cancel_taker_expires_the_incoming_order_and_keeps_the_resting_one(sim: Sim, case: Case) -> None:
    """cancel_taker: the buy that would trade with the account's own sell is taken off; the sell rests on."""
    engine = case.engine(sim)
    price, before = inside_spread(engine), totals(engine)
    since = sim.venue(case.venue).now_ms()
    async with case.connect(sim) as ex:
        maker = await ex.place_order(sell(price))
        taker = await ex.place_order(buy(price, "cancel_taker"))
        maker, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (maker, taker)]
        assert (taker.status, taker.filled_quantity) == (case.prevented, 0)
        assert (maker.status, maker.filled_quantity) == ("NEW", 0)
        await ex.cancel_order(SYMBOL, order_id=maker.order_id)
        assert await ex.get_fills(SYMBOL, since=since) == []
    assert totals(engine) == before


async def test_cancel_maker_takes_the_resting_order_off_and_rests_the_incoming_one(sim: Sim, case: Case) -> None:
    """cancel_maker: the account's own resting sell is taken off; the buy, with nothing else to take, rests."""
    engine = case.engine(sim)
    price, before = inside_spread(engine), totals(engine)
    async with case.connect(sim) as ex:
        maker = await ex.place_order(sell(price))
        taker = await ex.place_order(buy(price, "cancel_maker"))
        maker, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (maker, taker)]
        assert (maker.status, maker.filled_quantity) == (case.prevented, 0)
        assert (taker.status, taker.filled_quantity) == ("NEW", 0)
        await ex.cancel_order(SYMBOL, order_id=taker.order_id)
    assert totals(engine) == before


async def test_cancel_maker_trades_on_with_other_accounts_behind_the_own_order(sim: Sim, case: Case) -> None:
    """cancel_maker: past the own sell taken off, the buy trades with another account's sell at the same price."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    since = sim.venue(case.venue).now_ms()
    async with case.connect(sim) as ex:
        mine = await ex.place_order(sell(price))
        engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=QTY, price=price)
        taker = await ex.place_order(buy(price, "cancel_maker"))
        mine, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (mine, taker)]
        fills = await ex.get_fills(SYMBOL, since=since)
    assert mine.status == case.prevented
    assert (taker.status, taker.filled_quantity) == ("FILLED", QTY)
    assert [(f.order_id, f.maker) for f in fills] == [(taker.order_id, False)]


async def test_cancel_taker_keeps_what_it_traded_with_others_before_the_own_order(sim: Sim, case: Case) -> None:
    """cancel_taker: the buy fills against another account's earlier sell, then its rest expires at the own one."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    async with case.connect(sim) as ex:
        engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=D("0.001"), price=price)
        mine = await ex.place_order(sell(price))
        taker = await ex.place_order(buy(price, "cancel_taker", quantity=D("0.003")))
        mine, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (mine, taker)]
    assert (taker.status, taker.filled_quantity) == (case.prevented, D("0.001"))
    assert (mine.status, mine.filled_quantity) == ("NEW", 0)


async def test_a_fok_order_counts_only_what_stp_lets_it_trade(sim: Sim, case: Case) -> None:
    """FOK with cancel_taker: another account's 0.001 then the own sell can never fill 0.003, so nothing trades."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    async with case.connect(sim) as ex:
        engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=D("0.001"), price=price)
        mine = await ex.place_order(sell(price))
        taker = await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="FOK",
                                                     quantity=D("0.003"), price=price,
                                                     self_trade_prevention="cancel_taker"))
        mine, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (mine, taker)]
    assert (taker.status, taker.filled_quantity) == ("EXPIRED" if case.venue == "binance" else "CANCELED", 0)
    assert (mine.status, mine.filled_quantity) == ("NEW", 0)


async def test_cancel_both_takes_both_orders_off(sim: Sim, case: Case) -> None:
    """cancel_both: the own resting sell and the incoming buy are both taken off, nothing traded."""
    engine = case.engine(sim)
    price, before = inside_spread(engine), totals(engine)
    async with case.connect(sim) as ex:
        maker = await ex.place_order(sell(price))
        taker = await ex.place_order(buy(price, "cancel_both"))
        maker, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (maker, taker)]
        assert await ex.get_open_orders(SYMBOL) == []
    assert [(o.status, o.filled_quantity) for o in (maker, taker)] == [(case.prevented, 0)] * 2
    assert totals(engine) == before


async def test_a_market_order_with_cancel_maker_takes_the_book_behind_the_own_order(sim: Sim, case: Case) -> None:
    """A MARKET buy (cancel_maker) whose best ask is the account's own: that ask expires, the buy fills behind it."""
    engine = case.engine(sim)
    best_ask = engine.books[SYMBOL].prices("SELL")[0]
    async with case.connect(sim) as ex:
        mine = await ex.place_order(sell(best_ask - D("0.01")))
        taker = await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=QTY,
                                                     self_trade_prevention="cancel_maker"))
        mine, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (mine, taker)]
    assert mine.status == case.prevented
    assert (taker.status, taker.filled_quantity) == ("FILLED", QTY)
    # Nothing of the prevented ask stays locked: spot locks nothing then, linear only the long's margin.
    positions = engine.positions
    held = ZERO if positions is None else positions.of(USER, SYMBOL, 0).margin(positions.leverage)
    assert engine.accounts[USER]["USDT"].locked == held


async def test_without_stp_the_account_trades_with_itself(sim: Sim, case: Case) -> None:
    """No self_trade_prevention (the sim's default NONE): the buy fills against the own sell, as before."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    since = sim.venue(case.venue).now_ms()
    async with case.connect(sim) as ex:
        maker = await ex.place_order(sell(price))
        taker = await ex.place_order(buy(price, None))
        maker, taker = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (maker, taker)]
        fills = await ex.get_fills(SYMBOL, since=since)
    assert [(o.status, o.filled_quantity) for o in (maker, taker)] == [("FILLED", QTY)] * 2
    assert sorted(f.maker for f in fills) == [False, True]


async def test_stp_only_acts_between_orders_of_one_account(sim: Sim, case: Case) -> None:
    """cancel_both against another account's sell: an ordinary trade."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=QTY, price=price)
    async with case.connect(sim) as ex:
        taker = await ex.place_order(buy(price, "cancel_both"))
        taker = await ex.get_order(SYMBOL, order_id=taker.order_id)
    assert (taker.status, taker.filled_quantity) == ("FILLED", QTY)


async def test_the_orders_stp_took_off_come_on_watch_orders(sim: Sim, case: Case) -> None:
    """cancel_both: both orders come on the user stream with the status the venue reports them closed in."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    probe_price = engine.books[OTHER].prices("BUY")[0]
    async with case.connect(sim) as ex, watching_orders(ex, lambda _: ex.place_order(lotusx.NewOrder(
            symbol=OTHER, side="BUY", type="LIMIT", quantity=D("0.01"), price=probe_price))) as seen:
        maker = await ex.place_order(sell(price))
        taker = await ex.place_order(buy(price, "cancel_both"))
        ids = {maker.order_id, taker.order_id}
        await eventually(lambda: {o.order_id for o in seen if o.status == case.prevented} >= ids,
                         "both orders closed on the stream")
    assert not [o for o in seen if o.order_id in ids and o.filled_quantity]


def test_an_unknown_stp_mode_is_refused_before_anything_is_sent() -> None:
    """A mode outside cancel_taker, cancel_maker, cancel_both is a ConfigError naming the allowed ones."""
    with pytest.raises(lotusx.ConfigError, match="cancel_taker"):
        buy(D(1), "EXPIRE_TAKER")


async def test_the_venue_is_sent_its_own_spelling_and_none_when_not_asked(sim: Sim, case: Case) -> None:
    """The sim's dialect reads the mode sent (Binance's EXPIRE_BOTH, Bybit's CancelBoth); none without one."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    async with case.connect(sim) as ex:
        plain = await ex.place_order(buy(price, None))
        asked = await ex.place_order(buy(price, "cancel_both"))
    assert engine.orders[int(plain.order_id)].stp is None
    assert engine.orders[int(asked.order_id)].stp == "EXPIRE_BOTH"


def test_the_sim_refuses_a_mode_it_does_not_offer(sim: Sim) -> None:
    """A mode outside EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH (Binance's DECREMENT) is refused, nothing locked."""
    engine = sim.engine("binance", "spot")
    with pytest.raises(lotusx.InvalidRequest):
        engine.place(USER, SYMBOL, "BUY", "LIMIT", quantity=QTY, price=inside_spread(engine), stp="DECREMENT")
    assert engine.open_orders(USER) == []


async def test_an_amend_into_an_own_order_keeps_the_self_trade_prevention(sim: Sim) -> None:
    """A cancel_taker bid amended (in place, as Bybit does) onto the account's own ask is taken off, not rested."""
    engine = sim.engine("bybit", "linear")
    price = inside_spread(engine)
    ask = engine.place(USER, SYMBOL, "SELL", "LIMIT", quantity=QTY, price=price + D("0.01"))
    bid = engine.place(USER, SYMBOL, "BUY", "LIMIT", quantity=QTY, price=price, stp="EXPIRE_TAKER")
    before = totals(engine)
    amended = engine.amend(USER, SYMBOL, bid.order_id, price=price + D("0.01"))
    assert (amended.status, ask.status) == ("EXPIRED_IN_MATCH", "NEW")
    assert bid.order_id not in {o.order_id for level in engine.books[SYMBOL].side("BUY").values() for o in level}
    assert totals(engine) == before

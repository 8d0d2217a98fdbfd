"""``get_fills``: the account's own executions with their fees, on Binance spot and Bybit spot and linear.

Against the embedded sim over loopback sockets, with a maker fee of 0.1 % and a taker fee of 0.2 %
(different, so a fill charged at the wrong rate shows). The market maker's account trades against
the user's through the sim's engine; the user reads its fills through the connector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest

import lotusx
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Engine
from lotusx.sim.venue import MAKER, USER
from tests.sim.sim_helpers import connect_to

D = Decimal
MAKER_RATE, TAKER_RATE = D("0.001"), D("0.002")
SYMBOL = "BTCUSDT"
HOUR_MS = 3600 * 1000


@dataclass(frozen=True)
class Case:
    """One venue and category: how to connect, its engine, its window and page limits."""

    venue: str
    category: str
    span_ms: int  # the venue's longest startTime..endTime window
    page: int  # the most fills one page of the venue's list holds

    def connect(self, sim: Sim) -> lotusx.connect:
        return connect_to(sim, self.venue, self.category)

    def engine(self, sim: Sim) -> Engine:
        return sim.engine(self.venue, self.category)

    def fee_asset(self, received: str) -> str:
        """Spot charges in the asset received (Binance spot; Bybit spot's positive rates); linear in USDT."""
        return "USDT" if self.category == "linear" else received


CASES = [Case("binance", "spot", 24 * HOUR_MS, 1000), Case("bybit", "spot", 7 * 24 * HOUR_MS, 100),
         Case("bybit", "linear", 7 * 24 * HOUR_MS, 100)]


@pytest.fixture(params=CASES, ids=lambda case: f"{case.venue}-{case.category}")
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Both venues, no random flow, with fees."""
    config = SimConfig(driver_rate=0, maker_fee=MAKER_RATE, taker_fee=TAKER_RATE)
    async with serve(("binance", "bybit"), seed=1, config=config) as running:
        yield running


def inside_spread(engine: Engine) -> Decimal:
    """A price strictly between the seeded best bid and best ask: only an order resting there trades at it."""
    book = engine.books[SYMBOL]
    bid, ask = book.prices("BUY")[0], book.prices("SELL")[0]
    assert bid + D("0.02") < ask
    return bid + D("0.01")


@contextmanager
def back_in_time(sim: Sim, case: Case, ms: int) -> Iterator[None]:
    """The venue's clock ``ms`` behind while the block trades through the engine (no request is signed then)."""
    chaos = sim.chaos(case.venue)
    chaos.clock_skew_ms = -ms
    try:
        yield
    finally:
        chaos.clock_skew_ms = 0


def now_ms(sim: Sim, case: Case) -> int:
    return sim.venue(case.venue).now_ms()


async def test_a_resting_order_filled_in_two_parts_is_two_maker_fills(sim: Sim, case: Case) -> None:
    """Two takers fill a resting sell: two fills, maker, at its price, each charged the maker rate in USDT."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    since = now_ms(sim, case)
    async with case.connect(sim) as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="SELL", type="LIMIT", time_in_force="GTC",
                                                     quantity=D("0.003"), price=price))
        engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=D("0.001"), price=price, tif="IOC")
        engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=D("0.002"), price=price, tif="IOC")
        fills = await ex.get_fills(SYMBOL, since=since)
    assert [(f.quantity, f.price, f.side, f.maker) for f in fills] == [
        (D("0.001"), price, "SELL", True), (D("0.002"), price, "SELL", True)]
    assert [f.fee for f in fills] == [f.quantity * price * MAKER_RATE for f in fills]
    assert {(f.order_id, f.symbol, f.fee_asset) for f in fills} == {(order.order_id, SYMBOL, "USDT")}
    assert {f.client_order_id for f in fills} == {None if case.venue == "binance" else order.client_order_id}
    assert len({f.trade_id for f in fills}) == 2
    assert since <= fills[0].timestamp <= fills[1].timestamp <= now_ms(sim, case)


async def test_a_taking_order_gets_taker_fills_charged_in_what_it_received(sim: Sim, case: Case) -> None:
    """A buy taking a resting sell in two parts: two fills, not maker, charged the taker rate."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=D("0.001"), price=price)
    engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=D("0.002"), price=price)
    since = now_ms(sim, case)
    async with case.connect(sim) as ex:
        order = await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="IOC",
                                                     quantity=D("0.003"), price=price))
        fills = await ex.get_fills(SYMBOL, since=since)
    assert [(f.quantity, f.price, f.side, f.maker) for f in fills] == [
        (D("0.001"), price, "BUY", False), (D("0.002"), price, "BUY", False)]
    if case.category == "spot":  # the BTC bought pays the fee
        assert [f.fee for f in fills] == [f.quantity * TAKER_RATE for f in fills]
    else:
        assert [f.fee for f in fills] == [f.quantity * price * TAKER_RATE for f in fills]
    assert {(f.order_id, f.fee_asset) for f in fills} == {(order.order_id, case.fee_asset("BTC"))}


async def test_only_the_fills_within_since_and_until_come(sim: Sim, case: Case) -> None:
    """A fill two hours ago and one now: each comes only in the window that holds it."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    with back_in_time(sim, case, 2 * HOUR_MS):
        engine.place(USER, SYMBOL, "SELL", "LIMIT", quantity=D("0.001"), price=price, tif="GTC")
        engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=D("0.001"), price=price, tif="IOC")
    engine.place(USER, SYMBOL, "SELL", "LIMIT", quantity=D("0.002"), price=price, tif="GTC")
    engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=D("0.002"), price=price, tif="IOC")
    now = now_ms(sim, case)
    async with case.connect(sim) as ex:
        recent = await ex.get_fills(SYMBOL, since=now - HOUR_MS)
        earlier = await ex.get_fills(SYMBOL, since=now - 3 * HOUR_MS, until=now - HOUR_MS)
        both = await ex.get_fills(SYMBOL, since=now - 3 * HOUR_MS)
    assert [f.quantity for f in recent] == [D("0.002")]
    assert [f.quantity for f in earlier] == [D("0.001")]
    assert [f.quantity for f in both] == [D("0.001"), D("0.002")]


async def test_fills_over_several_windows_and_pages_come_all_once_oldest_first(sim: Sim, case: Case) -> None:
    """Fills older than one window, then more than a page of them: every one, once, oldest first."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    step, many = D("0.001"), case.page + 1
    with back_in_time(sim, case, case.span_ms + HOUR_MS):
        engine.place(USER, SYMBOL, "SELL", "LIMIT", quantity=2 * step, price=price, tif="GTC")
        for _ in range(2):
            engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=step, price=price, tif="IOC")
    resting = engine.place(USER, SYMBOL, "SELL", "LIMIT", quantity=many * step, price=price, tif="GTC")
    for _ in range(many):
        engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=step, price=price, tif="IOC")
    assert resting.status == "FILLED"
    since = now_ms(sim, case) - case.span_ms - 2 * HOUR_MS
    async with case.connect(sim) as ex:
        fills = await ex.get_fills(SYMBOL, since=since)
    assert len(fills) == 2 + many
    assert len({f.trade_id for f in fills}) == len(fills)
    assert [f.timestamp for f in fills] == sorted(f.timestamp for f in fills)
    assert fills[1].timestamp + case.span_ms < fills[2].timestamp  # the two old ones, a window apart from the rest
    assert {f.order_id for f in fills[2:]} == {str(resting.order_id)}


async def test_an_account_that_traded_nothing_has_no_fills(sim: Sim, case: Case) -> None:
    """An order resting unfilled is no fill: an empty list."""
    engine = case.engine(sim)
    since = now_ms(sim, case)
    async with case.connect(sim) as ex:
        await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="SELL", type="LIMIT", time_in_force="GTC",
                                             quantity=D("0.001"), price=inside_spread(engine)))
        assert await ex.get_fills(SYMBOL, since=since) == []

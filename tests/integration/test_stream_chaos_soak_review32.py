"""Soak: this round's stream changes together, under seeded chaos, on the sim, for each connector.

``watch_trades`` (with its backfill) and ``watch_order_books(conflate=True)`` (read by a slow
consumer) run while the venue's streams are dropped, refused, garbled, cut short and (books)
skip update ids; then chaos is off, the market goes quiet, and what the watches yielded is checked
against the engine and REST. Two accounts trading at once from one process keep their own order
budgets. Every run must leave no task, warning or loop error behind (``observed``).

Found by running the same loops by hand for minutes over many seeds (see the report of review 32);
kept here: one seed per connector, a few seconds each. No wall-clock assertion but the staleness
bound (measured over 48 seeded runs: a conflated read is under 1 ms behind the venue, with a
consumer sleeping up to 1 s between reads; before a book held across a drop was dropped, up to
1.2 s) and the order budgets' window (10 s: a shared budget would make the second account wait for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

import lotusx
from lotusx.kernel.errors import LotusXError
from lotusx.layers.limiter import Pool
from lotusx.models import OrderBook, Trade
from lotusx.sim import Sim, serve
from lotusx.sim.chaos import Chaos
from lotusx.sim.venue import MAKER, Limits, SimConfig
from tests.conftest import eventually
from tests.integration.test_mm_soak_review15 import observed

T = TypeVar("T")
SEED = 32
BTC, ETH = "BTCUSDT", "ETHUSDT"
CONNECTORS = ("binance", "bybit", "bybit-linear")
STEPS = 10
BOUND = 15.0
"""Seconds any one await may take before the test calls it a hang."""
SETTLE = 20.0
"""Seconds the watches get to catch up once chaos is off (a reconnect's back-off grows with each drop)."""
CONFIG = SimConfig(driver_rate=0, depth_interval=0.01,
                   limits=Limits(orders_10s=10_000, bybit_per_second=1000, request_weight=100_000))
# Knobs applied one per step (seeded). Refusals are kept short and few: each failed connect
# doubles the next back-off, and the run has to end in seconds.
KNOBS = ({"drop_ws_once": 1}, {"garble_ws_data": 1}, {"truncate_ws_data": 1}, {"garble_ws_data": 2},
         {"truncate_ws_data": 2}, {"refuse_ws": True, "drop_ws_once": 1}, {})
QUIET = {"refuse_ws": False, "drop_ws_once": None, "garble_ws_data": 0, "truncate_ws_data": 0, "sequence_gap": 0}
STALE = 0.15
"""Seconds a conflated read may lag the venue's book (measured under 1 ms; the margin is for a loaded machine)."""
NAP = 0.3
"""Seconds, at most, the slow reader sleeps between reads."""


def bounded(call: Awaitable[T], bound: float = BOUND) -> Awaitable[T]:
    """``call``, failing with ``TimeoutError`` instead of hanging."""
    return asyncio.wait_for(call, bound)


def sim_of(connector: str) -> tuple[str, str]:
    """The sim venue and engine category behind ``connector``."""
    return ("bybit", "linear") if connector == "bybit-linear" else (connector, "spot")


def connect(sim: Sim, connector: str, **kwargs: Any) -> Any:
    venue, _ = sim_of(connector)
    keys = sim.api_keys(venue)
    return lotusx.connect(connector, credentials=lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                          rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue), **kwargs)


async def chaos_step(chaos: Chaos, rng: random.Random) -> None:
    """One seeded knob, a short while for it to bite, then refusals end (the other knobs clear themselves)."""
    chaos.update(rng.choice(KNOBS))
    await asyncio.sleep(rng.uniform(0.05, 0.2))
    chaos.refuse_ws = False


async def trades_run(connector: str) -> tuple[list[str], list[str], list[str]]:
    """Trades streamed, the engine's trades from the first streamed on, and how the watch ended."""
    venue, category = sim_of(connector)
    rng = random.Random(f"{SEED}:trades:{connector}")
    async with serve((venue,), seed=SEED, config=CONFIG) as sim, connect(sim, connector) as ex:
        chaos, engine = sim.chaos(venue), sim.engine(venue, category)
        streamed: list[Trade] = []
        ended: list[str] = []

        async def watch() -> None:
            try:
                async for trade in ex.watch_trades(BTC):
                    streamed.append(trade)
            except LotusXError as exc:
                ended.append(repr(exc))

        async def take() -> None:
            side = rng.choice(("BUY", "SELL"))
            with contextlib.suppress(LotusXError):  # the book may run thin on a side: no trade then
                await bounded(ex.place_order(lotusx.NewOrder(symbol=BTC, side=side, type="MARKET",
                                                             quantity=Decimal("0.001") * rng.randint(1, 5))))

        task = asyncio.create_task(watch())
        try:
            async with asyncio.timeout(BOUND):
                while not streamed:  # until the subscription is live
                    await take()
                    await asyncio.sleep(0.05)
            first = int(streamed[0].trade_id)
            for _ in range(STEPS):
                for _ in range(rng.randint(1, 3)):
                    await take()
                await chaos_step(chaos, rng)
            chaos.update(QUIET)
            await take()  # a push after the last garbled one: the backfill runs at the next message

            def venue_trades() -> list[str]:
                return [str(fill.trade_id) for fill in engine.trades[BTC] if fill.trade_id >= first]

            await eventually(lambda: [t.trade_id for t in streamed][-1:] == venue_trades()[-1:] or task.done(),
                             "the last trade", SETTLE)
            await asyncio.sleep(0.2)  # nothing more comes
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return [t.trade_id for t in streamed], venue_trades(), ended


@pytest.mark.parametrize("connector", CONNECTORS)
async def test_watch_trades_yields_each_venue_trade_once_in_order_under_chaos(connector: str) -> None:
    """Across drops, refusals, garbled and cut-short pushes: every trade of the venue, once, in its order."""
    (streamed, made, ended), after = await observed(trades_run(connector), 60)
    assert ended == []
    assert streamed == made
    assert len(made) > STEPS  # the chaos had trades to hide
    assert (after.leaked, after.loop_errors, after.warned) == ([], [], [])


class Flow:
    """The market maker's order flow on both books, placed straight into the engine (the sim's own driver is off)."""

    def __init__(self, sim: Sim, venue: str, seed: str) -> None:
        self.rng = random.Random(seed)
        self.engines = list(sim.venue(venue).engines.values())

    def step(self) -> None:
        for engine in self.engines:
            for symbol, book in engine.books.items():
                market = book.market
                side = self.rng.choice(("BUY", "SELL"))
                sign = -1 if side == "BUY" else 1
                crossing = self.rng.random() < 0.15  # takes the other side's best levels
                price = market.mid - sign * market.tick * 20 if crossing else \
                    market.mid + sign * market.tick * self.rng.randint(1, 30)
                with contextlib.suppress(LotusXError):  # the maker ran out of one asset: skip this one
                    engine.place(MAKER, symbol, side, "LIMIT", quantity=market.step * self.rng.randint(10, 500),
                                 price=price, tif="IOC" if crossing else "GTC")


async def books_run(connector: str) -> tuple[list[str], float, dict[str, tuple[OrderBook, OrderBook]], int]:
    """Problems seen by a slow conflated reader, its largest lag (s), its last books beside REST's, its reads."""
    venue, category = sim_of(connector)
    rng = random.Random(f"{SEED}:books:{connector}")
    async with serve((venue,), seed=SEED, config=CONFIG) as sim, connect(sim, connector) as ex:
        chaos, loop = sim.chaos(venue), asyncio.get_running_loop()
        # When each book sequence was superseded: Binance's sequence is the last update id, Bybit's ``u``.
        published: dict[str, list[tuple[float, int]]] = {BTC: [], ETH: []}
        hub = sim.venue(venue).hub
        publish = hub.publish

        def recording(event: Any) -> None:
            if event.kind == "depth" and event.category == category:
                change = event.data
                published[event.symbol].append((loop.time(), change.number if venue == "bybit" else change.last_id))
            publish(event)

        hub.publish = recording  # type: ignore[method-assign]
        problems: list[str] = []
        last: dict[str, OrderBook] = {}
        lag = 0.0
        reads = 0

        async def read() -> None:
            nonlocal lag, reads
            async with contextlib.aclosing(ex.watch_order_books([BTC, ETH], conflate=True)) as books:
                async for book in books:
                    newer = next((t for t, seq in published[book.symbol] if seq > book.sequence), None)
                    lag = max(lag, 0.0 if newer is None else loop.time() - newer)
                    if book.bids and book.asks and book.bids[0][0] >= book.asks[0][0]:
                        problems.append(f"crossed {book.symbol} {book.sequence}")
                    if book.symbol in last and book.sequence < last[book.symbol].sequence:
                        problems.append(f"{book.symbol} went back: {last[book.symbol].sequence} -> {book.sequence}")
                    last[book.symbol] = book
                    reads += 1
                    await asyncio.sleep(rng.uniform(0, NAP))  # a slow consumer

        flow = Flow(sim, venue, f"{SEED}:flow:{connector}")
        reader = asyncio.create_task(read())
        try:
            for _ in range(STEPS):
                knob = rng.choice((*KNOBS, {"sequence_gap": rng.randint(1, 3), "sequence_gap_symbol": ETH}))
                chaos.update(knob)
                for _ in range(rng.randint(10, 40)):
                    flow.step()
                    await asyncio.sleep(0.005)
                chaos.refuse_ws = False
            chaos.update(QUIET)
            await asyncio.sleep(CONFIG.depth_interval * 3)  # the last changes published: the market is quiet now
            rest: dict[str, OrderBook] = {}
            async with asyncio.timeout(SETTLE):
                while not reader.done():
                    rest = {symbol: await bounded(ex.get_order_book(symbol, depth=20)) for symbol in (BTC, ETH)}
                    if all(symbol in last and last[symbol].sequence >= rest[symbol].sequence for symbol in rest):
                        break
                    await asyncio.sleep(0.05)
            if reader.done():
                problems.append(f"the watch ended: {reader.exception()!r}")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return problems, lag, {symbol: (last[symbol], rest[symbol]) for symbol in rest}, reads


def levels(book: OrderBook) -> tuple[int, list[Any], list[Any]]:
    return book.sequence, list(book.bids), list(book.asks)


@pytest.mark.parametrize("connector", CONNECTORS)
async def test_a_slow_conflated_reader_gets_fresh_uncrossed_books_that_end_equal_to_rest(connector: str) -> None:
    """Under chaos: never crossed, never older than the last read, lagging at most STALE, and at the end REST's book."""
    (problems, lag, ends, read), after = await observed(books_run(connector), 60)
    assert problems == []
    assert read > 2  # more than the two books of the end: it read under chaos
    assert lag <= STALE
    assert {symbol: levels(last) for symbol, (last, _) in ends.items()} == \
        {symbol: levels(rest) for symbol, (_, rest) in ends.items()}
    assert (after.leaked, after.loop_errors, after.warned) == ([], [], [])


BUDGETS = {"binance": ("ORDERS", 20), "bybit": ("order_create", 10), "bybit-linear": ("linear_order_create", 10)}
"""The placement pool each connector is given here (per 10 s, per account), and so the orders each account places."""
WINDOW = 10


async def place_all(sim: Sim, connector: str, key: str, secret: str) -> tuple[list[BaseException], float]:
    """One account's connector placing its whole budget at once: the failures, and the seconds it took."""
    venue, _ = sim_of(connector)
    pool, size = BUDGETS[connector]
    loop = asyncio.get_running_loop()
    async with lotusx.connect(connector, credentials=lotusx.Credentials(api_key=key, secret=secret),
                              rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue), rate_limit_storage="memory://",
                              rate_limits={pool: [Pool(pool, size, WINDOW, per_account=True)]}) as ex:
        book = await bounded(ex.get_order_book(BTC, depth=5))
        order = lotusx.NewOrder(symbol=BTC, side="BUY", type="LIMIT", quantity=Decimal("0.001"),
                                price=book.bids[0][0] - Decimal(100))
        started = loop.time()
        outcomes = await asyncio.gather(*(ex.place_order(order) for _ in range(size)), return_exceptions=True)
        return [o for o in outcomes if isinstance(o, BaseException)], loop.time() - started


async def two_accounts(connector: str) -> list[tuple[list[BaseException], float]]:
    venue, category = sim_of(connector)
    _, size = BUDGETS[connector]
    # The venue's limit is the budget's, so a budget shared by mistake in the other direction (one
    # account's orders charged to no one) would be refused by the sim.
    limits = Limits(orders_10s=size, bybit_per_second=size)
    async with serve((venue,), seed=SEED, config=SimConfig(driver_rate=0, limits=limits)) as sim:
        sim.venue(venue).add_hmac_key("second-key", "second-secret", account="second")
        for asset, amount in (("USDT", Decimal(1_000_000)), ("BTC", Decimal(10))):
            sim.engine(venue, category).deposit("second", asset, amount)
        keys = sim.api_keys(venue)
        return list(await bounded(asyncio.gather(place_all(sim, connector, keys.hmac_key, keys.hmac_secret),
                                                 place_all(sim, connector, "second-key", "second-secret")), 30))


@pytest.mark.parametrize("connector", CONNECTORS)
async def test_two_accounts_in_one_process_each_place_their_own_order_budget_at_once(connector: str) -> None:
    """Neither waits for the other's orders (a shared budget would hold one for the window), none is refused."""
    results, after = await observed(two_accounts(connector), 40)
    assert [failures for failures, _ in results] == [[], []]
    assert all(took < WINDOW / 2 for _, took in results)
    assert (after.leaked, after.loop_errors, after.warned) == ([], [], [])

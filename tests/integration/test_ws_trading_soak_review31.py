"""Soak: a quoter trading over the venue's WebSocket API with batch calls, under chaos, checked against the engine.

What the older soaks (test_soak_orders.py, test_mm_soak_review15.py) leave out, together, one seeded
run per connector side by side: orders sent with ``ws_trading=True`` (Binance spot, Bybit spot; Bybit
linear over REST, with ``watch_positions``), as ``place_orders``, ``amend_orders``, ``cancel_orders`` and
``cancel_all_orders``, while ``watch_orders(since=)``, ``watch_fills(since=)``, ``watch_balances`` and
the books stream. Every few steps the chaos changes (seeded): lost answers (a WS API connection
then closes), 503s, a dropped stream, a sequence gap, a frame failing its schema. Then chaos is
off, the quotes are pulled, and the connector is left with placements in flight.

No wall-clock assertion: the bound on each await only turns a hang into a failure. The venue's
clock is never stepped here (``clock_skew_ms``): the account watches order pushes by venue time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import pytest_asyncio

import lotusx
from lotusx.kernel.errors import AmbiguousOrderState, Disconnected, LotusXError, NotFound
from lotusx.kernel.message import Request, Response
from lotusx.layers.limiter import Pool
from lotusx.layers.retry import RetryPolicy
from lotusx.models import Amend, Fill, NewOrder, Order, OrderBook
from lotusx.sim import SimConfig, serve
from lotusx.sim.venue import USER, Limits
from lotusx.venue import find_venue
from tests.integration.test_mm_soak_review15 import observed

pytestmark = pytest.mark.asyncio(loop_scope="module")

T = TypeVar("T")
SEED = 31
SYMBOL, OTHER = "BTCUSDT", "ETHUSDT"
STEPS = 40
CHAOS_EVERY = 5
BOUND = 15.0
"""Seconds any one await may take before the test calls it a hang."""
SETTLE = 8.0
"""Seconds the watches get to agree with REST once chaos is off."""
CONNECTORS = {"binance": ("binance", "spot", True), "bybit": ("bybit", "spot", True),
              "bybit-linear": ("bybit", "linear", False)}
"""Sim venue, engine category, and whether orders go over the WebSocket API."""
CONFIG = SimConfig(driver_rate=30, depth_interval=0.02,
                   limits=Limits(orders_10s=10_000, bybit_per_second=1000, request_weight=100_000))
# Pools raised so that the run is not paced by the venues' limits; lost answers close WS API connections.
POOLS = {"binance": {"ORDERS": [Pool("ORDERS", 10_000, 10)], "REQUEST_WEIGHT": [Pool("REQUEST_WEIGHT", 100_000, 60)],
                     "WS_API_CONNECTIONS": [Pool("WS_API_CONNECTIONS", 10_000, 300)]},
         **{connector: {name: [Pool(name, 1000, 1)] for name in (
             "IP", f"{prefix}order_create", f"{prefix}order_cancel", f"{prefix}order_amend", "order_realtime",
             "order_history", "wallet_balance", "execution_list", "position_list")}
            for connector, prefix in (("bybit", ""), ("bybit-linear", "linear_"))}}
RETRY = RetryPolicy(max_attempts=8, base=0.01, cap=0.05)
KNOBS = ({"drop_ws_once": 2}, {"sequence_gap": 3}, {"garble_ws_data": 1}, {})
SIZE = Decimal("0.002")


def bounded(call: Awaitable[T], bound: float = BOUND) -> Awaitable[T]:
    """``call``, failing with ``TimeoutError`` instead of hanging."""
    return asyncio.wait_for(call, bound)


@dataclasses.dataclass
class Desk:
    """One run's record."""

    connector: str
    placed: dict[str, Order | LotusXError] = dataclasses.field(default_factory=dict)
    untyped: list[str] = dataclasses.field(default_factory=list)
    fills: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    listed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    orders: dict[str, Order] = dataclasses.field(default_factory=dict)
    order_mismatches: list[str] = dataclasses.field(default_factory=list)
    engine_ids: Counter[str] = dataclasses.field(default_factory=Counter)
    unwatched: list[str] = dataclasses.field(default_factory=list)
    lost_answers: int = 0  # wire attempts that ended Disconnected: the venue may have acted
    crossed: list[str] = dataclasses.field(default_factory=list)
    watch_ends: list[str] = dataclasses.field(default_factory=list)
    closing: list[str] = dataclasses.field(default_factory=list)
    leaked: list[str] = dataclasses.field(default_factory=list)
    loop_errors: list[str] = dataclasses.field(default_factory=list)
    warned: list[str] = dataclasses.field(default_factory=list)


    async def count_lost(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Count the wire attempts whose answer was lost (to show the chaos did bite)."""
        try:
            return await call_next(request)
        except Disconnected:
            self.lost_answers += 1
            raise


async def follow(agen: AsyncIterator[Any], sink: Any) -> None:
    async for item in agen:
        sink(item)


def see_book(desk: Desk, book: OrderBook) -> None:
    if book.bids and book.asks and book.bids[0][0] >= book.asks[0][0]:
        desk.crossed.append(f"{book.symbol} {book.sequence}: {book.bids[0]} >= {book.asks[0]}")


async def step(desk: Desk, ex: Any, rng: random.Random, resting: dict[str, Order], cids: Any) -> None:
    """One random action of the quoter; every slot's outcome recorded."""
    book = await bounded(ex.get_order_book(SYMBOL, depth=5))
    bid, ask, tick = book.bids[0][0], book.asks[0][0], Decimal("0.01")
    action = rng.random()
    if action < 0.45 or not resting:
        news = []
        for _ in range(rng.randint(1, 4)):
            side = rng.choice(("BUY", "SELL"))
            crossing = rng.random() < 0.25  # at the other side's best: fills at once
            price = (ask if crossing else bid - tick) if side == "BUY" else (bid if crossing else ask + tick)
            news.append(NewOrder(symbol=SYMBOL, side=side, type="LIMIT", quantity=SIZE, price=price,
                                 client_order_id=f"q{next(cids)}"))
        for new, outcome in zip(news, await bounded(ex.place_orders(news)), strict=True):
            assert new.client_order_id is not None
            desk.placed[new.client_order_id] = outcome
            if isinstance(outcome, Order):
                resting[outcome.order_id] = outcome
            elif not isinstance(outcome, LotusXError):
                desk.untyped.append(repr(outcome))
    elif action < 0.65:
        chosen = rng.sample(sorted(resting), min(len(resting), 3))
        amends = [Amend(order_id=oid, price=resting[oid].price + tick * rng.choice((-1, 1))) for oid in chosen]
        for oid, outcome in zip(chosen, await bounded(ex.amend_orders(SYMBOL, amends)), strict=True):
            if isinstance(outcome, Order):  # on Binance a new order id
                del resting[oid]
                resting[outcome.order_id] = outcome
            elif isinstance(outcome, NotFound):
                del resting[oid]
            elif not isinstance(outcome, LotusXError):
                desk.untyped.append(repr(outcome))
    elif action < 0.85:
        chosen = rng.sample(sorted(resting), min(len(resting), 3))
        for oid, outcome in zip(chosen, await bounded(ex.cancel_orders(SYMBOL, order_ids=chosen)), strict=True):
            resting.pop(oid)
            if not isinstance(outcome, lotusx.CancelledOrder | LotusXError):
                desk.untyped.append(repr(outcome))
    else:
        await bounded(ex.cancel_all_orders(SYMBOL))
        resting.clear()


async def settle(desk: Desk, ex: Any, since: int) -> None:
    """Wait (bounded) until the streamed fills are get_fills' and every watched order is get_order's."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while True:
        desk.listed = [(f.trade_id, f.order_id) for f in await bounded(ex.get_fills(SYMBOL, since=since))]
        watched = dict(desk.orders)
        desk.order_mismatches = []
        for order_id, last in sorted(watched.items()):
            now = await bounded(ex.get_order(SYMBOL, order_id=order_id))
            if (now.status, now.filled_quantity, now.price) != (last.status, last.filled_quantity, last.price):
                desk.order_mismatches.append(f"{order_id}: watched {last.status} {last.filled_quantity} {last.price}, "
                                             f"get_order {now.status} {now.filled_quantity} {now.price}")
        if (sorted(desk.listed) == sorted(desk.fills) and not desk.order_mismatches) or loop.time() > deadline:
            return
        await asyncio.sleep(0.2)


async def soak(connector: str) -> Desk:
    """One seeded chaotic run against a fresh sim; the connector left with placements in flight."""
    venue, category, ws_trading = CONNECTORS[connector]
    desk, rng, cids = Desk(connector), random.Random(f"{SEED}:{connector}"), iter(range(10**6))
    async with serve((venue,), seed=SEED, config=CONFIG) as sim:
        chaos, keys = sim.chaos(venue), sim.api_keys(venue)
        async with lotusx.connect(dataclasses.replace(find_venue(connector), retry=RETRY),
                                  credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue),
                                  rate_limits=POOLS[connector], ws_trading=ws_trading,
                                  inner=[lotusx.around(desk.count_lost)]) as ex:
            since = await bounded(ex.get_server_time())

            def on_fill(fill: Fill) -> None:
                desk.fills.append((fill.trade_id, fill.order_id))

            def on_order(order: Order) -> None:
                desk.orders[order.order_id] = order

            watches = [follow(ex.watch_order_book(SYMBOL), lambda b: see_book(desk, b)),
                       follow(ex.watch_order_books([SYMBOL, OTHER]), lambda b: see_book(desk, b)),
                       follow(ex.watch_orders([SYMBOL], since=since), on_order),
                       follow(ex.watch_fills([SYMBOL], since=since), on_fill),
                       follow(ex.watch_balances(), lambda _: None)]
            if category == "linear":
                watches.append(follow(ex.watch_positions(), lambda _: None))
            tasks = [asyncio.create_task(w) for w in watches]
            resting: dict[str, Order] = {}
            for n in range(STEPS):
                if n % CHAOS_EVERY == 0:
                    chaos.update({"lose_answer_rate": rng.choice((0.0, 0.3, 0.5)), "error_rate": rng.choice((0.0, 0.2)),
                                  "drop_ws_once": None, "sequence_gap": 0, "garble_ws_data": 0, **rng.choice(KNOBS)})
                # A call that failed whole (a book read, cancel-all): the next step goes on.
                with contextlib.suppress(LotusXError):
                    await step(desk, ex, rng, resting, cids)
            chaos.update({"lose_answer_rate": 0.0, "error_rate": 0.0, "drop_ws_once": None, "sequence_gap": 0,
                          "garble_ws_data": 0})
            await bounded(ex.cancel_all_orders(SYMBOL))
            await settle(desk, ex, since)
            engine = sim.engine(venue, category)
            desk.engine_ids = Counter(o.client_id for o in engine.orders_of(USER, SYMBOL))
            desk.unwatched = [f"{o.order_id} {o.client_id} {o.status}" for o in engine.orders_of(USER, SYMBOL)
                              if str(o.order_id) not in desk.orders]
            # Left with placements in flight, their answers slow and some lost.
            chaos.update({"latency_ms": 30.0, "lose_answer_rate": 0.3})
            far = (await bounded(ex.get_order_book(SYMBOL, depth=5))).bids[0][0] - 50
            placing = [asyncio.create_task(ex.place_orders([NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT",
                                                                     quantity=SIZE, price=far)])) for _ in range(3)]
            await asyncio.sleep(0.02)
        for result in await bounded(asyncio.gather(*tasks, return_exceptions=True)):
            if result is not None:
                desk.watch_ends.append(repr(result))
        for result in await bounded(asyncio.gather(*placing, return_exceptions=True)):
            if isinstance(result, list):
                desk.closing += [repr(r) for r in result if not isinstance(r, Order | LotusXError)]
            elif not isinstance(result, LotusXError):
                desk.closing.append(repr(result))
    return desk


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def desks() -> AsyncIterator[dict[str, Desk]]:
    """The three runs side by side, with what the loop and the warnings said meanwhile."""
    records, after = await observed(asyncio.gather(*(soak(c) for c in CONNECTORS)), 90.0)
    for record in records:
        record.leaked, record.loop_errors, record.warned = after.leaked, after.loop_errors, after.warned
    yield dict(zip(CONNECTORS, records, strict=True))


@pytest.fixture(params=list(CONNECTORS))
def desk(desks: dict[str, Desk], request: pytest.FixtureRequest) -> Desk:
    """The run on one connector."""
    return desks[request.param]


async def test_the_chaos_bit(desk: Desk) -> None:
    """Orders were placed and filled, and answers were lost on the wire."""
    outcomes = Counter(type(r).__name__ for r in desk.placed.values())
    assert outcomes["Order"] >= 20 and len(desk.fills) >= 3, outcomes
    assert desk.lost_answers >= 3


async def test_every_placement_is_one_order_or_a_typed_error(desk: Desk) -> None:
    """No client order id names two orders; an Order exists; an error (not ambiguous) left nothing behind."""
    assert desk.untyped == []
    assert [cid for cid, n in desk.engine_ids.items() if n > 1] == []
    assert [cid for cid, r in desk.placed.items() if isinstance(r, Order) and not desk.engine_ids[cid]] == []
    assert [f"{cid} {r!r}" for cid, r in desk.placed.items()
            if isinstance(r, LotusXError) and not isinstance(r, AmbiguousOrderState) and desk.engine_ids[cid]] == []


async def test_every_fill_is_streamed_once_and_listed(desk: Desk) -> None:
    """watch_fills(since=) yielded each fill once, and the fills get_fills(since=) lists."""
    assert len(set(desk.fills)) == len(desk.fills)
    assert sorted(desk.fills) == sorted(desk.listed)


async def test_the_last_watched_state_of_every_order_is_get_orders(desk: Desk) -> None:
    """watch_orders(since=) ends on what get_order says of each order it showed, and showed every order."""
    assert (desk.order_mismatches, desk.unwatched) == ([], [])


async def test_no_book_shown_crossed(desk: Desk) -> None:
    """Through gaps, drops and garbled frames, no yielded book had its best bid at or above its best ask."""
    assert desk.crossed == []


async def test_leaving_ends_everything_cleanly(desk: Desk) -> None:
    """Every watch ends without error, every placement in flight ends typed, and nothing is left behind."""
    assert (desk.watch_ends, desk.closing) == ([], [])
    assert (desk.leaked, desk.loop_errors, desk.warned) == ([], [], [])

"""Soak: orders placed and cancelled under chaos keep LotusX's first promise, on each connector.

One seeded run per venue (module fixture): a probe order while all is calm, then placements in
small concurrent batches while the sim loses order answers after executing them, answers 503s,
delays and jitters every answer, throttles a few requests, steps the venue's clock and drops the
private stream under a running ``watch_orders``; then a cancel of every resting order under the same chaos; then chaos
off. The tests read the record of that run against the sim's engine (in-process, the truth):

- no client order id ever names two orders on the venue;
- every placement ends in an ``Order`` (the order exists), ``AmbiguousOrderState`` naming its
  client order id (it may exist; ``get_order`` finds it if so) or another ``LotusXError`` (it
  does not exist), never a raw exception and never a hang (each await is bounded);
- a cancel whose answer was lost reports the cancelled order, not "unknown order";
- ``watch_orders``' last state of every order converges to the engine's once chaos is off.

No wall-clock assertion: the bound on each await only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import pytest_asyncio

import lotusx
from lotusx.kernel.errors import AmbiguousOrderState, LotusXError, NotFound
from lotusx.kernel.message import Request, Response
from lotusx.layers.limiter import Pool
from lotusx.layers.retry import RetryPolicy
from lotusx.models import NewOrder, Order
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.chaos import Chaos
from lotusx.sim.venue import USER, Limits
from lotusx.venue import find_venue

pytestmark = pytest.mark.asyncio(loop_scope="module")

T = TypeVar("T")
SEED = 12
SYMBOL = "BTCUSDT"
PLACEMENTS, BATCH = 80, 4
BOUND = 15.0
"""Seconds any one await may take before the test calls it a hang."""
CHAOS = {"latency_ms": 2.0, "jitter_ms": 2.0, "error_rate": 0.1, "lose_answer_rate": 0.2}
DROP_STREAM_AT = (5, 9, 15)
"""Batches before which the private stream is dropped."""
CLOCK_STEP_AT = 3
"""The batch before which the venue's clock steps 3 s back: signed calls are refused until a resync."""
THROTTLE_AT = 12
"""The batch before which two requests are answered 429 (the pools cool off for a second)."""
# Order pools raised on both sides so that the run is not paced by the venues' real order rates.
CONFIG = SimConfig(driver_rate=0, depth_interval=0.05, limits=Limits(orders_10s=10_000, bybit_per_second=1000))
POOLS = {"binance": {"ORDERS": [Pool("ORDERS", 10_000, 10)]},
         "bybit": {name: [Pool(name, 1000, 1)] for name in ("order_create", "order_cancel", "order_realtime")}}
# Many quick attempts, so that a REST query fails only when the venue keeps failing, never by bad luck.
RETRY = RetryPolicy(max_attempts=8, base=0.01, cap=0.05)


def bounded(call: Awaitable[T]) -> Awaitable[T]:
    """``call``, failing with ``TimeoutError`` instead of hanging."""
    return asyncio.wait_for(call, BOUND)


def unified(venue: str, engine_status: str) -> str:
    """The status the connector reports for an engine status (Bybit has no EXPIRED: a limit IOC is Cancelled)."""
    return "CANCELED" if venue == "bybit" and engine_status == "EXPIRED" else engine_status


def new_order(rng: random.Random, cid: str) -> tuple[NewOrder, bool]:
    """A random order under ``cid`` and whether it should rest (be cancellable) if placed."""
    kind = rng.random()
    small = Decimal("0.001")
    if kind < 0.5:
        return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=small, price=Decimal(40_000),
                        client_order_id=cid), True
    if kind < 0.7:
        return NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=small, client_order_id=cid), False
    if kind < 0.85:  # nothing to take at that price: expires at once
        return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="IOC", quantity=small,
                        price=Decimal(40_000), client_order_id=cid), False
    # Worth 40 million USDT, far more than the account holds: refused.
    return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal(1000), price=Decimal(40_000),
                    client_order_id=cid), False


@dataclasses.dataclass
class Soak:
    """The record of one chaotic run."""

    venue: str
    sim: Sim
    ex: Any
    placed: dict[str, Order | BaseException] = dataclasses.field(default_factory=dict)
    resting: set[str] = dataclasses.field(default_factory=set)
    cancelled: dict[str, Order | BaseException] = dataclasses.field(default_factory=dict)
    watched: dict[str, Order] = dataclasses.field(default_factory=dict)
    wire: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    lagging: list[str] = dataclasses.field(default_factory=list)
    updated: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    watch_error: Exception | None = None

    def engine_orders(self, cid: str) -> list[Any]:
        """Every order the engine holds under ``cid``."""
        return [o for o in self.sim.engine(self.venue).orders_of(USER, SYMBOL) if o.client_id == cid]

    async def record_wire(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Count each wire attempt's failure by endpoint (to show the chaos did bite)."""
        try:
            return await call_next(request)
        except LotusXError as exc:
            self.wire[(request.endpoint.name, type(exc).__name__)] += 1
            raise

    async def watch(self) -> None:
        """Keep the last state ``watch_orders`` gave of every order; an error that ends it is kept too."""
        try:
            async for order in self.ex.watch_orders([SYMBOL]):
                self.watched[order.client_order_id] = order
                self.updated.set()
        except Exception as exc:  # judged by the convergence test
            self.watch_error = exc
            self.updated.set()

    async def outcome(self, call: Awaitable[Order]) -> Order | BaseException:
        """What ``call`` ended in; a hang (``TimeoutError``) or a raw exception is recorded as it came."""
        try:
            return await bounded(call)
        except Exception as exc:  # recorded, judged by the tests
            return exc

    async def run(self) -> None:
        chaos = self.sim.chaos(self.venue)
        watcher = asyncio.create_task(self.watch())
        try:
            await bounded(self.stream_live())
            chaos.update(CHAOS)
            rng = random.Random(SEED)
            orders = [new_order(rng, f"soak-{n}") for n in range(PLACEMENTS)]
            for batch, start in enumerate(range(0, PLACEMENTS, BATCH)):
                if batch in DROP_STREAM_AT:
                    chaos.drop_ws_once = 1
                if batch == THROTTLE_AT:
                    chaos.force_429 = 2
                if batch == CLOCK_STEP_AT:
                    chaos.clock_skew_ms = -3000
                chunk = orders[start:start + BATCH]
                results = await asyncio.gather(*(self.outcome(self.ex.place_order(o)) for o, _ in chunk))
                for (order, rests), result in zip(chunk, results, strict=True):
                    assert order.client_order_id is not None
                    self.placed[order.client_order_id] = result
                    if rests:
                        self.resting.add(order.client_order_id)
            cancellable = sorted(cid for cid in self.resting if not isinstance(self.placed[cid], LotusXError)
                                 or isinstance(self.placed[cid], AmbiguousOrderState))
            for start in range(0, len(cancellable), BATCH):
                chunk = cancellable[start:start + BATCH]
                results = await asyncio.gather(*(self.outcome(self.ex.cancel_order(SYMBOL, client_order_id=cid))
                                                 for cid in chunk))
                self.cancelled.update(zip(chunk, results, strict=True))
            chaos.update({name: getattr(Chaos(), name) for name in (*CHAOS, "drop_ws_once", "force_429")})
            with contextlib.suppress(TimeoutError):  # what still lags is the finding
                await bounded(self.until(lambda: not self.behind()))
            self.lagging = self.behind()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def stream_live(self) -> None:
        """Place and cancel probe orders until one shows up on the watched stream: then it is live."""
        for n in itertools.count():
            probe = await self.ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT",
                                                       quantity=Decimal("0.001"), price=Decimal(40_000),
                                                       client_order_id=f"probe-{n}"))
            await self.ex.cancel_order(SYMBOL, order_id=probe.order_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.until(lambda cid=probe.client_order_id: cid in self.watched), 0.2)
                return

    def behind(self) -> list[str]:
        """The chaotic run's orders whose last watched state is not the engine's, as ``cid: watched != engine``.

        Not the probes: those placed before the stream was live were never streamed, by design.
        """
        wrong = []
        for order in self.sim.engine(self.venue).orders_of(USER, SYMBOL):
            if order.client_id.startswith("probe-"):
                continue
            seen = self.watched.get(order.client_id)
            expected = unified(self.venue, order.status)
            if seen is None or seen.status != expected:
                wrong.append(f"{order.client_id}: {seen.status if seen else None} != {expected}")
        return wrong

    async def until(self, done: Callable[[], bool]) -> None:
        """Wait for ``done()``, asked again after every watched update."""
        while not done() and self.watch_error is None:
            self.updated.clear()
            await self.updated.wait()


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=("binance", "bybit"))
async def soak(request: pytest.FixtureRequest) -> AsyncIterator[Soak]:
    """One chaotic run against a fresh sim of the venue, kept open for the checks."""
    venue: str = request.param
    async with serve((venue,), seed=SEED, config=CONFIG) as sim:
        keys = sim.api_keys(venue)
        record = Soak(venue, sim, None)
        async with lotusx.connect(dataclasses.replace(find_venue(venue), retry=RETRY),
                                  credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue),
                                  rate_limits=POOLS[venue], inner=[lotusx.around(record.record_wire)]) as ex:
            record.ex = ex
            await record.run()
            yield record


async def test_the_chaos_bit(soak: Soak) -> None:
    """Order answers were lost, some placements were refused and some went through."""
    lost = sum(n for (endpoint, error), n in soak.wire.items() if error == "Disconnected")
    assert lost >= 5, soak.wire
    outcomes = Counter(type(result).__name__ for result in soak.placed.values())
    assert outcomes["Order"] >= 10 and outcomes["InsufficientBalance"] >= 1, outcomes


async def test_no_client_order_id_names_two_orders(soak: Soak) -> None:
    """The engine holds at most one order per client order id."""
    twice = [cid for cid in soak.placed if len(soak.engine_orders(cid)) > 1]
    assert twice == []


async def test_every_placement_ends_in_an_order_or_a_lotusx_error(soak: Soak) -> None:
    """No placement hung or raised anything outside the LotusXError tree."""
    raw = {cid: repr(result) for cid, result in soak.placed.items() if not isinstance(result, Order | LotusXError)}
    assert raw == {}


async def test_a_placed_order_exists_and_a_refused_one_does_not(soak: Soak) -> None:
    """An Order outcome is the engine's order; a typed refusal (not ambiguous) left no order."""
    wrong = {}
    for cid, result in soak.placed.items():
        held = soak.engine_orders(cid)
        if isinstance(result, Order):
            if [str(o.order_id) for o in held] != [result.order_id]:
                wrong[cid] = f"placed as {result.order_id}, engine holds {held}"
        elif isinstance(result, LotusXError) and not isinstance(result, AmbiguousOrderState) and held:
            wrong[cid] = f"refused with {result!r}, engine holds {held[0].status}"
    assert wrong == {}


async def test_an_ambiguous_placement_names_its_client_id_and_is_found_if_it_exists(soak: Soak) -> None:
    """AmbiguousOrderState carries the client order id; get_order by it finds the order the engine holds."""
    for cid, result in soak.placed.items():
        if not isinstance(result, AmbiguousOrderState):
            continue
        assert result.client_order_id == cid
        if soak.engine_orders(cid):
            found = await bounded(soak.ex.get_order(SYMBOL, client_order_id=cid))
            assert found.client_order_id == cid
        else:
            with pytest.raises(NotFound):
                await bounded(soak.ex.get_order(SYMBOL, client_order_id=cid))


async def test_a_cancel_reports_the_cancelled_order_never_unknown(soak: Soak) -> None:
    """Every resting order is cancelled and its cancel says so; only an order never placed is unknown."""
    wrong = {}
    for cid, result in soak.cancelled.items():
        held = soak.engine_orders(cid)
        if not held:
            if not isinstance(result, NotFound):
                wrong[cid] = f"absent, cancel said {result!r}"
        elif held[0].status != "CANCELED":
            wrong[cid] = f"engine status {held[0].status} after cancel {result!r}"
        elif not (isinstance(result, Order) and result.status in ("CANCELED", "PENDING_CANCEL")):
            wrong[cid] = f"cancelled, cancel said {result!r}"
    assert wrong == {}
    assert any(cid for cid, result in soak.cancelled.items() if isinstance(result, Order))


async def test_watch_orders_converges_to_the_engine(soak: Soak) -> None:
    """Once chaos is off, the last watched state of every order is the engine's."""
    assert soak.watch_error is None
    assert soak.lagging == []

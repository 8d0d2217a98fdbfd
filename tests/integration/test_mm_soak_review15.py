"""Soak: a market maker's loop on each connector, under chaos, checked against the sim's engine.

One seeded run per connector (Binance spot, Bybit spot, Bybit linear), the three side by side
on one event loop, each against its own sim, the way a market maker uses LotusX:

- a quoter follows ``watch_order_book(BTCUSDT)`` and, every few book updates, cancels its
  resting quotes and places a new bid/ask pair at the touch (the sim's market driver trades
  against them; every few pairs the bid crosses the spread and fills at once);
- a second watcher follows ``watch_order_books([BTCUSDT, ETHUSDT])`` on its own connection;
- ``watch_orders()`` and ``watch_balances()`` keep the account view (open orders, balances);
- a reconciler asks ``get_open_orders`` and ``get_balances`` now and then.

Chaos comes in phases, the REST faults (latency, jitter, 503s, lost order answers) throughout:
stream drops, one at a time; sequence gaps in one book's stream, then in another's; frames that
fail their schema, then frames that are not JSON; an outage (every connection cut, none let
back for a moment, orders placed meanwhile); a clock step; muted pings. Then every knob is
off, the quoter parks two quotes far from the market (nothing trades against them) and the run
waits (bounded) for the views to settle; then the quoter goes back to work with slow answers
and the connector is closed under it.

The tests read the record of each run against the engine (in-process, the truth). No
wall-clock assertion: the bound on each await only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import itertools
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import pytest_asyncio

import lotusx
from lotusx.kernel.errors import AmbiguousOrderState, ConfigError, LotusXError, NotFound
from lotusx.kernel.message import Request, Response
from lotusx.layers.limiter import Pool
from lotusx.layers.retry import RetryPolicy, may_have_executed
from lotusx.metrics import Metrics
from lotusx.models import Balance, NewOrder, Order, OrderBook
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import USER, Limits
from lotusx.venue import find_venue

pytestmark = pytest.mark.asyncio(loop_scope="module")

T = TypeVar("T")
SEED = 15
SYMBOL, OTHER = "BTCUSDT", "ETHUSDT"
QUOTE_EVERY = 3
"""Book updates between two re-quotes."""
CROSS_EVERY = 4
"""Every this many re-quotes, the bid is placed at the best ask (it fills at once)."""
SIZE = Decimal("0.001")
DEPTH = 20
BOUND = 10.0
"""Seconds any one await may take before the test calls it a hang."""
SETTLE = 6.0
"""Seconds the views get to match the engine once chaos is off."""
REST_CHAOS = {"latency_ms": 2.0, "jitter_ms": 2.0, "error_rate": 0.1, "lose_answer_rate": 0.25}
DROPS = 3
STREAMS = 4
"""Connections open: the two book watchers', watch_orders' and watch_balances'."""
OUTAGE = 0.5
"""Seconds the outage lasts at most, and the account event in flight then (never cut short)."""
GAPS = {SYMBOL: 2, OTHER: 1}
CONFIG = SimConfig(driver_rate=20, depth_interval=0.02,
                   limits=Limits(orders_10s=10_000, bybit_per_second=1000, request_weight=100_000))
CONNECTORS = ("binance", "bybit", "bybit-linear")
SIM_VENUES = {"binance": ("binance", "spot"), "bybit": ("bybit", "spot"), "bybit-linear": ("bybit", "linear")}
"""The sim venue and engine category behind each connector."""
# Pools raised so that the runs are not paced by the venues' limits (the two Bybit runs would share
# one IP budget, as two connectors of one venue on one event loop do).
POOLS = {"binance": {"ORDERS": [Pool("ORDERS", 10_000, 10)], "REQUEST_WEIGHT": [Pool("REQUEST_WEIGHT", 100_000, 60)]},
         **{connector: {name: [Pool(name, 1000, 1)] for name in ("IP", f"{prefix}order_create", f"{prefix}order_cancel",
                                                                   "order_realtime", "order_history", "wallet_balance")}
            for connector, prefix in (("bybit", ""), ("bybit-linear", "linear_"))}}
PLACEMENTS = frozenset({"place_order", "order_create", "linear_order_create"})
"""The placement endpoints' names (Binance's, Bybit's)."""
RETRY = RetryPolicy(max_attempts=8, base=0.01, cap=0.05)
ZERO = Decimal(0)
SEQUENCE_GAP = "sequence gap"
"""The resync reason of a book whose stream skipped update ids."""


def bounded(call: Awaitable[T], bound: float = BOUND) -> Awaitable[T]:
    """``call``, failing with ``TimeoutError`` instead of hanging."""
    return asyncio.wait_for(call, bound)


@dataclasses.dataclass
class Aftermath:
    """What the event loop said while runs went on: tasks left running, errors it logged, warnings."""

    leaked: list[str] = dataclasses.field(default_factory=list)
    loop_errors: list[str] = dataclasses.field(default_factory=list)
    warned: list[str] = dataclasses.field(default_factory=list)


async def observed(runs: Awaitable[T], bound: float) -> tuple[T, Aftermath]:
    """``runs``' result (within ``bound`` seconds), and the :class:`Aftermath` of running it."""
    loop = asyncio.get_running_loop()
    after = Aftermath()
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: after.loop_errors.append(
        f"{context.get('message')} {context.get('exception')!r}"))
    before = asyncio.all_tasks()
    gc.collect()  # what earlier tests left for the collector is theirs, not this run's
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = await bounded(runs, bound)
            await asyncio.sleep(0.05)
            gc.collect()  # an unretrieved task exception, an unclosed session, are reported on collection
    finally:
        loop.set_exception_handler(old_handler)
    after.leaked = sorted(f"{t.get_name()}: {t.get_coro()!r}" for t in asyncio.all_tasks() - before if not t.done())
    after.warned = [f"{w.category.__name__}: {w.message}" for w in caught]
    return result, after


def crossed(book: OrderBook) -> bool:
    """Whether ``book``'s best bid is at or above its best ask."""
    return bool(book.bids and book.asks and book.bids[0][0] >= book.asks[0][0])


def total(metric: Any, **labels: str) -> float:
    """The sum of a labelled Prometheus counter over the samples matching ``labels``."""
    return sum(s.value for m in metric.collect() for s in m.samples
               if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items()))


@dataclasses.dataclass
class Desk:
    """One market maker's run on one venue, and its record."""

    venue: str
    sim: Sim
    category: str = "spot"
    ex: Any = None
    metrics: Metrics = dataclasses.field(default_factory=Metrics)
    ids: Any = dataclasses.field(default_factory=itertools.count)
    # what the quoter did
    placed: dict[str, Order | BaseException] = dataclasses.field(default_factory=dict)
    cancels: list[Order | BaseException] = dataclasses.field(default_factory=list)
    resting: set[str] = dataclasses.field(default_factory=set)
    quoting: bool = True
    requotes: int = 0
    requoting: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)  # held through each requote
    quoter_news: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)  # the quoter's book moved
    quoter_done: bool = False  # the quoter's book stream ended
    # what the streams showed
    books: Counter[str] = dataclasses.field(default_factory=Counter)
    crossed_books: list[str] = dataclasses.field(default_factory=list)
    last_book: dict[tuple[str, str], OrderBook] = dataclasses.field(default_factory=dict)
    orders: dict[str, Order] = dataclasses.field(default_factory=dict)
    balances: dict[str, Balance] = dataclasses.field(default_factory=dict)
    balance_news: int = 0  # changes watch_balances yielded
    rest_views: list[tuple[list[Order], dict[str, Balance]]] = dataclasses.field(default_factory=list)
    rest_failures: list[BaseException] = dataclasses.field(default_factory=list)
    updated: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # how it ended
    wire: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    unsure_placements: int = 0  # placement attempts whose failure leaves open whether the venue acted
    task_errors: dict[str, BaseException | None] = dataclasses.field(default_factory=dict)
    leaked: list[str] = dataclasses.field(default_factory=list)
    loop_errors: list[str] = dataclasses.field(default_factory=list)
    warned: list[str] = dataclasses.field(default_factory=list)
    unsettled: list[str] = dataclasses.field(default_factory=list)
    injected: Counter[str] = dataclasses.field(default_factory=Counter)
    tasks: dict[str, asyncio.Task[None]] = dataclasses.field(default_factory=dict)
    settled_open: dict[str, Order] = dataclasses.field(default_factory=dict)
    settled_balances: dict[str, Balance] = dataclasses.field(default_factory=dict)
    outage_cuts: int = 0
    settled_rest: tuple[list[Order], dict[str, Balance]] = ([], {})
    settled_engine: tuple[list[str], dict[str, tuple[Decimal, Decimal]]] = ([], {})
    settled_held: Decimal = ZERO  # the margin the user's positions held then (linear's)
    matched: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    wrong_books: list[str] = dataclasses.field(default_factory=list)

    @property
    def engine(self) -> Any:
        return self.sim.engine(self.venue, self.category)

    async def record_wire(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Count each wire attempt's failure by endpoint (to show the chaos did bite)."""
        try:
            return await call_next(request)
        except LotusXError as exc:
            self.wire[(request.endpoint.name, type(exc).__name__)] += 1
            self.unsure_placements += request.endpoint.name in PLACEMENTS and may_have_executed(exc)
            raise

    # ----- the tasks -----

    def see_book(self, watcher: str, book: OrderBook) -> None:
        self.books[watcher] += 1
        if crossed(book):
            self.crossed_books.append(f"{watcher} {book.symbol} {book.sequence}: {book.bids[0]} >= {book.asks[0]}")
        key = (watcher, book.symbol)
        self.last_book[key] = book
        verdict = self.book_verdict(book)
        if verdict == "equal":
            self.matched.add(key)
        elif verdict == "wrong":
            self.wrong_books.append(f"{watcher} {book.symbol} at {book.sequence}: {list(book.bids)[:3]} "
                                    f"{list(book.asks)[:3]} != engine {self.engine_levels(book.symbol, 3)}")
        self.updated.set()

    def engine_levels(self, symbol: str, depth: int) -> tuple[list[Any], list[Any]]:
        engine_book = self.engine.books[symbol]
        return engine_book.levels("BUY", depth), engine_book.levels("SELL", depth)

    def book_verdict(self, book: OrderBook) -> str:
        """``equal`` or ``wrong`` when the engine's book is at the update ``book`` shows, else ``behind``.

        The engine's book is at that update when its last published update id (Binance's ``u``, the
        number of Bybit's last push) is the book's and nothing changed since (no change pending).
        """
        engine_book = self.engine.books[book.symbol]
        now = engine_book.update_id if self.venue == "binance" else engine_book.flushes
        if engine_book.pending_from is not None or book.sequence != now:
            return "behind"
        return "equal" if (list(book.bids), list(book.asks)) == self.engine_levels(book.symbol, DEPTH) else "wrong"

    async def quote(self) -> None:
        """Follow the book; every ``QUOTE_EVERY`` updates, replace the quotes around its latest touch.

        The quotes are replaced beside the stream (:meth:`requote_on_news`), not in its loop: on a
        loaded machine a requote's calls outlast many updates, and a loop held up by them falls ever
        further behind the stream (its books seconds old, a reconnect queued behind them seen late).
        """
        requoter = asyncio.create_task(self.requote_on_news(), name=f"{self.venue}-requote")
        try:
            async for book in self.ex.watch_order_book(SYMBOL, DEPTH):
                self.see_book("quoter", book)
                self.quoter_news.set()
        finally:
            self.quoter_done = True
            self.quoter_news.set()
            await requoter

    async def requote_on_news(self) -> None:
        """Replace the quotes at the quoter's latest book each time ``QUOTE_EVERY`` more came, until its stream ends."""
        quoted_at = 0
        while not self.quoter_done:
            self.quoter_news.clear()
            await self.quoter_news.wait()
            async with self.requoting:
                book = self.last_book[("quoter", SYMBOL)]
                if (self.quoting and not self.quoter_done and self.books["quoter"] >= quoted_at + QUOTE_EVERY
                        and book.bids and book.asks):
                    quoted_at = self.books["quoter"]
                    await self.requote(book.bids[0][0], book.asks[0][0])

    async def requote(self, bid: Decimal, ask: Decimal) -> None:
        self.requotes += 1
        await self.cancel_resting()
        if self.requotes % CROSS_EVERY == 0:
            bid = ask  # takes the best ask: fills at once
        await asyncio.gather(self.place("BUY", bid), self.place("SELL", ask))

    async def cancel_resting(self) -> None:
        cids = sorted(self.resting)
        results = await asyncio.gather(*(self.outcome(self.ex.cancel_order(SYMBOL, client_order_id=cid))
                                         for cid in cids))
        for cid, result in zip(cids, results, strict=True):
            self.cancels.append(result)
            # Cancelled, or gone (filled, or never placed): no longer resting. Else asked again next time.
            if isinstance(result, Order | NotFound):
                self.resting.discard(cid)

    async def place(self, side: str, price: Decimal) -> None:
        cid = f"mm-{self.venue}-{next(self.ids)}"
        result = await self.outcome(self.ex.place_order(NewOrder(
            symbol=SYMBOL, side=side, type="LIMIT", quantity=SIZE, price=price, client_order_id=cid)))
        self.placed[cid] = result
        if isinstance(result, AmbiguousOrderState) or (
                isinstance(result, Order) and result.status in ("NEW", "PARTIALLY_FILLED")):
            self.resting.add(cid)

    async def outcome(self, call: Awaitable[Order]) -> Order | BaseException:
        try:
            return await bounded(call)
        except Exception as exc:  # recorded, judged by the tests
            return exc

    async def watch_books(self) -> None:
        async for book in self.ex.watch_order_books([SYMBOL, OTHER], DEPTH):
            self.see_book("pair", book)

    async def watch_orders(self) -> None:
        async for order in self.ex.watch_orders([SYMBOL]):
            self.orders[order.client_order_id] = order
            self.updated.set()

    async def watch_balances(self) -> None:
        async for changed in self.ex.watch_balances():
            self.balances.update(changed)
            self.balance_news += 1
            self.updated.set()

    async def reconcile(self) -> None:
        """Ask REST for the account now and then, as a market maker's reconciler does, until the connector closes."""
        while True:
            await asyncio.sleep(0.25)
            try:
                self.rest_views.append((await bounded(self.ex.get_open_orders(SYMBOL)),
                                        await bounded(self.ex.get_balances())))
            except ConfigError as exc:
                if "is closed" in str(exc):
                    return
                self.rest_failures.append(exc)
            except Exception as exc:  # judged by the tests: a LotusXError under chaos is fine
                self.rest_failures.append(exc)

    # ----- the run -----

    async def run(self) -> None:
        tasks = {name: asyncio.create_task(getattr(self, name)(), name=f"{self.venue}-{name}")
                 for name in ("quote", "watch_books", "watch_orders", "watch_balances")}
        self.quoting = False
        try:
            await bounded(self.streams_live())
            self.balances = await bounded(self.ex.get_balances())
            self.quoting = True
            tasks["reconcile"] = asyncio.create_task(self.reconcile(), name=f"{self.venue}-reconcile")
            await self.phases()
            self.quoting = False
            await bounded(self.park())
            with contextlib.suppress(TimeoutError):  # what is still off is the finding
                await asyncio.wait_for(self.until(lambda: not self.differences()), SETTLE)
            self.unsettled = self.differences()
            self.settled_open, self.settled_balances = self.watched_open(), dict(self.balances)
            self.settled_rest = (await bounded(self.ex.get_open_orders(SYMBOL)), await bounded(self.ex.get_balances()))
            ledger = self.engine.accounts[USER]  # nothing of the user's moves while its quotes are parked
            self.settled_engine = (sorted(self.engine_open()),
                                   {a: (b.free, b.locked) for a, b in ledger.items() if b.free or b.locked})
            positions = self.sim.venue(self.venue).positions  # read now: back at work, the quoter trades again
            self.settled_held = sum((p.margin(positions.leverage) for p in positions.account(USER)), ZERO)
            # Back to work, answers slow, so that the connector closes with calls in flight.
            self.sim.chaos(self.venue).update({"latency_ms": 20.0})
            self.quoting = True
            await asyncio.sleep(0.15)
        finally:
            self.tasks = tasks

    async def streams_live(self) -> None:
        """Place and cancel probes far from the market until the order and balance streams show them."""
        before = len(self.balances)
        for n in itertools.count():
            probe = await self.ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=SIZE,
                                                       price=Decimal(10_000), client_order_id=f"probe-{n}"))
            await self.ex.cancel_order(SYMBOL, order_id=probe.order_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.until(lambda cid=probe.client_order_id: cid in self.orders
                                                  and self.orders[cid].status == "CANCELED"
                                                  and len(self.balances) > before and len(self.last_book) == 3), 0.3)
                return

    async def phases(self) -> None:
        chaos = self.sim.chaos(self.venue)
        await asyncio.sleep(0.2)  # calm: quotes rest and fill
        chaos.update(REST_CHAOS)
        await asyncio.sleep(0.5)
        for _ in range(DROPS):
            before = total(self.metrics.ws_reconnects)
            chaos.drop_ws_once = 1
            await bounded(self.until_metric(lambda b=before: total(self.metrics.ws_reconnects) > b))
            self.injected["drop"] += 1
            await bounded(self.books_fresh())
        for symbol, count in GAPS.items():
            for _ in range(count):
                await bounded(self.books_fresh())
                before = total(self.metrics.book_resyncs, symbol=symbol, reason=SEQUENCE_GAP)
                chaos.sequence_gap_symbol, chaos.sequence_gap = symbol, 3
                watchers = 2 if symbol == SYMBOL else 1  # the quoter's book and the pair's
                await bounded(self.until_metric(lambda s=symbol, b=before + watchers: total(
                    self.metrics.book_resyncs, symbol=s, reason=SEQUENCE_GAP) >= b))
                self.injected[f"gap {symbol}"] += 1
                await bounded(self.books_fresh())  # a gap while a book resyncs would show no gap
        # Frames that fail their schema, then frames that are not JSON: Binance's book diffs,
        # Bybit's order and wallet pushes (the knobs' targets); each is a lost message.
        for knob in ("garble_ws_data", "truncate_ws_data"):
            chaos.update({knob: 2})
            await bounded(self.until_metric(lambda k=knob: getattr(chaos, k) == 0, self.account_event))
            self.injected[knob] += 2
        await bounded(self.books_fresh())
        # An outage: every connection is cut at its next message and cannot come back until it
        # ends, while orders are placed and cancelled (so the account streams have news to miss,
        # asked by REST once they are back). Until all four were cut, within a bound: a
        # connection waiting out its back-off when the outage began is not cut at all.
        # The bound ends the wait between two account events, never inside one: a placement cancelled
        # while its lookup is in flight ends no lookup (the cancel propagates, as it must), and the
        # metrics test counts one ended lookup per placement attempt that may have executed.
        before = total(self.metrics.ws_reconnects)
        chaos.update({"refuse_ws": True, "drop_ws_after": 1})
        await bounded(self.until_metric(lambda: total(self.metrics.ws_reconnects) >= before + STREAMS,
                                        self.account_event, deadline=asyncio.get_running_loop().time() + OUTAGE))
        chaos.update({"refuse_ws": False, "drop_ws_after": None})
        await bounded(self.books_fresh())
        # Every connection back before the clock steps: one still waiting out its back-off would log in
        # while the venue's clock is 3 s behind, be refused (Binance: a timestamp 1000 ms ahead), and
        # reconnect once more, after the cuts are counted.
        await bounded(self.account_fresh())
        chaos.update({"clock_skew_ms": -3000})
        await asyncio.sleep(0.3)
        chaos.update({"mute_pings": True})
        await asyncio.sleep(0.1)
        # Counted now: a connection the venue closed just before the outage ended is found closed just after.
        self.outage_cuts = int(total(self.metrics.ws_reconnects) - before)
        chaos.update({"latency_ms": 0.0, "jitter_ms": 0.0, "error_rate": 0.0, "lose_answer_rate": 0.0,
                      "clock_skew_ms": 0, "mute_pings": False, "sequence_gap": 0, "sequence_gap_symbol": None,
                      "drop_ws_once": None})
        self.matched.clear()  # from here on every book must show the engine's

    async def park(self) -> None:
        """Cancel every resting quote (until none is left), then rest two quotes nothing trades against.

        A requote in flight ends first (``quoting`` is off, so none starts after): the quotes it places
        are cancelled here, never left at the touch to fill while the views are compared.
        """
        async with self.requoting:
            for _ in range(20):
                if not self.resting:
                    break
                await self.cancel_resting()
            mid = self.engine.books[SYMBOL].market.mid
            await asyncio.gather(self.place("BUY", mid - 5000), self.place("SELL", mid + 5000))

    async def until(self, done: Callable[[], bool]) -> None:
        """Wait for ``done()``, asked again after every stream update."""
        while not done():
            self.updated.clear()
            await self.updated.wait()

    async def until_metric(self, done: Callable[[], bool],
                           meanwhile: Callable[[], Awaitable[None]] | None = None, *,
                           deadline: float | None = None) -> None:
        """Wait for ``done()``, asked every 10 ms; ``meanwhile()`` is awaited between asks.

        Past ``deadline`` (event loop time) it stops waiting, once ``meanwhile()`` in flight is done.
        """
        loop = asyncio.get_running_loop()
        while not done() and (deadline is None or loop.time() < deadline):
            await asyncio.sleep(0.01)
            if meanwhile is not None:
                await meanwhile()

    async def account_event(self) -> None:
        """Place and cancel a quote far from the market: the account streams have something to send."""
        await self.place("BUY", self.engine.books[SYMBOL].market.mid - 5000)
        await self.cancel_resting()

    async def account_fresh(self) -> None:
        """Place and cancel quotes far from the market until both account streams show one placed from now on.

        A probe shown cancelled by ``watch_orders`` and a balance change ``watch_balances`` yielded since now
        came on live connections (pushed, or asked by REST once a stream was back).
        """
        placed, news = set(self.placed), self.balance_news
        await self.until_metric(lambda: self.balance_news > news and any(
            cid in self.orders and self.orders[cid].status == "CANCELED" for cid in self.placed.keys() - placed),
            self.account_event)

    async def books_fresh(self) -> None:
        """Wait until every watched book showed an update the engine published after now.

        A book merely yielded after now may come from its watcher's backlog, with a reconnect still
        queued behind it: that book resyncs later, from a snapshot taken after whatever was injected
        meanwhile (a sequence gap it would never see). Past the engine's sequence of now, a book has
        read everything its stream queued before now.
        """
        marks = {(watcher, symbol): self.published(symbol)
                 for watcher, symbol in (("quoter", SYMBOL), ("pair", SYMBOL), ("pair", OTHER))}
        await self.until_metric(lambda: all(key in self.last_book and self.last_book[key].sequence > mark
                                            for key, mark in marks.items()))

    def published(self, symbol: str) -> int:
        """The sequence of the last update of ``symbol``'s book the engine published (a book's ``sequence``):
        Binance's update id ``u`` of the last diff, the number of Bybit's last push."""
        book = self.engine.books[symbol]
        if self.venue != "binance":
            return int(book.flushes)
        return int(book.update_id if book.pending_from is None else book.pending_from - 1)

    # ----- the truth -----

    def engine_open(self) -> dict[str, Order | Any]:
        return {o.client_id: o for o in self.engine.open_orders(USER, SYMBOL)}

    def watched_open(self) -> dict[str, Order]:
        return {cid: o for cid, o in self.orders.items() if o.status in ("NEW", "PARTIALLY_FILLED")}

    def differences(self) -> list[str]:
        """How the account and book views differ from the engine right now."""
        wrong = []
        engine_open, watched = self.engine_open(), self.watched_open()
        for cid in sorted(engine_open.keys() | watched.keys()):
            e, w = engine_open.get(cid), watched.get(cid)
            if e is None or w is None or (w.filled_quantity, w.price) != (e.filled, e.price):
                wrong.append(f"open order {cid}: watched {w and (w.status, w.filled_quantity)} "
                             f"engine {e and (e.status, e.filled)}")
        ledger = self.engine.accounts[USER]
        for asset in sorted(ledger.keys() | self.balances.keys()):
            e_bal, w_bal = ledger.get(asset), self.balances.get(asset)
            e_pair = (e_bal.free, e_bal.locked) if e_bal else (ZERO, ZERO)
            w_pair = (w_bal.free, w_bal.locked) if w_bal else (ZERO, ZERO)
            if e_pair != w_pair:
                wrong.append(f"balance {asset}: watched {w_pair} engine {e_pair}")
        # The market keeps moving: a book is settled once it showed the engine's book since chaos ended.
        wrong += [f"book {watcher} {symbol} never caught up" for watcher, symbol in sorted(self.last_book.keys()
                                                                                        - self.matched)]
        return wrong


async def soak(connector: str) -> Desk:
    """One market maker's chaotic run against a fresh sim of the venue, the connector closed after it."""
    venue, category = SIM_VENUES[connector]
    async with serve((venue,), seed=SEED, config=CONFIG) as sim:
        record = Desk(venue, sim, category)
        keys = sim.api_keys(venue)
        async with lotusx.connect(dataclasses.replace(find_venue(connector), retry=RETRY),
                                  credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue),
                                  rate_limits=POOLS[connector], metrics=record.metrics,
                                  inner=[lotusx.around(record.record_wire)]) as ex:
            record.ex = ex
            await record.run()
        # The connector closed: every task's loop ends by itself.
        ended = await bounded(asyncio.gather(*record.tasks.values(), return_exceptions=True))
        record.task_errors = {name: r if isinstance(r, BaseException) else None
                              for name, r in zip(record.tasks, ended, strict=True)}
        return record


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def desks() -> AsyncIterator[dict[str, Desk]]:
    """The three runs, side by side on one event loop (so the module takes as long as the slowest)."""
    records, after = await observed(asyncio.gather(*(soak(c) for c in CONNECTORS)), 60.0)
    for record in records:
        record.leaked, record.loop_errors, record.warned = after.leaked, after.loop_errors, after.warned
    yield dict(zip(CONNECTORS, records, strict=True))


@pytest.fixture(params=CONNECTORS)
def desk(desks: dict[str, Desk], request: pytest.FixtureRequest) -> Desk:
    """The run on one connector."""
    return desks[request.param]


async def test_the_chaos_bit(desk: Desk) -> None:
    """Quotes were placed, cancelled and filled; answers were lost; streams dropped and books resynced."""
    outcomes = Counter(type(r).__name__ for r in desk.placed.values())
    fills = [o for o in desk.engine.orders_of(USER, SYMBOL) if o.filled > 0]
    lost = sum(n for (_, error), n in desk.wire.items() if error == "Disconnected")
    assert outcomes["Order"] >= 20 and len(fills) >= 3 and lost >= 3, (outcomes, len(fills), desk.wire)
    assert desk.injected == {"drop": DROPS, "garble_ws_data": 2, "truncate_ws_data": 2,
                             **{f"gap {s}": n for s, n in GAPS.items()}}


async def test_the_views_settle_to_the_engine(desk: Desk) -> None:
    """Once chaos is off: watched open orders, watched balances and the last books are the engine's."""
    assert desk.unsettled == []


async def test_locked_balances_back_the_watched_open_orders(desk: Desk) -> None:
    """The watched locked USDT and BTC are what the watched open bids and asks lock: on spot the bids' USDT
    and the asks' BTC; on linear (margin-traded) bids and asks alike lock price * qty / leverage in USDT,
    beside the margin of the position their fills opened, and no BTC."""
    watched = desk.settled_open.values()
    if desk.category == "linear":
        leverage = desk.sim.venue("bybit").positions.leverage
        quotes = sum((o.price * (o.quantity - o.filled_quantity) / leverage for o in watched), ZERO)
        assert (desk.settled_balances["USDT"].locked, desk.settled_balances["BTC"].locked) == (
            quotes + desk.settled_held, 0)
        return
    bids = sum((o.price * (o.quantity - o.filled_quantity) for o in watched if o.side == "BUY"), ZERO)
    asks = sum((o.quantity - o.filled_quantity for o in watched if o.side == "SELL"), ZERO)
    assert (desk.settled_balances["USDT"].locked, desk.settled_balances["BTC"].locked) == (bids, asks)


async def test_no_book_was_ever_crossed_or_wrong(desk: Desk) -> None:
    """Every book either watcher was given was uncrossed and, when the engine was at its update, the engine's."""
    assert desk.crossed_books == []
    assert desk.wrong_books == []
    assert desk.books["quoter"] >= 20 and desk.books["pair"] >= 20, desk.books


async def test_no_client_order_id_names_two_orders(desk: Desk) -> None:
    """The engine holds at most one order per client order id."""
    ids = Counter(o.client_id for o in desk.engine.orders_of(USER))
    assert [cid for cid, n in ids.items() if n > 1] == []


async def test_a_placement_is_an_order_or_a_typed_refusal(desk: Desk) -> None:
    """An Order outcome exists; a refusal other than AmbiguousOrderState left no order; nothing raw."""
    wrong = {}
    for cid, result in desk.placed.items():
        held = [o for o in desk.engine.orders_of(USER, SYMBOL) if o.client_id == cid]
        if not isinstance(result, Order | LotusXError):
            wrong[cid] = repr(result)
        elif isinstance(result, Order) and [str(o.order_id) for o in held] != [result.order_id]:
            wrong[cid] = f"placed as {result.order_id}, engine holds {held}"
        elif isinstance(result, LotusXError) and not isinstance(result, AmbiguousOrderState) and held:
            wrong[cid] = f"refused with {result!r}, engine holds {held[0].status}"
    assert wrong == {}
    assert [c for c in desk.cancels if not isinstance(c, Order | LotusXError)] == []


async def test_the_reconciler_only_failed_with_lotusx_errors_and_ends_on_the_engine(desk: Desk) -> None:
    """Every REST reconcile answered or raised a LotusXError; once settled, REST tells what the engine holds."""
    assert [repr(e) for e in desk.rest_failures if not isinstance(e, LotusXError)] == []
    assert len(desk.rest_views) >= 5
    open_orders, balances = desk.settled_rest
    rest = (sorted(o.client_order_id for o in open_orders), {a: (b.free, b.locked) for a, b in balances.items()})
    assert rest == desk.settled_engine


async def test_every_task_ends_cleanly_on_close(desk: Desk) -> None:
    """Closing the connector ends every watcher normally: no error, no leaked task, no warning."""
    assert desk.task_errors == dict.fromkeys(("quote", "watch_books", "watch_orders", "watch_balances", "reconcile"))
    assert desk.leaked == []
    assert desk.loop_errors == []
    assert desk.warned == []


async def test_the_metrics_count_what_was_injected(desk: Desk) -> None:
    """Each drop is a reconnect, each gap one resync per book of its symbol, each lookup and ambiguity counted."""
    reconnects = {s.labels["reason"]: s.value for m in desk.metrics.ws_reconnects.collect() for s in m.samples
                  if s.name.endswith("_total")}
    # A connection cut before the venue acked its subscription ends as "setup_failed".
    assert sum(reconnects.values()) == DROPS + desk.outage_cuts and set(reconnects) <= {"server_close", "setup_failed"}
    assert desk.outage_cuts >= 2
    resyncs = Counter({(s.labels["symbol"], s.labels["reason"]): s.value for m in desk.metrics.book_resyncs.collect()
                       for s in m.samples if s.name.endswith("_total")})
    # Both BTCUSDT books (the quoter's, the pair's) see each of its gaps; only the pair's sees ETHUSDT's.
    assert (resyncs[(SYMBOL, SEQUENCE_GAP)], resyncs[(OTHER, SEQUENCE_GAP)]) == (2 * GAPS[SYMBOL], GAPS[OTHER]), resyncs
    # Never a crossed book, nor a stale snapshot.
    assert {reason for _, reason in resyncs} <= {SEQUENCE_GAP, "reconnect", "unreadable message"}, resyncs
    ambiguous = sum(isinstance(r, AmbiguousOrderState) for r in desk.placed.values())
    assert total(desk.metrics.ambiguous_orders) == ambiguous
    # Every placement attempt that may have executed is looked up once, to an end (found, absent, failed).
    # (a 5xx, an answer lost after sending, and a timeout too: on a loaded machine one comes.)
    ended = sum(total(desk.metrics.reconciles, outcome=o) for o in ("found", "absent", "failed"))
    assert ended == desk.unsure_placements > 0, desk.wire

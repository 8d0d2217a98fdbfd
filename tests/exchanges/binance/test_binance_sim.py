"""The Binance connector against the embedded simulator, over real loopback sockets.

One quiet simulator serves the whole module (no random order flow: the books move only when a
test trades, through the connector or through the sim's engine as the market maker), so every
answer can be checked against the engine's own state.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import AuthenticationError, InvalidSignature, NotFound, OrderRejected
from lotusx.metrics import Metrics
from lotusx.models import Balance, Level, NewOrder, Order, OrderBook, Withdrawal
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Engine
from lotusx.sim.venue import MAKER, USER
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")

SYMBOL = "BTCUSDT"
TICK = Decimal("0.01")
QUIET = SimConfig(driver_rate=0, depth_interval=0.05, withdraw_delay=0.3)
PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")  # RFC 8410 §7 prefix of a 32-byte seed


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sim() -> AsyncIterator[Sim]:
    """One quiet Binance simulator for the module."""
    async with serve(("binance",), seed=1, config=QUIET) as running:
        yield running


@pytest.fixture
def engine(sim: Sim) -> Engine:
    """The simulator's spot matching engine."""
    return sim.engine("binance")


@pytest.fixture
def metrics() -> Metrics:
    """A private metrics registry per test."""
    return Metrics()


def on_account(sim: Sim, metrics: Metrics | None = None) -> lotusx.connect:
    """A connection to the sim holding its HMAC key (the user's account)."""
    keys = sim.api_keys("binance")
    return lotusx.connect("binance", credentials=Credentials(keys.hmac_key, keys.hmac_secret),
                          rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"),
                          ws_api_url=sim.ws_url("binance"), metrics=metrics)


@pytest_asyncio.fixture(loop_scope="module")
async def ex(sim: Sim, metrics: Metrics) -> AsyncIterator[Binance]:
    """A connector holding the sim's HMAC key."""
    async with on_account(sim, metrics) as connector:
        yield connector


@pytest_asyncio.fixture(loop_scope="module")
async def other(sim: Sim) -> AsyncIterator[Binance]:
    """A second connector on the same account: another process trading it."""
    async with on_account(sim) as connector:
        yield connector


class Watch:
    """Drains an async iterator in a task into ``items``; closed at the end of the test."""

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self.items: list[Any] = []
        self.task = asyncio.create_task(self._drain(source))

    async def _drain(self, source: AsyncIterator[Any]) -> None:
        async for item in source:
            self.items.append(item)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def inside_spread(engine: Engine) -> Decimal:
    """A price strictly between the best bid and the best ask (the seeded spread is 20 ticks)."""
    book = engine.books[SYMBOL]
    bid, ask = book.prices("BUY")[0], book.prices("SELL")[0]
    price = bid + TICK
    assert price < ask, "the test needs a spread of at least two ticks"
    return price


def far_bid(engine: Engine) -> Decimal:
    """A bid price far below the market, where nothing will trade."""
    return engine.books[SYMBOL].prices("BUY")[0] - Decimal(1000)


# ----- market data -----

async def test_server_time_is_the_venues(ex: Binance, sim: Sim) -> None:
    """get_server_time returns the venue's clock in milliseconds."""
    before = sim.venue("binance").now_ms()
    server = await ex.get_server_time()
    assert before <= server <= sim.venue("binance").now_ms()


async def test_order_book_equals_engine(ex: Binance, engine: Engine) -> None:
    """get_order_book returns the engine's top levels and update id, exactly."""
    book = await ex.get_order_book(SYMBOL, depth=5)
    live = engine.books[SYMBOL]
    assert book.sequence == live.update_id
    assert book.bids == live.levels("BUY", 5) and book.asks == live.levels("SELL", 5)
    assert all(isinstance(p, Decimal) and isinstance(q, Decimal) for p, q in book.bids + book.asks)


async def test_ticker_equals_best_levels(ex: Binance, engine: Engine) -> None:
    """get_ticker returns the best bid and ask with their quantities."""
    ticker = await ex.get_ticker(SYMBOL)
    live = engine.books[SYMBOL]
    assert (ticker.bid, ticker.bid_quantity) == live.levels("BUY", 1)[0]
    assert (ticker.ask, ticker.ask_quantity) == live.levels("SELL", 1)[0]


async def test_trades_report_a_fresh_trade(ex: Binance, engine: Engine) -> None:
    """get_trades includes a trade just made, taker side and exact price and quantity."""
    best_ask = engine.books[SYMBOL].prices("SELL")[0]
    await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.00042")))
    trades = await ex.get_trades(SYMBOL, limit=5)
    assert trades[-1].side == "BUY" and trades[-1].price == best_ask
    assert trades[-1].quantity == Decimal("0.00042")
    assert trades[-1].trade_id == str(engine.trades[SYMBOL][-1].trade_id)


# ----- order types -----

async def test_limit_gtc_rests_and_cancels(ex: Binance, engine: Engine) -> None:
    """A LIMIT GTC order below the market rests as NEW and cancels by order id."""
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                          quantity=Decimal("0.001"), price=far_bid(engine)))
    assert (order.status, order.filled_quantity, order.time_in_force) == ("NEW", Decimal(0), "GTC")
    cancelled = await ex.cancel_order(SYMBOL, order_id=order.order_id)
    assert cancelled.status == "CANCELED" and cancelled.client_order_id == order.client_order_id


async def test_limit_ioc_without_match_expires(ex: Binance, engine: Engine) -> None:
    """A LIMIT IOC order that cannot trade expires unfilled."""
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="IOC",
                                          quantity=Decimal("0.001"), price=far_bid(engine)))
    assert (order.status, order.filled_quantity) == ("EXPIRED", Decimal(0))


async def test_limit_ioc_crossing_fills(ex: Binance, engine: Engine) -> None:
    """A LIMIT IOC order at the best ask fills what is there."""
    ask, quantity = engine.books[SYMBOL].levels("SELL", 1)[0]
    size = min(quantity, Decimal("0.001"))
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="IOC",
                                          quantity=size, price=ask))
    assert (order.status, order.filled_quantity) == ("FILLED", size)


async def test_limit_fok_too_large_expires_whole(ex: Binance, engine: Engine) -> None:
    """A LIMIT FOK order larger than the best level expires without any fill."""
    ask, quantity = engine.books[SYMBOL].levels("SELL", 1)[0]
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="FOK",
                                          quantity=quantity + Decimal("0.00001"), price=ask))
    assert (order.status, order.filled_quantity) == ("EXPIRED", Decimal(0))
    assert engine.books[SYMBOL].levels("SELL", 1)[0] == (ask, quantity)


async def test_market_by_quantity_fills(ex: Binance) -> None:
    """A MARKET order by base quantity fills it entirely."""
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="SELL", type="MARKET", quantity=Decimal("0.002")))
    assert (order.status, order.type, order.filled_quantity) == ("FILLED", "MARKET", Decimal("0.002"))


async def test_market_by_quote_quantity_fills(ex: Binance, engine: Engine) -> None:
    """A MARKET order by quote quantity buys at most that much quote, in whole lot steps."""
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quote_quantity=Decimal(100)))
    placed = engine.orders[int(order.order_id)]
    assert order.status == "FILLED" and order.filled_quantity > 0
    assert placed.quote_filled <= 100 and order.filled_quantity % Decimal("0.00001") == 0


async def test_limit_maker_rests(ex: Binance, engine: Engine) -> None:
    """A LIMIT_MAKER order that would not trade rests as NEW."""
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT_MAKER",
                                          quantity=Decimal("0.001"), price=far_bid(engine)))
    assert (order.status, order.type) == ("NEW", "LIMIT_MAKER")
    await ex.cancel_order(SYMBOL, client_order_id=order.client_order_id)


async def test_limit_maker_that_would_take_is_rejected(ex: Binance, engine: Engine) -> None:
    """A LIMIT_MAKER order at the best ask is rejected (-2010), as an OrderRejected."""
    ask = engine.books[SYMBOL].prices("SELL")[0]
    with pytest.raises(OrderRejected) as caught:
        await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT_MAKER", quantity=Decimal("0.001"),
                                      price=ask))
    assert caught.value.code == -2010


async def test_unknown_order_is_not_found(ex: Binance) -> None:
    """Querying an order that never existed raises NotFound (-2013)."""
    with pytest.raises(NotFound) as caught:
        await ex.get_order(SYMBOL, client_order_id="never-placed")
    assert caught.value.code == -2013


# ----- an order's life, and the user stream -----

async def await_user_stream(ex: Binance, engine: Engine, watch: Watch) -> None:
    """Place probe orders until one shows up on the user stream: then the stream is live."""
    for _ in range(20):
        probe = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT",
                                              quantity=Decimal("0.001"), price=far_bid(engine)))
        await ex.cancel_order(SYMBOL, order_id=probe.order_id)
        for _ in range(25):
            if any(isinstance(i, Order) and i.client_order_id == probe.client_order_id for i in watch.items) or (
                    watch.items and not isinstance(watch.items[0], Order)):
                return
            await asyncio.sleep(0.02)
    raise AssertionError("the user stream never delivered a probe order")


async def rest_a_buy(ex: Binance, engine: Engine, client_order_id: str) -> tuple[Order, Decimal]:
    """A 0.005 BUY resting inside the spread (first in line for the maker's sells), and its price."""
    price = inside_spread(engine)
    placed = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                           quantity=Decimal("0.005"), price=price, client_order_id=client_order_id))
    return placed, price


async def test_a_fill_while_the_user_stream_is_down_is_reported_after_the_reconnect(
        ex: Binance, sim: Sim, engine: Engine, metrics: Metrics) -> None:
    """The socket drops with a fill never streamed: once live again, watch_orders reports the final state."""
    chaos = sim.chaos("binance")
    orders = Watch(ex.watch_orders())
    try:
        await await_user_stream(ex, engine, orders)
        placed, price = await rest_a_buy(ex, engine, "gap-1")
        await eventually(lambda: [o for o in orders.items if o.client_order_id == "gap-1"], what="the NEW event")
        chaos.drop_ws_after = 1
        try:
            # Two fills at once: the first event goes out and the socket drops, the second is never sent.
            engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=Decimal("0.002"), price=price, tif="IOC")
            engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=Decimal("0.003"), price=price, tif="IOC")
            await eventually(lambda: metrics.registry.get_sample_value(
                "lotusx_ws_reconnects_total", {"exchange": "binance", "reason": "server_close"}),
                what="the user stream to reconnect")
        finally:
            chaos.drop_ws_after = None

        def final() -> Order | None:
            mine = [o for o in orders.items if o.order_id == placed.order_id]
            return mine[-1] if mine[-1].status == "FILLED" else None

        filled = await eventually(final, what="the fill the stream missed")
        assert filled.filled_quantity == Decimal("0.005")
        assert [o.status for o in orders.items if o.order_id == placed.order_id] == ["NEW", "PARTIALLY_FILLED",
                                                                                    "FILLED"]
    finally:
        await orders.close()


@asynccontextmanager
async def user_stream_down(ex: Binance, sim: Sim, engine: Engine, metrics: Metrics) -> AsyncIterator[None]:
    """Inside the block the user stream is down: dropped after streaming a probe order, reconnects refused."""
    chaos = sim.chaos("binance")
    chaos.drop_ws_after, chaos.refuse_ws = 1, True
    try:
        probe = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal("0.001"),
                                              price=far_bid(engine)))
        await eventually(lambda: metrics.registry.get_sample_value(
            "lotusx_ws_reconnects_total", {"exchange": "binance", "reason": "server_close"}),
            what="the user stream to drop")
        await ex.cancel_order(SYMBOL, order_id=probe.order_id)
        yield
    finally:
        chaos.drop_ws_after, chaos.refuse_ws = None, False


async def back_live(ex: Binance, engine: Engine, orders: Watch, client_order_id: str) -> None:
    """Once an order placed now is reported, the stream is live again and the gap reconciled."""
    order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal("0.001"),
                                          price=far_bid(engine), client_order_id=client_order_id))
    await eventually(lambda: [o for o in orders.items if o.client_order_id == client_order_id],
                     what="the stream to be live again")
    await ex.cancel_order(SYMBOL, order_id=order.order_id)


def states(orders: Watch, client_order_id: str) -> list[tuple[str, Decimal, Decimal]]:
    """(status, filled, quantity) of every update reported for one order."""
    return [(o.status, o.filled_quantity, o.quantity) for o in orders.items if o.client_order_id == client_order_id]


def charged(metrics: Metrics, endpoint: str) -> float:
    """REST calls to ``endpoint`` that went through the stack and were answered 2xx."""
    return metrics.registry.get_sample_value(
        "lotusx_requests_total", {"exchange": "binance", "endpoint": endpoint, "status_class": "2xx"}) or 0.0


async def test_orders_another_client_placed_and_closed_during_a_gap_are_reported_once(
        ex: Binance, other: Binance, sim: Sim, engine: Engine, metrics: Metrics) -> None:
    """Placed and filled, or placed and cancelled, while the stream was down: each reported once, exactly."""
    orders = Watch(ex.watch_orders())
    try:
        await await_user_stream(ex, engine, orders)
        async with user_stream_down(ex, sim, engine, metrics):
            await other.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.00321"),
                                             client_order_id="gap-filled"))
            rested = await other.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT",
                                                      quantity=Decimal("0.00123"), price=far_bid(engine),
                                                      client_order_id="gap-cancelled"))
            await other.cancel_order(SYMBOL, order_id=rested.order_id)
        await back_live(ex, engine, orders, "after-gap-1")
        assert states(orders, "gap-filled") == [("FILLED", Decimal("0.00321"), Decimal("0.00321"))]
        assert states(orders, "gap-cancelled") == [("CANCELED", Decimal(0), Decimal("0.00123"))]
        assert charged(metrics, "all_orders") >= 1
    finally:
        await orders.close()


async def test_an_order_reported_before_a_gap_is_not_reported_again_after_it(
        ex: Binance, sim: Sim, engine: Engine, metrics: Metrics) -> None:
    """An order filled and streamed just before the gap lies in the reconcile's window, yet comes once."""
    orders = Watch(ex.watch_orders())
    try:
        await await_user_stream(ex, engine, orders)
        await ex.place_order(NewOrder(symbol=SYMBOL, side="SELL", type="MARKET", quantity=Decimal("0.00042"),
                                      client_order_id="before-gap"))
        await eventually(lambda: ("FILLED", Decimal("0.00042"), Decimal("0.00042")) in states(orders, "before-gap"),
                         what="the streamed fill")
        reported = states(orders, "before-gap")
        async with user_stream_down(ex, sim, engine, metrics):
            pass
        await back_live(ex, engine, orders, "after-gap-2")
        assert charged(metrics, "all_orders") >= 1
        assert states(orders, "before-gap") == reported
    finally:
        await orders.close()


async def test_order_history_reads_past_a_full_page_and_across_24_hour_windows(
        ex: Binance, sim: Sim, engine: Engine, metrics: Metrics) -> None:
    """Over 1000 orders, asked from 30 hours back: every one comes once, exact, in its final state."""
    since = sim.venue("binance").now_ms() - 30 * 3600 * 1000
    price = engine.books["ETHUSDT"].prices("BUY")[0] - Decimal(100)
    placed = [engine.place(USER, "ETHUSDT", "BUY", "LIMIT", quantity=Decimal("0.0013"), price=price, tif="IOC")
              for _ in range(1001)]
    history = await ex.get_order_history("ETHUSDT", since=since)
    assert [o.order_id for o in history] == [str(o.order_id) for o in placed]
    assert {(o.status, o.quantity, o.filled_quantity) for o in history} == {("EXPIRED", Decimal("0.0013"), 0)}
    assert charged(metrics, "all_orders") == 3  # an empty first window, then two pages


async def test_the_user_stream_subscribes_on_the_sims_ws_api_with_an_ed25519_key(sim: Sim, engine: Engine) -> None:
    """An Ed25519 key's signed subscription is accepted by the sim's /ws-api/v3, and its order streams."""
    async with lotusx.connect("binance", credentials=ed25519_credentials(sim),
                              rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"),
                              ws_api_url=sim.ws_url("binance")) as ex:
        orders = Watch(ex.watch_orders())
        try:
            await await_user_stream(ex, engine, orders)
        finally:
            await orders.close()


async def test_a_wrong_secret_ends_the_user_stream_with_invalid_signature(sim: Sim) -> None:
    """The sim checks the subscription's signature: a wrong secret is InvalidSignature (-1022), not a retry loop."""
    keys = sim.api_keys("binance")
    async with lotusx.connect("binance", credentials=Credentials(keys.hmac_key, "not-the-secret-0000"),
                              rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"),
                              ws_api_url=sim.ws_url("binance")) as ex:
        with pytest.raises(InvalidSignature) as caught:
            await asyncio.wait_for(anext(ex.watch_orders()), 5.0)
    assert caught.value.code == -1022


async def test_an_unknown_api_key_ends_the_user_stream_with_an_authentication_error(sim: Sim) -> None:
    """A key the sim does not know is refused (-2015): AuthenticationError for the consumer."""
    async with lotusx.connect("binance", credentials=Credentials("unknown-key-0000", "unknown-secret-0000"),
                              rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"),
                              ws_api_url=sim.ws_url("binance")) as ex:
        with pytest.raises(AuthenticationError) as caught:
            await asyncio.wait_for(anext(ex.watch_balances()), 5.0)
    assert caught.value.code == -2015


async def test_order_life_on_rest_and_user_stream(ex: Binance, engine: Engine) -> None:
    """Place, partial fill by the market maker, query by client id, cancel: REST and stream agree."""
    orders = Watch(ex.watch_orders())
    try:
        await await_user_stream(ex, engine, orders)
        placed, price = await rest_a_buy(ex, engine, "life-1")
        assert (placed.status, placed.client_order_id) == ("NEW", "life-1")
        engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=Decimal("0.002"), price=price, tif="IOC")

        queried = await ex.get_order(SYMBOL, client_order_id="life-1")
        assert (queried.order_id, queried.status, queried.filled_quantity) == (
            placed.order_id, "PARTIALLY_FILLED", Decimal("0.002"))
        assert "life-1" in [o.client_order_id for o in await ex.get_open_orders(SYMBOL)]
        assert "life-1" in [o.client_order_id for o in await ex.get_open_orders()]

        cancelled = await ex.cancel_order(SYMBOL, client_order_id="life-1")
        assert (cancelled.status, cancelled.filled_quantity) == ("CANCELED", Decimal("0.002"))
        assert "life-1" not in [o.client_order_id for o in await ex.get_open_orders(SYMBOL)]

        def life() -> list[tuple[str, Decimal]] | None:
            seen = [(o.status, o.filled_quantity) for o in orders.items if o.client_order_id == "life-1"]
            return seen if seen and seen[-1][0] == "CANCELED" else None

        assert await eventually(life, what="the order's stream events") == [
            ("NEW", Decimal(0)), ("PARTIALLY_FILLED", Decimal("0.002")), ("CANCELED", Decimal("0.002"))]
        (streamed,) = {(o.order_id, o.side, o.type, o.price, o.quantity) for o in orders.items
                       if o.client_order_id == "life-1"}
        assert streamed == (placed.order_id, "BUY", "LIMIT", price, Decimal("0.005"))
    finally:
        await orders.close()


async def test_balances_stream_follows_an_order(ex: Binance, engine: Engine) -> None:
    """watch_balances reports the quote locked by a resting order, and its release on cancel."""
    balances = Watch(ex.watch_balances())
    try:
        await await_user_stream(ex, engine, balances)
        locked_before = engine.balance(USER, "USDT").locked
        price = far_bid(engine)
        order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal("0.003"),
                                              price=price))
        expected = locked_before + Decimal("0.003") * price

        def usdt_locked(amount: Decimal, after: int) -> Callable[[], int | None]:
            def probe() -> int | None:
                return next((i for i, u in enumerate(balances.items) if i > after and u["USDT"].locked == amount),
                            None)
            return probe

        start = len(balances.items) - 1
        placed_at = await eventually(usdt_locked(expected, start), what="the locked balance")
        await ex.cancel_order(SYMBOL, order_id=order.order_id)
        released_at = await eventually(usdt_locked(locked_before, placed_at), what="the released balance")
        update: dict[str, Balance] = balances.items[released_at]
        assert update["USDT"].free == engine.balance(USER, "USDT").free
    finally:
        await balances.close()


async def test_balances_equal_engine(ex: Binance, engine: Engine) -> None:
    """get_balances returns every non-zero asset of the account, exactly."""
    balances = await ex.get_balances()
    account = engine.accounts[USER]
    assert {a: (b.free, b.locked) for a, b in balances.items()} == {
        a: (b.free, b.locked) for a, b in account.items() if b.free or b.locked}


async def test_withdrawal_progresses_to_completed(ex: Binance, engine: Engine) -> None:
    """withdraw returns an id; get_withdrawals shows it PROCESSING, then COMPLETED with a tx id."""
    free_before = engine.balance(USER, "USDT").free
    withdrawal_id = await ex.withdraw(Withdrawal(asset="USDT", address="TXYZ1234", amount=Decimal("12.5"),
                                                 network="TRX", client_id="wd-1"))
    (first,) = [w for w in await ex.get_withdrawals("USDT") if w.withdrawal_id == withdrawal_id]
    assert (first.status, first.amount, first.address, first.network) == (
        "PROCESSING", Decimal("12.5"), "TXYZ1234", "TRX")
    assert engine.balance(USER, "USDT").free == free_before - Decimal("12.5")
    done = None
    for _ in range(100):
        await asyncio.sleep(0.05)
        (done,) = [w for w in await ex.get_withdrawals() if w.withdrawal_id == withdrawal_id]
        if done.status == "COMPLETED":
            break
    assert done is not None and done.status == "COMPLETED" and done.tx_id


def ed25519_credentials(sim: Sim) -> Credentials:
    """The sim's Ed25519 key, its private half as a PKCS#8 PEM (what a user downloads)."""
    keys = sim.api_keys("binance")
    assert keys.ed25519_key and keys.ed25519_private_key
    seed = base64.b64decode(keys.ed25519_private_key)
    pem = ("-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(PKCS8_ED25519 + seed).decode()
           + "\n-----END PRIVATE KEY-----\n")
    return Credentials(keys.ed25519_key, pem)


async def test_ed25519_key_trades(sim: Sim, engine: Engine) -> None:
    """An Ed25519 (PEM) key is signed and accepted end to end."""
    async with lotusx.connect("binance", credentials=ed25519_credentials(sim),
                              rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"),
                              ws_api_url=sim.ws_url("binance")) as ex:
        order = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT",
                                              quantity=Decimal("0.001"), price=far_bid(engine)))
        assert (await ex.get_order(SYMBOL, order_id=order.order_id)).status == "NEW"
        assert (await ex.cancel_order(SYMBOL, order_id=order.order_id)).status == "CANCELED"


# ----- the maintained book -----

class Flow:
    """Deterministic market-maker order flow through the engine: rests, trades and cancels."""

    def __init__(self, engine: Engine, seed: int = 7) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.history: dict[int, tuple[list[Level], list[Level]]] = {}
        self.record()

    def record(self) -> None:
        """Remember the top 20 levels under the current update id (only steps change the book)."""
        book = self.engine.books[SYMBOL]
        self.history[book.update_id] = (book.levels("BUY", 20), book.levels("SELL", 20))

    def at(self, sequence: int) -> tuple[list[Level], list[Level]]:
        """The top levels as of update id ``sequence`` (ids burnt by the gap knob change nothing)."""
        return self.history[max(k for k in self.history if k <= sequence)]

    def step(self) -> None:
        book = self.engine.books[SYMBOL]
        mid = (book.prices("BUY")[0] + book.prices("SELL")[0]) / 2
        mid = mid.quantize(TICK)
        side = self.rng.choice(("BUY", "SELL"))
        sign = -1 if side == "BUY" else 1
        quantity = Decimal("0.00001") * self.rng.randint(10, 500)
        if self.rng.random() < 0.2:  # cross the spread: trades against resting orders
            self.engine.place(MAKER, SYMBOL, side, "LIMIT", quantity=quantity, price=mid - sign * 5 * TICK,
                              tif="IOC")
        else:
            self.engine.place(MAKER, SYMBOL, side, "LIMIT", quantity=quantity,
                              price=mid + sign * self.rng.randint(1, 30) * TICK)
        resting = self.engine.open_orders(MAKER, SYMBOL)
        if len(resting) > 60:
            self.engine.cancel(MAKER, SYMBOL, resting[0].order_id)
        self.record()

    async def run(self, seconds: float) -> None:
        """Step every 10 ms for ``seconds`` (so several depth events, 50 ms apart)."""
        for _ in range(int(seconds / 0.01)):
            self.step()
            await asyncio.sleep(0.01)


def resyncs(metrics: Metrics, reason: str, symbol: str = SYMBOL) -> float:
    value = metrics.registry.get_sample_value(
        "lotusx_book_resyncs_total", {"exchange": "binance", "symbol": symbol, "reason": reason})
    return value or 0.0


async def drop_the_socket(sim: Sim, flow: Flow, metrics: Metrics, seconds: float) -> None:
    """Close the depth socket at its next diff while ``flow`` trades for ``seconds``; wait for the reconnect."""
    chaos = sim.chaos("binance")
    chaos.drop_ws_after = 1
    try:
        await flow.run(seconds)
        await eventually(lambda: resyncs(metrics, "reconnect") >= 1, what="a reconnect resync")
    finally:
        chaos.drop_ws_after = None


async def at_engine(books: Watch, engine: Engine, symbol: str = SYMBOL) -> OrderBook:
    """The latest book of ``symbol`` once one carries the engine's current update id (bounded wait)."""
    live = engine.books[symbol]

    def found() -> OrderBook | None:
        return next((b for b in reversed(books.items) if b.symbol == symbol and b.sequence == live.update_id), None)

    return await eventually(found, what=f"{symbol} at the engine's update id")


async def test_quiet_book_yields_its_snapshot(ex: Binance, engine: Engine) -> None:
    """With no diffs at all (a quiet symbol) watch_order_book still yields the snapshot book."""
    books = Watch(ex.watch_order_book(SYMBOL, depth=10))
    try:
        first: OrderBook = (await eventually(lambda: books.items, what="the snapshot book"))[0]
        live = engine.books[SYMBOL]
        assert first.sequence == live.update_id
        assert (first.bids, first.asks) == (live.levels("BUY", 10), live.levels("SELL", 10))
    finally:
        await books.close()


async def test_two_books_share_one_connection_and_a_gap_resyncs_only_its_symbol(
        ex: Binance, sim: Sim, engine: Engine, metrics: Metrics) -> None:
    """watch_order_books: both books on one socket, each equal to the engine's; a gap in ETH leaves BTC alone."""
    chaos, flow, hub = sim.chaos("binance"), Flow(engine), sim.venue("binance").hub
    before = hub.listeners
    books = Watch(ex.watch_order_books([SYMBOL, "ETHUSDT"], depth=20))
    try:
        await eventually(lambda: {b.symbol for b in books.items} == {SYMBOL, "ETHUSDT"}, what="both books")
        assert hub.listeners == before + 1
        chaos.sequence_gap, chaos.sequence_gap_symbol = 3, "ETHUSDT"
        engine.place(MAKER, "ETHUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"), price=Decimal("2990.00"))
        await flow.run(0.3)  # BTC keeps moving: its diffs keep applying
        await eventually(lambda: resyncs(metrics, "sequence gap", "ETHUSDT") >= 1, what="the ETH resync")
        assert resyncs(metrics, "sequence gap") == 0
        for symbol in (SYMBOL, "ETHUSDT"):
            latest, live = await at_engine(books, engine, symbol), engine.books[symbol]
            assert (latest.bids, latest.asks) == (live.levels("BUY", 20), live.levels("SELL", 20))
        assert metrics.registry.get_sample_value("lotusx_ws_reconnects_total",
                                                 {"exchange": "binance", "reason": "server_close"}) is None
    finally:
        chaos.sequence_gap_symbol = None
        await books.close()


async def test_a_book_that_goes_quiet_after_a_reconnect_still_catches_up(ex: Binance, sim: Sim, engine: Engine,
                                                                        metrics: Metrics) -> None:
    """Trades made while the socket is down, then silence: the book re-snapshots once resubscribed."""
    books = Watch(ex.watch_order_book(SYMBOL, depth=20))
    try:
        await eventually(lambda: books.items, what="the first synced book")
        # The first diff drops the socket and the rest of the flow is never streamed; no trading
        # after that, so no later diff could reveal a stale book.
        await drop_the_socket(sim, Flow(engine), metrics, 0.3)
        final, live = await at_engine(books, engine), engine.books[SYMBOL]
        assert (final.bids, final.asks) == (live.levels("BUY", 20), live.levels("SELL", 20))
    finally:
        await books.close()


@pytest.mark.parametrize("knob", ["garble_ws_data", "truncate_ws_data"])
async def test_an_unreadable_diff_then_silence_still_ends_at_the_engines_book(ex: Binance, sim: Sim, engine: Engine,
                                                                            metrics: Metrics, knob: str) -> None:
    """One diff fails its schema, or is cut short (not JSON), and no other follows: the book
    resyncs at once instead of staying without that change until some later diff shows the hole."""
    chaos = sim.chaos("binance")
    before = resyncs(metrics, "unreadable message")
    books = Watch(ex.watch_order_book(SYMBOL, depth=20))
    try:
        await eventually(lambda: books.items, what="the first synced book")
        for attempt in range(5):  # the knob spoils the venue's next event on any socket: retried if not ours
            setattr(chaos, knob, 1)
            engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=Decimal("0.01"), price=Decimal(49990 - attempt))
            with contextlib.suppress(AssertionError):
                await eventually(lambda: resyncs(metrics, "unreadable message") > before, seconds=1.0,
                                 what="the resync")
                break
        assert resyncs(metrics, "unreadable message") > before
        final, live = await at_engine(books, engine), engine.books[SYMBOL]
        assert (final.bids, final.asks) == (live.levels("BUY", 20), live.levels("SELL", 20))
    finally:
        setattr(chaos, knob, 0)
        await books.close()


async def test_book_survives_gap_and_disconnect_and_equals_engine(ex: Binance, sim: Sim, engine: Engine,
                                                                  metrics: Metrics) -> None:
    """After an injected sequence gap and a forced disconnect the maintained book equals the engine's."""
    chaos, flow = sim.chaos("binance"), Flow(engine)
    books = Watch(ex.watch_order_book(SYMBOL, depth=20))
    try:
        await eventually(lambda: books.items, what="the first synced book")
        await flow.run(0.3)

        chaos.sequence_gap = 3
        await flow.run(0.3)
        await eventually(lambda: resyncs(metrics, "sequence gap") >= 1, what="a gap resync")

        await drop_the_socket(sim, flow, metrics, 0.2)
        mark = len(books.items)
        for _ in range(100):  # the book resyncs once the new connection delivers diffs: keep trading
            await flow.run(0.1)
            if len(books.items) > mark + 3:
                break
        else:
            raise AssertionError("the book never resynced after the reconnect")

        final, live = await at_engine(books, engine), engine.books[SYMBOL]
        assert final.bids == live.levels("BUY", 20) and final.asks == live.levels("SELL", 20)
        assert final.bids[0][0] < final.asks[0][0]
        # Never silently wrong: every book yielded, before and after the faults, was the venue's book
        # at the update id it carried.
        assert all((b.bids, b.asks) == flow.at(b.sequence) for b in books.items)
    finally:
        await books.close()


async def test_placing_the_same_order_again_under_its_client_id_returns_it(ex: Binance, engine: Engine) -> None:
    """The venue refuses the duplicate id and the reconcile finds the very order asked for: it is returned."""
    order = NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.001"),
                     price=far_bid(engine), client_order_id="again-1")
    first = await ex.place_order(order)
    again = await ex.place_order(order)
    assert again.order_id == first.order_id
    await ex.cancel_order(SYMBOL, client_order_id="again-1")


async def test_a_client_id_reused_for_another_order_is_a_duplicate_not_that_order(ex: Binance, engine: Engine) -> None:
    """An id already taken by a BUY, sent with a SELL at another price: DuplicateClientOrderId, one order."""
    buy = NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.001"),
                   price=far_bid(engine), client_order_id="reused-1")
    await ex.place_order(buy)
    sell = NewOrder(symbol=SYMBOL, side="SELL", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.001"),
                    price=far_bid(engine) + Decimal(5000), client_order_id="reused-1")
    with pytest.raises(lotusx.DuplicateClientOrderId, match="taken by another order"):
        await ex.place_order(sell)
    assert [o.side for o in await ex.get_open_orders(SYMBOL) if o.client_order_id == "reused-1"] == ["BUY"]
    await ex.cancel_order(SYMBOL, client_order_id="reused-1")

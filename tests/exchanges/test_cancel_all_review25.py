"""cancel_all_orders: the kill switch, one request that takes every open order of a symbol off the book.

Binance (DELETE /api/v3/openOrders), Bybit spot and linear (POST /v5/order/cancel-all), each
against the embedded simulator over real loopback sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.exchanges.binance import endpoints as binance_ep
from lotusx.exchanges.bybit import endpoints as bybit_ep
from lotusx.kernel.errors import AmbiguousOutcome, ConfigError, DecodeError, NotFound
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, around
from lotusx.models import CancelledOrder, NewOrder, Order
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Engine
from lotusx.sim.venue import USER
from lotusx.testing import FakeClock, FakeTransport
from tests.conftest import eventually
from tests.sim.sim_helpers import answer_lost_if, watching_orders

QUIET = SimConfig(driver_rate=0, depth_interval=0.05)  # no random flow: only the test's orders move
SYMBOL, OTHER = "BTCUSDT", "ETHUSDT"
CANCEL_ALL = {"binance": ("DELETE", "/api/v3/openOrders"), "bybit": ("POST", "/v5/order/cancel-all")}
# (connect name, sim venue, sim category)
BINANCE_PAYLOADS = Path(__file__).parent / "binance" / "payloads"
BYBIT_PAYLOADS = Path(__file__).parent / "bybit" / "payloads"
KEY, SECRET, NOW_MS = "test-key-0001", "test-secret-0001", 1_700_000_000_000
VENUES = [("binance", "binance", "spot"), ("bybit", "bybit", "spot"), ("bybit-linear", "bybit", "linear")]


@dataclass
class Attempts:
    """An inner layer counting the wire attempts of cancel-all; ``lose_first`` cuts the first one's answer."""

    sim: Sim
    venue: str
    lose_first: bool = False
    count: int = 0

    async def __call__(self, request: Request, call_next: Service) -> Response:
        if (request.method, request.path) != CANCEL_ALL[self.venue]:
            return await call_next(request)
        self.count += 1
        # The venue carries the first attempt out, then cuts the connection without answering it.
        return await answer_lost_if(self.lose_first and self.count == 1, self.sim, self.venue,
                                    request, call_next)


@dataclass
class Venue:
    ex: Any
    sim: Sim
    engine: Engine
    attempts: Attempts


@asynccontextmanager
async def on_sim(name: str, sim_venue: str, category: str, *, lose_first: bool = False) -> AsyncIterator[Venue]:
    async with serve((sim_venue,), seed=1, config=QUIET) as sim:
        keys = sim.api_keys(sim_venue)
        attempts = Attempts(sim, sim_venue, lose_first)
        async with lotusx.connect(name, credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(sim_venue), ws_url=sim.ws_url(sim_venue),
                                  inner=[around(attempts)]) as ex:
            yield Venue(ex, sim, sim.engine(sim_venue, category), attempts)


def far_bid(engine: Engine, symbol: str) -> Decimal:
    """A bid far below the market, where nothing trades."""
    return engine.books[symbol].prices("BUY")[0] / 2


async def rest(v: Venue, symbol: str, cid: str) -> Order:
    price = far_bid(v.engine, symbol).quantize(v.engine.markets[symbol].tick)
    return await v.ex.place_order(NewOrder(symbol=symbol, side="BUY", type="LIMIT", time_in_force="GTC",
                                           quantity=Decimal("0.01"), price=price, client_order_id=cid))


venues = pytest.mark.parametrize(("name", "sim_venue", "category"), VENUES, ids=[v[0] for v in VENUES])


@venues
async def test_every_open_order_of_the_symbol_is_cancelled_and_no_other(name: str, sim_venue: str,
                                                                        category: str) -> None:
    """Three open orders on the symbol come back cancelled; the one on another symbol stays open."""
    async with on_sim(name, sim_venue, category) as v:
        mine = [await rest(v, SYMBOL, f"kill-{n}") for n in range(3)]
        kept = await rest(v, OTHER, "keep-1")
        cancelled = await v.ex.cancel_all_orders(SYMBOL)
        assert all(isinstance(c, CancelledOrder) for c in cancelled)
        assert sorted((c.order_id, c.client_order_id, c.symbol) for c in cancelled) == sorted(
            (o.order_id, o.client_order_id, SYMBOL) for o in mine)
        assert await v.ex.get_open_orders(SYMBOL) == []
        assert [o.order_id for o in await v.ex.get_open_orders(OTHER)] == [kept.order_id]
        assert v.attempts.count == 1


async def test_binance_gives_each_cancelled_order_whole() -> None:
    """Binance's answer holds each order's cancel report: the full Order, CANCELED."""
    async with on_sim("binance", "binance", "spot") as v:
        placed = await rest(v, SYMBOL, "whole-1")
        [cancelled] = await v.ex.cancel_all_orders(SYMBOL)
        assert cancelled.order is not None
        assert (cancelled.order.order_id, cancelled.order.client_order_id, cancelled.order.status,
                cancelled.order.quantity, cancelled.order.price) == (
            placed.order_id, "whole-1", "CANCELED", placed.quantity, placed.price)


@pytest.mark.parametrize(("name", "category"), [("bybit", "spot"), ("bybit-linear", "linear")])
async def test_bybit_gives_only_the_ids(name: str, category: str) -> None:
    """Bybit acknowledges with ids alone: no order state is made up from them."""
    async with on_sim(name, "bybit", category) as v:
        await rest(v, SYMBOL, "ids-1")
        [cancelled] = await v.ex.cancel_all_orders(SYMBOL)
        assert (cancelled.client_order_id, cancelled.order) == ("ids-1", None)


@venues
async def test_nothing_open_is_an_empty_result(name: str, sim_venue: str, category: str) -> None:
    """No open order on the symbol: an empty list, not an error (Binance answers -2011 then)."""
    async with on_sim(name, sim_venue, category) as v:
        await rest(v, OTHER, "keep-2")
        assert await v.ex.cancel_all_orders(SYMBOL) == []
        assert len(await v.ex.get_open_orders(OTHER)) == 1


@venues
async def test_the_cancellations_arrive_on_watch_orders(name: str, sim_venue: str, category: str) -> None:
    """Each order cancelled comes on the user stream as CANCELED, as a single cancel's does."""
    async with (on_sim(name, sim_venue, category) as v,
                watching_orders(v.ex, lambda n: rest(v, OTHER, f"probe-{n}")) as seen):
        mine = [await rest(v, SYMBOL, f"watch-{n}") for n in range(3)]
        await v.ex.cancel_all_orders(SYMBOL)
        ids = {o.order_id for o in mine}
        await eventually(lambda: {o.order_id for o in seen if o.status == "CANCELED"} >= ids,
                         "the three cancellations")


@venues
async def test_a_lost_answer_is_retried_once_without_error(name: str, sim_venue: str, category: str) -> None:
    """The first cancel-all is carried out but its answer is cut: one retry, no error, nothing left open."""
    async with on_sim(name, sim_venue, category, lose_first=True) as v:
        for n in range(3):
            await rest(v, SYMBOL, f"lost-{n}")
        # The retry found nothing left to cancel: what the first attempt took off comes on watch_orders.
        assert await v.ex.cancel_all_orders(SYMBOL) == []
        assert v.attempts.count == 2
        assert await v.ex.get_open_orders(SYMBOL) == []
        assert {o.status for o in v.engine.orders_of(USER, SYMBOL)} == {"CANCELED"}


@venues
async def test_an_unknown_symbol_is_not_found(name: str, sim_venue: str, category: str) -> None:
    """A symbol the venue does not list is NotFound, never an empty result."""
    async with on_sim(name, sim_venue, category) as v:
        with pytest.raises(NotFound):
            await v.ex.cancel_all_orders("NOPEUSDT")


async def test_a_linear_symbol_past_500_orders_is_cancelled_whole() -> None:
    """Linear cancels at most 500 a call: a full answer is followed by another call, until none is left."""
    async with on_sim("bybit-linear", "bybit", "linear") as v:
        price = far_bid(v.engine, SYMBOL).quantize(v.engine.markets[SYMBOL].tick)
        for _ in range(501):  # straight into the engine: placing 501 through the API would wait on its limits
            v.engine.place(USER, SYMBOL, "BUY", "LIMIT", quantity=Decimal("0.01"), price=price)
        cancelled = await v.ex.cancel_all_orders(SYMBOL)
        assert (len(cancelled), len({c.order_id for c in cancelled}), v.attempts.count) == (501, 501, 2)
        assert v.engine.open_orders(USER, SYMBOL) == []


async def test_binance_answer_with_an_order_list_gives_every_order_of_it() -> None:
    """The docs' example: two orders' cancel reports and an OCO list's two, four orders in all."""
    def venue(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
        return Response(status=200, body=(BINANCE_PAYLOADS / "cancel_open_orders.json").read_bytes())

    async with lotusx.connect("binance", credentials=lotusx.Credentials(KEY, SECRET), transport=FakeTransport(venue),
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        cancelled = await ex.cancel_all_orders("BTCUSDT")
    assert [(c.order_id, c.client_order_id) for c in cancelled] == [
        ("11", "E6APeyTJvkMvLMYMqu1KQ4"), ("13", "A3EF2HCwxgZPFMrfwbgrhv"), ("20", "CwOOIPHSmYywx6jZX77TdL"),
        ("21", "461cPg51vQjV3zIMOXNz39")]
    assert all(c.order is not None and c.order.status == "CANCELED" for c in cancelled)
    assert cancelled[0].order is not None and cancelled[0].order.price == Decimal("0.089853")


def bybit_answering(body: bytes) -> tuple[Any, FakeTransport]:
    """A spot connector whose venue answers every order request with ``body``, and its transport."""
    def venue(request: Request) -> Response:
        if request.path == "/v5/market/time":
            nano = NOW_MS * 1_000_000
            return Response(status=200, body=orjson.dumps({"retCode": 0, "retMsg": "OK", "result": {
                "timeSecond": str(nano // 10**9), "timeNano": str(nano)}, "retExtInfo": {}, "time": NOW_MS}))
        return Response(status=200, body=body)

    transport = FakeTransport(venue)
    return lotusx.connect("bybit", credentials=lotusx.Credentials(KEY, SECRET), transport=transport,
                          clock=FakeClock(NOW_MS / 1000)), transport


async def test_bybit_documented_answer_gives_its_ids() -> None:
    """The docs' example: two {orderId, orderLinkId} and success "1"."""
    async with bybit_answering((BYBIT_PAYLOADS / "order_cancel_all.json").read_bytes())[0] as ex:
        cancelled = await ex.cancel_all_orders("BTCUSDT")
    assert [(c.order_id, c.client_order_id, c.symbol, c.order) for c in cancelled] == [
        ("1616024329462743808", "1616024329462743809", "BTCUSDT", None),
        ("1616024287544869632", "1616024287544869633", "BTCUSDT", None)]


async def test_bybit_success_0_is_an_ambiguous_outcome() -> None:
    """success "0" says the cancel-all failed: some orders may be open still, never an empty success."""
    body = orjson.dumps({"retCode": 0, "retMsg": "OK", "result": {"list": [], "success": "0"}, "retExtInfo": {},
                         "time": NOW_MS})
    async with bybit_answering(body)[0] as ex:
        with pytest.raises(AmbiguousOutcome, match="may be open still"):
            await ex.cancel_all_orders("BTCUSDT")


async def test_bybit_refuses_an_empty_symbol_before_sending() -> None:
    """An empty symbol would cancel every spot order of the account: a ConfigError, nothing sent."""
    conn, transport = bybit_answering(b"{}")
    async with conn as ex:
        with pytest.raises(ConfigError):
            await ex.cancel_all_orders("")
    assert [r for r in transport.requests if r.path.startswith("/v5/order")] == []


def test_cancel_all_charges_the_documented_limits() -> None:
    """Binance: weight 1 (and one raw request); Bybit: the IP and its own per-endpoint pool per category."""
    assert dict(binance_ep.CANCEL_ALL.costs) == {binance_ep.W: 1, binance_ep.RAW: 1}
    for category, per_second in (("spot", 20), ("linear", 10)):
        endpoint = {"spot": bybit_ep.SPOT, "linear": bybit_ep.LINEAR}[category].order_cancel_all
        assert dict(endpoint.costs) == {bybit_ep.IP: 1, endpoint.name: 1}
        [pool] = [p for p in bybit_ep.LIMITS[category] if p.name == endpoint.name]
        assert (pool.limit, pool.per_seconds) == (per_second // 2, 1)  # rolling limit halved for fixed windows


async def test_binance_unreadable_cancel_report_is_a_decode_error() -> None:
    """An entry that is neither an order's cancel report nor a list's: DecodeError, never a short list."""
    def venue(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
        return Response(status=200, body=b'[{"symbol": "BTCUSDT", "orderId": 11}]')

    async with lotusx.connect("binance", credentials=lotusx.Credentials(KEY, SECRET), transport=FakeTransport(venue),
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        with pytest.raises(DecodeError, match="openOrders"):
            await ex.cancel_all_orders("BTCUSDT")

"""place_orders: many orders in one call, one result per order, never an order sent twice.

Bybit (spot and linear) sends them in POST /v5/order/create-batch requests of at most the
category's batch size; Binance spot has no REST batch and places each through place_order,
concurrently. Against the embedded simulator over loopback; lost answers come from the sim's
``lose_answer_rate`` knob (the venue acts, then cuts the connection) or from an inner layer
that answers in the venue's place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.kernel.errors import (
    AmbiguousOrderState,
    ConfigError,
    ConnectError,
    DuplicateClientOrderId,
    InsufficientBalance,
    LotusXError,
    ServerError,
    Timeout,
)
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, around
from lotusx.models import NewOrder, Order
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Engine
from tests.sim.sim_helpers import answer_lost_if

QUIET = SimConfig(driver_rate=0, depth_interval=0.05)  # no random flow: only the test's orders move
SYMBOL = "BTCUSDT"
QTY = Decimal("0.01")
BATCH = "/v5/order/create-batch"
BYBITS = [("bybit", "spot"), ("bybit-linear", "linear")]
bybits = pytest.mark.parametrize(("name", "category"), BYBITS, ids=[b[0] for b in BYBITS])
# 12 orders on each: the request sizes, spot's 10 a request and linear's 5 (its per-order budget).
chunked = pytest.mark.parametrize(("name", "category", "sizes"), [("bybit", "spot", [10, 2]),
                                                                  ("bybit-linear", "linear", [5, 5, 2])],
                                  ids=[b[0] for b in BYBITS])

Rewrite = Callable[[Request, Service, int], Any]


@dataclass
class Wire:
    """An inner layer seeing every wire attempt; ``rewrite`` (if set) answers batch attempts in the venue's place."""

    sim: Sim
    venue: str
    lose: set[int] = field(default_factory=set)  # batch attempts (1, 2...) the venue carries out, then loses
    rewrite: Rewrite | None = None
    batch: str = BATCH  # the batch endpoint watched (Bybit create-, cancel- or amend-batch)
    single: tuple[str, str] = ("POST", "/api/v3/order")  # the single-order call counted and held (Binance)
    batches: list[list[dict[str, Any]]] = field(default_factory=list)  # each batch attempt's orders
    placements: int = 0  # single-order calls (Binance)
    lookups: list[str] = field(default_factory=list)  # the orderLinkIds asked of /v5/order/realtime
    requests: list[str] = field(default_factory=list)  # every attempt, "METHOD path"
    in_flight: int = 0
    most_in_flight: int = 0

    async def __call__(self, request: Request, call_next: Service) -> Response:
        self.requests.append(f"{request.method} {request.path}")
        if (request.method, request.path) == self.single:
            self.placements += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await asyncio.sleep(0.02)  # long enough for the others to start, were they concurrent
                return await call_next(request)
            finally:
                self.in_flight -= 1
        if request.path == "/v5/order/realtime" and "orderLinkId" in dict(request.query):
            self.lookups.append(dict(request.query)["orderLinkId"])
        if request.path != self.batch:
            return await call_next(request)
        self.batches.append(orjson.loads(request.body or b"{}")["request"])
        attempt = len(self.batches)
        if self.rewrite is not None:
            return await self.rewrite(request, call_next, attempt)
        return await answer_lost_if(attempt in self.lose, self.sim, self.venue, request, call_next)


@dataclass
class Venue:
    ex: Any
    sim: Sim
    engine: Engine
    wire: Wire
    secrets: tuple[str, str]


@asynccontextmanager
async def on_sim(name: str, category: str = "spot", *, outer: Any = None, **wire: Any) -> AsyncIterator[Venue]:
    sim_venue = name.split("-")[0]
    async with serve((sim_venue,), seed=1, config=QUIET) as sim:
        keys = sim.api_keys(sim_venue)
        seen = Wire(sim, sim_venue, **wire)
        async with lotusx.connect(name, credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(sim_venue), ws_url=sim.ws_url(sim_venue),
                                  outer=[around(outer)] if outer else [], inner=[around(seen)]) as ex:
            yield Venue(ex, sim, sim.engine(sim_venue, category), seen, (keys.hmac_key, keys.hmac_secret))


def first_only(batch: str = BATCH) -> Callable[[Request, Service], Awaitable[Response]]:
    """An outer layer: only the first order of each ``batch`` request reaches the venue, then the answer times out."""
    async def cut(request: Request, call_next: Service) -> Response:
        if request.path != batch:
            return await call_next(request)
        body = orjson.loads(request.body or b"{}")  # outside the stack: not signed yet
        await call_next(request.replace(body=orjson.dumps({**body, "request": body["request"][:1]})))
        raise Timeout("the answer never came")
    return cut


def lookups_down(batch: str = BATCH) -> Callable[[Request, Service], Awaitable[Response]]:
    """An outer layer: every ``batch`` answer lost (a timeout), and the order lookups failing too."""
    async def down(request: Request, call_next: Service) -> Response:
        if request.path == batch:
            raise Timeout("the answer never came")
        if request.path == "/v5/order/realtime":
            raise ServerError("the lists are down")
        return await call_next(request)
    return down


def bids(v: Venue, count: int, prefix: str = "lvl") -> list[NewOrder]:
    """``count`` bids a tick apart, far below the market where nothing trades."""
    market = v.engine.markets[SYMBOL]
    top = (v.engine.books[SYMBOL].prices("BUY")[0] / 2).quantize(market.tick)
    return [NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=QTY,
                     price=top - n * market.tick, client_order_id=f"{prefix}-{n}") for n in range(count)]


def too_big(v: Venue, cid: str) -> NewOrder:
    """A bid the account cannot pay for."""
    order = bids(v, 1)[0]
    return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal(1000),
                    price=order.price, client_order_id=cid)


def on_engine(v: Venue, cid: str) -> int:
    """How many orders of the user's the venue's engine holds under ``cid``."""
    return sum(1 for order in v.engine.orders_of("user") if order.client_id == cid)


@bybits
async def test_a_refused_order_is_its_typed_error_in_its_slot_and_the_others_are_placed(name: str,
                                                                                       category: str) -> None:
    """One order the balance cannot cover: InsufficientBalance in its slot, the two others resting."""
    async with on_sim(name, category) as v:
        first, last = bids(v, 2)
        results = await v.ex.place_orders([first, too_big(v, "big-1"), last])
        assert [type(r) for r in results] == [Order, InsufficientBalance, Order]
        assert isinstance(results[1], InsufficientBalance) and results[1].code in (170131, 110007)
        assert v.wire.lookups == []  # a refusal is no doubt: nothing looked up
        for order, result in ((first, results[0]), (last, results[2])):
            assert isinstance(result, Order)
            assert (result.client_order_id, result.price, result.quantity, result.status) == (
                order.client_order_id, order.price, QTY, "NEW")
            assert result.order_id == str(v.engine.find("user", SYMBOL, client_id=order.client_order_id).order_id)
        assert len(v.wire.batches) == 1 and on_engine(v, "big-1") == 0


@chunked
async def test_more_orders_than_one_request_holds_are_split_in_order(name: str, category: str,
                                                                      sizes: list[int]) -> None:
    """12 orders: spot's 10 a request, linear's 5 (its per-order budget), every one placed once, results in order."""
    async with on_sim(name, category) as v:
        asked = bids(v, 12)
        results = await v.ex.place_orders(asked)
        assert [len(batch) for batch in v.wire.batches] == sizes
        assert [b["orderLinkId"] for batch in v.wire.batches for b in batch] == [o.client_order_id for o in asked]
        assert [r.client_order_id for r in results] == [o.client_order_id for o in asked]
        assert all(on_engine(v, o.client_order_id or "") == 1 for o in asked)


@bybits
async def test_a_lost_answer_is_looked_up_by_client_id_never_sent_again(name: str, category: str) -> None:
    """The venue places the batch and the answer is lost: each order found by its id, placed exactly once."""
    async with on_sim(name, category, lose={1}) as v:
        asked = bids(v, 3)
        results = await v.ex.place_orders(asked)
        assert len(v.wire.batches) == 1 and sorted(v.wire.lookups) == ["lvl-0", "lvl-1", "lvl-2"]
        assert [type(r) for r in results] == [Order] * 3
        for order, result in zip(asked, results, strict=True):
            assert on_engine(v, order.client_order_id or "") == 1
            assert result.client_order_id == order.client_order_id and result.price == order.price


async def test_orders_a_lost_batch_did_not_place_are_ambiguous_not_sent_again() -> None:
    """Only the first order of a batch reached the venue, then a timeout: found, and the rest AmbiguousOrderState."""
    async with on_sim("bybit", outer=first_only()) as v:
        asked = bids(v, 3)
        results = await v.ex.place_orders(asked)
        assert len(v.wire.batches) == 1
        assert isinstance(results[0], Order) and results[0].client_order_id == "lvl-0"
        for order, result in zip(asked[1:], results[1:], strict=True):
            assert isinstance(result, AmbiguousOrderState)
            assert result.client_order_id == order.client_order_id and on_engine(v, result.client_order_id) == 0
        counted = v.ex.metrics.ambiguous_orders.labels("bybit", "order_create_batch", "batch_not_found")
        assert counted._value.get() == 2


async def test_a_batch_that_never_left_is_sent_again_and_placed_once() -> None:
    """A connection refused before sending proves nothing was placed: Retry sends the batch again."""
    async def refuse_first(request: Request, call_next: Service, attempt: int) -> Response:
        if attempt == 1:
            raise ConnectError("connection refused")
        return await call_next(request)

    async with on_sim("bybit", rewrite=refuse_first) as v:
        asked = bids(v, 2)
        results = await v.ex.place_orders(asked)
        assert len(v.wire.batches) == 2 and [type(r) for r in results] == [Order, Order]
        assert all(on_engine(v, o.client_order_id or "") == 1 for o in asked)


async def test_an_order_answered_with_a_server_failure_code_is_looked_up() -> None:
    """retExtInfo 170146 "Order creation timeout" for a placed order: it may exist, so it is found, not refused."""
    async def timeout_code(request: Request, call_next: Service, attempt: int) -> Response:
        response = await call_next(request)
        body = orjson.loads(response.body)
        body["retExtInfo"]["list"][0] = {"code": 170146, "msg": "Order creation timeout"}
        return Response(status=response.status, headers=response.headers, body=orjson.dumps(body))

    async with on_sim("bybit", rewrite=timeout_code) as v:
        asked = bids(v, 2)
        results = await v.ex.place_orders(asked)
        assert [type(r) for r in results] == [Order, Order]
        assert results[0].order_id == str(v.engine.find("user", SYMBOL, client_id="lvl-0").order_id)


async def test_an_empty_list_sends_nothing() -> None:
    """No orders: an empty list back, no request."""
    async with on_sim("bybit") as v:
        assert await v.ex.place_orders([]) == []
        assert v.wire.batches == []


async def test_client_ids_are_generated_and_a_repeated_one_is_refused_before_sending() -> None:
    """Orders without a client id get one each; a client id twice in one call is a ConfigError in its second slot."""
    async with on_sim("bybit") as v:
        first, second = bids(v, 2)
        anonymous = NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=QTY,
                             price=first.price)
        results = await v.ex.place_orders([anonymous, first, first, second])
        assert isinstance(results[0], Order) and results[0].client_order_id
        assert isinstance(results[2], ConfigError) and "lvl-0" in str(results[2])
        assert [b["orderLinkId"] for b in v.wire.batches[0]] == [results[0].client_order_id, "lvl-0", "lvl-1"]


async def test_binance_places_each_order_concurrently_each_slot_its_own_result() -> None:
    """No REST batch on Binance spot: one place_order per order, in flight together, the refused one typed."""
    async with on_sim("binance") as v:
        first, last = bids(v, 2)
        results = await v.ex.place_orders([first, too_big(v, "big-1"), last, first])
        assert [type(r) for r in results] == [Order, InsufficientBalance, Order, ConfigError]
        assert [r.client_order_id for r in (results[0], results[2])] == ["lvl-0", "lvl-1"]
        assert v.wire.placements == 3 and v.wire.most_in_flight == 3
        assert on_engine(v, "lvl-0") == 1
        assert await v.ex.place_orders([]) == []


@pytest.mark.parametrize("name", ["bybit", "binance"])
async def test_errors_in_slots_hold_no_secret(name: str) -> None:
    """Neither the API key nor the secret appears in a slot's error, refused or ambiguous."""
    async def lose_all(request: Request, call_next: Service, attempt: int) -> Response:
        raise Timeout("the answer never came")

    async with on_sim(name) as refused, on_sim("bybit", rewrite=lose_all) as lost:
        errors = [r for r in await refused.ex.place_orders([too_big(refused, "big-1")])
                  + await lost.ex.place_orders(bids(lost, 1)) if isinstance(r, LotusXError)]
        assert len(errors) == 2
        for error in errors:
            for secret in (*refused.secrets, *lost.secrets):
                assert secret not in str(error) and secret not in repr(error)


async def test_an_order_whose_lookup_fails_is_ambiguous_with_the_lookups_error_as_cause() -> None:
    """The batch's answer lost, and the lookup failing too: AmbiguousOrderState, never a refusal."""
    async with on_sim("bybit", outer=lookups_down()) as v:
        [result] = await v.ex.place_orders(bids(v, 1))
        assert isinstance(result, AmbiguousOrderState) and result.client_order_id == "lvl-0"
        assert isinstance(result.__cause__, ServerError)
        counted = v.ex.metrics.ambiguous_orders.labels("bybit", "order_create_batch", "batch_lookup_failed")
        assert counted._value.get() == 1


async def test_an_answer_whose_lists_do_not_match_the_request_is_looked_up() -> None:
    """One result row short of the orders sent: the answer cannot say which is which, so each is found by its id."""
    async def short(request: Request, call_next: Service, attempt: int) -> Response:
        response = await call_next(request)
        body = orjson.loads(response.body)
        body["result"]["list"].pop()
        return Response(status=response.status, headers=response.headers, body=orjson.dumps(body))

    async with on_sim("bybit", rewrite=short) as v:
        results = await v.ex.place_orders(bids(v, 2))
        assert [r.client_order_id for r in results] == ["lvl-0", "lvl-1"]
        assert sorted(v.wire.lookups) == ["lvl-0", "lvl-1"]


async def test_an_order_bybit_cannot_send_is_a_config_error_in_its_slot() -> None:
    """A Binance-only self-trade prevention mode: ConfigError in its slot, the others sent."""
    async with on_sim("bybit") as v:
        first, second = bids(v, 2)
        decrement = NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=QTY,
                             price=first.price, client_order_id="dec-1", self_trade_prevention="decrement")
        results = await v.ex.place_orders([first, decrement, second])
        assert [type(r) for r in results] == [Order, ConfigError, Order]
        assert [b["orderLinkId"] for b in v.wire.batches[0]] == ["lvl-0", "lvl-1"]


async def test_a_batch_that_cannot_connect_holds_that_error_in_every_slot() -> None:
    """Never connected, attempts exhausted: every slot the ConnectError (nothing was placed), nothing looked up."""
    async def refuse(request: Request, call_next: Service, attempt: int) -> Response:
        raise ConnectError("connection refused")

    async with on_sim("bybit", rewrite=refuse) as v:
        results = await v.ex.place_orders(bids(v, 2))
        assert [type(r) for r in results] == [ConnectError, ConnectError] and v.wire.lookups == []
        assert len(v.wire.batches) == 3  # the default policy's attempts


async def test_a_duplicate_client_id_naming_another_order_is_that_error_in_its_slot() -> None:
    """110072 for an id an earlier, different order holds: looked up, and DuplicateClientOrderId, not that order."""
    async with on_sim("bybit") as v:
        first = bids(v, 1)[0]
        await v.ex.place_order(first)
        other = NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=QTY * 2,
                         price=first.price, client_order_id="lvl-0")
        [result] = await v.ex.place_orders([other])
        assert isinstance(result, DuplicateClientOrderId) and v.wire.lookups == ["lvl-0"]
        assert on_engine(v, "lvl-0") == 1


async def test_a_layer_failing_outside_the_error_tree_leaves_each_order_ambiguous_with_its_id() -> None:
    """A layer's own error (a bug) during the batch: each slot AmbiguousOrderState raised from it, the ids kept."""
    async def broken(request: Request, call_next: Service, attempt: int) -> Response:
        raise RuntimeError("a bug in a layer")

    async with on_sim("bybit", rewrite=broken) as v:
        asked = bids(v, 2)
        results = await v.ex.place_orders(asked)
        assert [r.client_order_id for r in results] == ["lvl-0", "lvl-1"]
        assert all(isinstance(r, AmbiguousOrderState) and isinstance(r.__cause__, RuntimeError) for r in results)
        assert len(v.wire.batches) == 1

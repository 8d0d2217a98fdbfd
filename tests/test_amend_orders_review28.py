"""amend_orders: many open orders given a new price and/or quantity in one call, one result per order.

Bybit (spot and linear) sends POST /v5/order/amend-batch requests of at most the category's
batch size; Binance spot has no batch amend and amends each through amend_order, concurrently.
Against the embedded simulator over loopback, with the venue and helpers of
test_place_orders_review27 (its Wire watching the amend-batch endpoint).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import lotusx
from lotusx.kernel.errors import AmbiguousOrderState, AmbiguousOutcome, ConfigError, NotFound, ServerError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.models import Amend, Order
from lotusx.sim.venue import USER
from tests.test_amend_order_review26 import hit, inside_spread
from tests.test_cancel_orders_review28 import middle_gone, resting
from tests.test_place_orders_review27 import QTY, SYMBOL, Venue, bybits, chunked, first_only, lookups_down, on_sim

AMEND_BATCH = "/v5/order/amend-batch"
REALTIME = "/v5/order/realtime"


def lower(v: Venue, order: Order, ticks: int = 1) -> Decimal:
    """``order``'s price ``ticks`` ticks lower."""
    return order.price - ticks * v.engine.markets[SYMBOL].tick


def engine_price(v: Venue, cid: str) -> Decimal:
    """The price the venue's engine has the order of ``cid`` resting at."""
    price = v.engine.find("user", SYMBOL, client_id=cid).price
    assert price is not None
    return price


@bybits
async def test_every_order_named_is_amended_in_one_request(name: str, category: str) -> None:
    """Three open orders, each a tick lower: one amend-batch, each slot its order at its new price, ids kept."""
    async with on_sim(name, category, batch=AMEND_BATCH) as v:
        placed = await resting(v, 3)
        results = await v.ex.amend_orders(SYMBOL, [Amend(order_id=o.order_id, price=lower(v, o)) for o in placed])
        assert [(r.order_id, r.price, r.status) for r in results] == [(o.order_id, lower(v, o), "NEW") for o in placed]
        assert [engine_price(v, f"lvl-{n}") for n in range(3)] == [lower(v, o) for o in placed]
        assert len(v.wire.batches) == 1


@bybits
async def test_the_amended_orders_of_a_request_are_read_back_by_one_listing(name: str, category: str) -> None:
    """Five amends cost the amend-batch and one open-orders listing, never a read per order."""
    async with on_sim(name, category, batch=AMEND_BATCH) as v:
        placed = await resting(v, 5)
        v.wire.requests.clear()
        results = await v.ex.amend_orders(SYMBOL, [Amend(client_order_id=o.client_order_id, price=lower(v, o, 2))
                                                   for o in placed])
        assert [(r.order_id, r.price, r.quantity, r.status) for r in results] == [
            (o.order_id, lower(v, o, 2), o.quantity, "NEW") for o in placed]
        assert v.wire.requests == [f"POST {AMEND_BATCH}", f"GET {REALTIME}"] and v.wire.lookups == []


async def test_an_order_filled_between_the_amend_and_the_listing_is_read_back_by_its_id() -> None:
    """The middle bid amended into the spread and hit before the listing: read back alone, FILLED at its price."""
    hits: list[tuple[Venue, Decimal]] = []  # the venue, and the price the market maker sells at

    async def hit_after(request: Request, call_next: Service, attempt: int) -> Response:
        response = await call_next(request)
        hit(*hits[0], str(QTY))
        return response

    async with on_sim("bybit", rewrite=hit_after, batch=AMEND_BATCH) as v:
        first, middle, last = await resting(v, 3)
        inside = inside_spread(v)
        hits.append((v, inside))
        v.wire.requests.clear()
        results = await v.ex.amend_orders(SYMBOL, [Amend(order_id=first.order_id, price=lower(v, first)),
                                                   Amend(order_id=middle.order_id, price=inside),
                                                   Amend(order_id=last.order_id, price=lower(v, last))])
        assert [(r.order_id, r.status) for r in results] == [(first.order_id, "NEW"), (middle.order_id, "FILLED"),
                                                             (last.order_id, "NEW")]
        assert (results[1].price, results[1].filled_quantity) == (inside, QTY)
        assert v.wire.requests[:2] == [f"POST {AMEND_BATCH}", f"GET {REALTIME}"]
        assert v.wire.requests[2:] in ([f"GET {REALTIME}"], [f"GET {REALTIME}", "GET /v5/order/history"])


async def test_a_failed_listing_leaves_each_accepted_amend_ambiguous_outcome() -> None:
    """The amend-batch accepted, the open-orders listing failing: AmbiguousOutcome in each accepted slot."""
    async def listing_down(request: Request, call_next: Service) -> Response:
        if request.path == REALTIME and not {"orderId", "orderLinkId"} & dict(request.query).keys():
            raise ServerError("the list is down")
        return await call_next(request)

    async with on_sim("bybit", outer=listing_down, batch=AMEND_BATCH) as v:
        first, *_ = await middle_gone(v)
        results = await v.ex.amend_orders(SYMBOL, [Amend(client_order_id=f"lvl-{n}", price=lower(v, first, 5))
                                                   for n in range(3)])
        assert [type(r) for r in results] == [AmbiguousOutcome, NotFound, AmbiguousOutcome]
        assert "accepted" in str(results[0]) and isinstance(results[0].__cause__, ServerError)
        assert engine_price(v, "lvl-2") == lower(v, first, 5)



@bybits
async def test_an_order_already_gone_is_not_found_in_its_slot_and_the_others_are_amended(name: str,
                                                                                      category: str) -> None:
    """The middle order cancelled before: NotFound in its slot, the first and last amended to a new quantity."""
    async with on_sim(name, category, batch=AMEND_BATCH) as v:
        first, _, last = await middle_gone(v)
        bigger = first.quantity * 2
        results = await v.ex.amend_orders(SYMBOL, [Amend(client_order_id=f"lvl-{n}", quantity=bigger)
                                                   for n in range(3)])
        assert [type(r) for r in results] == [Order, NotFound, Order]
        assert [(r.client_order_id, r.quantity) for r in (results[0], results[2])] == [("lvl-0", bigger),
                                                                                       ("lvl-2", bigger)]
        assert v.wire.lookups == [] and (first.order_id, last.order_id) == (results[0].order_id, results[2].order_id)


@chunked
async def test_more_orders_than_one_request_holds_are_split_in_order(name: str, category: str,
                                                                      sizes: list[int]) -> None:
    """12 orders: spot's 10 a request, linear's 5, every one amended, results in the order asked."""
    async with on_sim(name, category, batch=AMEND_BATCH) as v:
        placed = await resting(v, 12)
        results = await v.ex.amend_orders(SYMBOL, [Amend(order_id=o.order_id, price=lower(v, o, 20)) for o in placed])
        assert [len(batch) for batch in v.wire.batches] == sizes
        assert [(r.order_id, r.price) for r in results] == [(o.order_id, lower(v, o, 20)) for o in placed]


@bybits
async def test_a_lost_answer_is_looked_up_by_id_never_sent_again(name: str, category: str) -> None:
    """The venue amends the batch and the answer is lost: each order found resting as asked, the batch sent once."""
    async with on_sim(name, category, batch=AMEND_BATCH, lose={1}) as v:
        placed = await resting(v, 3)
        results = await v.ex.amend_orders(SYMBOL, [Amend(client_order_id=o.client_order_id, price=lower(v, o))
                                                   for o in placed])
        assert len(v.wire.batches) == 1 and sorted(v.wire.lookups) == ["lvl-0", "lvl-1", "lvl-2"]
        assert [(r.client_order_id, r.price) for r in results] == [(o.client_order_id, lower(v, o)) for o in placed]


async def test_orders_not_as_asked_after_a_lost_answer_are_ambiguous_not_reported_either_way() -> None:
    """Only the first amend reached the venue, then a timeout: it is amended, the two left as they were ambiguous."""
    async with on_sim("bybit", outer=first_only(AMEND_BATCH), batch=AMEND_BATCH) as v:
        placed = await resting(v, 3)
        results = await v.ex.amend_orders(SYMBOL, [Amend(client_order_id=o.client_order_id, price=lower(v, o))
                                                   for o in placed])
        assert isinstance(results[0], Order) and results[0].price == lower(v, placed[0])
        assert [(type(r), getattr(r, "client_order_id", None)) for r in results[1:]] == [
            (AmbiguousOrderState, "lvl-1"), (AmbiguousOrderState, "lvl-2")]
        assert engine_price(v, "lvl-1") == placed[1].price
        counted = v.ex.metrics.ambiguous_orders.labels("bybit", "order_amend_batch", "batch_still_open")
        assert counted._value.get() == 2


async def test_an_order_whose_lookup_fails_is_ambiguous_with_the_lookups_error_as_cause() -> None:
    """The answer lost and the lists down: AmbiguousOrderState naming the order id asked, never a refusal."""
    async with on_sim("bybit", outer=lookups_down(AMEND_BATCH), batch=AMEND_BATCH) as v:
        [placed] = await resting(v, 1)
        [result] = await v.ex.amend_orders(SYMBOL, [Amend(order_id=placed.order_id, quantity=placed.quantity * 3)])
        assert isinstance(result, AmbiguousOrderState) and isinstance(result.__cause__, ServerError)
        assert result.order_id == placed.order_id


async def test_an_empty_call_sends_nothing() -> None:
    """No amends: an empty list back, no request."""
    async with on_sim("bybit", batch=AMEND_BATCH) as v:
        assert await v.ex.amend_orders(SYMBOL, []) == []
        assert v.wire.batches == []


async def test_an_order_named_twice_is_a_config_error_in_its_later_slot() -> None:
    """The same client id in two amends: the second a ConfigError naming it, the first sent alone."""
    async with on_sim("bybit", batch=AMEND_BATCH) as v:
        [placed] = await resting(v, 1)
        results = await v.ex.amend_orders(SYMBOL, [Amend(client_order_id="lvl-0", price=lower(v, placed)),
                                                   Amend(client_order_id="lvl-0", price=lower(v, placed, 2))])
        assert [type(r) for r in results] == [Order, ConfigError] and "lvl-0" in str(results[1])
        assert v.wire.batches == [[{"symbol": SYMBOL, "orderLinkId": "lvl-0", "price": str(lower(v, placed))}]]


async def test_binance_amends_each_order_concurrently_each_slot_its_own_result() -> None:
    """No batch amend on Binance spot: one amend_order per order, in flight together, the unknown one NotFound."""
    async with on_sim("binance", single=("POST", "/api/v3/order/cancelReplace")) as v:
        first, last = await resting(v, 2)
        results = await v.ex.amend_orders(SYMBOL, [
            Amend(order_id=first.order_id, price=lower(v, first)), Amend(order_id=999999, price=lower(v, first)),
            Amend(client_order_id="lvl-1", price=lower(v, last)), Amend(order_id=first.order_id, quantity=Decimal(1))])
        assert [type(r) for r in results] == [Order, NotFound, Order, ConfigError]
        assert [r.price for r in (results[0], results[2])] == [lower(v, first), lower(v, last)]
        assert v.wire.placements == 2 and v.wire.most_in_flight == 2
        assert await v.ex.amend_orders(SYMBOL, []) == []


async def test_binance_reads_the_orders_it_replaces_with_one_open_orders_listing() -> None:
    """Three new prices on Binance: one GET /api/v3/openOrders (weight 6) reads them all, not a GET /api/v3/order
    (weight 4) each, then a cancel-replace each."""
    async with on_sim("binance", single=("POST", "/api/v3/order/cancelReplace")) as v:
        placed = await resting(v, 3)
        v.wire.requests.clear()
        results = await v.ex.amend_orders(SYMBOL, [Amend(order_id=o.order_id, price=lower(v, o)) for o in placed])
        assert [(r.price, r.status) for r in results] == [(lower(v, o), "NEW") for o in placed]
        assert sorted(v.wire.requests) == ["GET /api/v3/openOrders", *["POST /api/v3/order/cancelReplace"] * 3]


async def test_binance_amends_read_each_order_alone_when_the_listing_fails() -> None:
    """The open-orders listing refused: each amend reads its own order, as amend_order does, and goes through."""
    async def no_listing(request: Request, call_next: Service) -> Response:
        if request.path == "/api/v3/openOrders":
            raise ServerError("the lists are down")
        return await call_next(request)

    async with on_sim("binance", single=("POST", "/api/v3/order/cancelReplace"), outer=no_listing) as v:
        placed = await resting(v, 2)
        v.wire.requests.clear()
        results = await v.ex.amend_orders(SYMBOL, [Amend(client_order_id=o.client_order_id, price=lower(v, o))
                                                   for o in placed])
        assert [r.price for r in results] == [lower(v, o) for o in placed]
        assert sorted(v.wire.requests) == [*["GET /api/v3/order"] * 2, *["POST /api/v3/order/cancelReplace"] * 2]


async def test_an_order_closed_before_the_listing_whose_read_fails_is_ambiguous_outcome_alone() -> None:
    """The middle order cancelled before the listing and its own read failing: AmbiguousOutcome there only."""
    async def by_id_down(request: Request, call_next: Service) -> Response:
        if request.path in (REALTIME, "/v5/order/history") and "orderId" in dict(request.query):
            raise ServerError("the order's read is down")
        return await call_next(request)

    venues: list[Venue] = []

    async def cancel_after(request: Request, call_next: Service, attempt: int) -> Response:
        response = await call_next(request)
        venues[0].engine.cancel(USER, SYMBOL, client_id="lvl-1")
        return response

    async with on_sim("bybit", outer=by_id_down, rewrite=cancel_after, batch=AMEND_BATCH) as v:
        venues.append(v)
        placed = await resting(v, 3)
        results = await v.ex.amend_orders(SYMBOL, [Amend(order_id=o.order_id, price=lower(v, o)) for o in placed])
        assert [type(r) for r in results] == [Order, AmbiguousOutcome, Order]
        assert placed[1].order_id in str(results[1]) and isinstance(results[1].__cause__, ServerError)


@pytest.mark.parametrize("fields", [{"order_id": 1}, {"order_id": 1, "client_order_id": "a", "price": Decimal(1)},
                                    {"price": Decimal(1)}, {"order_id": 1, "price": 1.5}])
def test_an_amend_that_cannot_be_sent_is_refused_when_made(fields: dict[str, object]) -> None:
    """No new amount, not exactly one id, or a float: a ConfigError from Amend itself, before any call."""
    with pytest.raises(ConfigError):
        lotusx.Amend(**fields)  # type: ignore[arg-type]

"""cancel_orders: many orders cancelled in one call, one result per order, a lost answer never read as done or not.

Bybit (spot and linear) sends POST /v5/order/cancel-batch requests of at most the category's
batch size; Binance spot has no batch cancel of chosen orders and cancels each through
cancel_order, concurrently. Against the embedded simulator over loopback, with the venue and
helpers of test_place_orders_review27 (its Wire watching the cancel-batch endpoint).
"""

from __future__ import annotations

import orjson

from lotusx.kernel.errors import AmbiguousOrderState, ConfigError, NotFound, ServerError, Timeout
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.models import CancelledOrder, Order
from tests.test_place_orders_review27 import (
    SYMBOL,
    Rewrite,
    Venue,
    bids,
    bybits,
    chunked,
    first_only,
    lookups_down,
    on_sim,
)

CANCEL_BATCH = "/v5/order/cancel-batch"


async def resting(v: Venue, count: int, prefix: str = "lvl") -> list[Order]:
    """``count`` bids placed and resting, far below the market."""
    placed = await v.ex.place_orders(bids(v, count, prefix))
    assert all(isinstance(order, Order) for order in placed)
    return placed


async def middle_gone(v: Venue) -> list[Order]:
    """Three bids placed (lvl-0..2), the middle one then cancelled: the three as placed."""
    placed = await resting(v, 3)
    await v.ex.cancel_order(SYMBOL, order_id=placed[1].order_id)
    return placed


def still_open(v: Venue) -> list[str | None]:
    """The client ids of the user's open orders on the venue's engine."""
    return sorted(o.client_id for o in v.engine.orders_of("user") if o.status in ("NEW", "PARTIALLY_FILLED"))


@bybits
async def test_every_order_named_is_cancelled_in_one_request(name: str, category: str) -> None:
    """Three open orders by order id: one cancel-batch, each slot a CancelledOrder with both ids, none left open."""
    async with on_sim(name, category, batch=CANCEL_BATCH) as v:
        placed = await resting(v, 3)
        results = await v.ex.cancel_orders(SYMBOL, order_ids=[o.order_id for o in placed])
        assert results == [CancelledOrder(order_id=o.order_id, client_order_id=o.client_order_id, symbol=SYMBOL)
                           for o in placed]
        assert len(v.wire.batches) == 1 and still_open(v) == []


@bybits
async def test_an_accepted_cancel_is_not_read_back_the_batch_is_the_only_request(name: str, category: str) -> None:
    """Ten cancels (by either id) cost one request: the answer's rows carry both ids, no order is read back."""
    async with on_sim(name, category, batch=CANCEL_BATCH) as v:
        placed = await resting(v, 10)
        v.wire.requests.clear()
        results = await v.ex.cancel_orders(SYMBOL, order_ids=[o.order_id for o in placed[:5]],
                                           client_order_ids=[o.client_order_id for o in placed[5:]])
        assert [(r.order_id, r.client_order_id, r.order) for r in results] == [
            (o.order_id, o.client_order_id, None) for o in placed]
        assert v.wire.requests == [f"POST {CANCEL_BATCH}"] * (2 if category == "linear" else 1)
        assert still_open(v) == []


@bybits
async def test_an_order_already_gone_is_not_found_in_its_slot_and_the_others_are_cancelled(name: str,
                                                                                        category: str) -> None:
    """The middle order cancelled before: NotFound in its slot, the first and last cancelled."""
    async with on_sim(name, category, batch=CANCEL_BATCH) as v:
        await middle_gone(v)
        results = await v.ex.cancel_orders(SYMBOL, client_order_ids=["lvl-0", "lvl-1", "lvl-2"])
        assert [type(r) for r in results] == [CancelledOrder, NotFound, CancelledOrder]
        assert [r.client_order_id for r in (results[0], results[2])] == ["lvl-0", "lvl-2"]
        assert v.wire.lookups == [] and still_open(v) == []


@chunked
async def test_more_orders_than_one_request_holds_are_split_in_order(name: str, category: str,
                                                                      sizes: list[int]) -> None:
    """12 orders: spot's 10 a request, linear's 5, every one cancelled, results in the order asked."""
    async with on_sim(name, category, batch=CANCEL_BATCH) as v:
        placed = await resting(v, 12)
        results = await v.ex.cancel_orders(SYMBOL, order_ids=[o.order_id for o in placed])
        assert [len(batch) for batch in v.wire.batches] == sizes
        assert [r.order_id for r in results] == [o.order_id for o in placed]
        assert still_open(v) == []


@bybits
async def test_a_lost_answer_is_looked_up_by_id_never_sent_again(name: str, category: str) -> None:
    """The venue cancels the batch and the answer is lost: each order found CANCELED (its CancelledOrder's order),
    the batch sent once."""
    async with on_sim(name, category, batch=CANCEL_BATCH, lose={1}) as v:
        await resting(v, 3)
        results = await v.ex.cancel_orders(SYMBOL, client_order_ids=["lvl-0", "lvl-1", "lvl-2"])
        assert len(v.wire.batches) == 1 and sorted(v.wire.lookups) == ["lvl-0", "lvl-1", "lvl-2"]
        assert [(r.client_order_id, r.order.client_order_id, r.order.status) for r in results] == [
            (cid, cid, "CANCELED") for cid in ("lvl-0", "lvl-1", "lvl-2")]


async def test_orders_still_open_after_a_lost_answer_are_ambiguous_not_reported_either_way() -> None:
    """Only the first cancel reached the venue, then a timeout: it is CANCELED, the two open AmbiguousOrderState."""
    async with on_sim("bybit", outer=first_only(CANCEL_BATCH), batch=CANCEL_BATCH) as v:
        await resting(v, 3)
        results = await v.ex.cancel_orders(SYMBOL, client_order_ids=["lvl-0", "lvl-1", "lvl-2"])
        assert isinstance(results[0], CancelledOrder) and results[0].order and results[0].order.status == "CANCELED"
        assert [(type(r), getattr(r, "client_order_id", None)) for r in results[1:]] == [
            (AmbiguousOrderState, "lvl-1"), (AmbiguousOrderState, "lvl-2")]
        assert isinstance(results[1].__cause__, Timeout) and still_open(v) == ["lvl-1", "lvl-2"]
        counted = v.ex.metrics.ambiguous_orders.labels("bybit", "order_cancel_batch", "batch_still_open")
        assert counted._value.get() == 2


async def test_an_order_named_by_id_whose_lookup_fails_is_ambiguous_naming_that_id() -> None:
    """Answer lost, lists down: AmbiguousOrderState carrying the order id asked, the lookup's error its cause."""
    async with on_sim("bybit", outer=lookups_down(CANCEL_BATCH), batch=CANCEL_BATCH) as v:
        [placed] = await resting(v, 1)
        [result] = await v.ex.cancel_orders(SYMBOL, order_ids=[placed.order_id])
        assert isinstance(result, AmbiguousOrderState) and isinstance(result.__cause__, ServerError)
        assert result.order_id == placed.order_id and placed.order_id in str(result)


async def test_accepted_cancels_need_no_list_the_lists_being_down_changes_nothing() -> None:
    """The batch accepted and the order lists down: each slot its CancelledOrder all the same, never an error."""
    async def unreadable(request: Request, call_next: Service) -> Response:
        if request.path in ("/v5/order/realtime", "/v5/order/history"):
            raise ServerError("the lists are down")
        return await call_next(request)

    async with on_sim("bybit", outer=unreadable, batch=CANCEL_BATCH) as v:
        placed = await resting(v, 2)
        results = await v.ex.cancel_orders(SYMBOL, client_order_ids=["lvl-0", "lvl-1"])
        assert [(r.order_id, r.client_order_id) for r in results] == [(o.order_id, o.client_order_id) for o in placed]
        assert still_open(v) == []


async def test_an_empty_call_sends_nothing() -> None:
    """No ids: an empty list back, no request."""
    async with on_sim("bybit", batch=CANCEL_BATCH) as v:
        assert await v.ex.cancel_orders(SYMBOL) == []
        assert v.wire.batches == []


async def test_an_id_given_twice_is_a_config_error_in_its_later_slot() -> None:
    """order_ids' slots first, then client_order_ids'; a repeated id is a ConfigError, sent once."""
    async with on_sim("bybit", batch=CANCEL_BATCH) as v:
        first, second = await resting(v, 2)
        results = await v.ex.cancel_orders(SYMBOL, order_ids=[first.order_id, first.order_id],
                                           client_order_ids=["lvl-1", "lvl-1"])
        assert [type(r) for r in results] == [CancelledOrder, ConfigError, CancelledOrder, ConfigError]
        assert first.order_id in str(results[1]) and "lvl-1" in str(results[3])
        assert [r.order_id for r in (results[0], results[2])] == [first.order_id, second.order_id]
        assert len(v.wire.batches[0]) == 2


async def test_binance_cancels_each_order_concurrently_each_slot_its_own_result() -> None:
    """No batch cancel on Binance spot: one cancel_order per order, in flight together, each CancelledOrder holding
    the order cancel_order returned, the unknown one NotFound."""
    async with on_sim("binance", single=("DELETE", "/api/v3/order")) as v:
        first, last = await resting(v, 2)
        results = await v.ex.cancel_orders(SYMBOL, order_ids=[first.order_id, "999999", last.order_id,
                                                              first.order_id])
        assert [type(r) for r in results] == [CancelledOrder, NotFound, CancelledOrder, ConfigError]
        done = (results[0], results[2])
        assert [(r.order_id, r.client_order_id, r.order.order_id, r.order.status) for r in done] == [
            (o.order_id, o.client_order_id, o.order_id, "CANCELED") for o in (first, last)]
        assert v.wire.placements == 3 and v.wire.most_in_flight == 3 and still_open(v) == []
        assert await v.ex.cancel_orders(SYMBOL) == []


def first_row_named(cid: str) -> Rewrite:
    """A rewrite: the venue's answer, its first row's orderLinkId replaced by ``cid``."""
    async def rename(request: Request, call_next: Service, attempt: int) -> Response:
        response = await call_next(request)
        body = orjson.loads(response.body)
        body["result"]["list"][0]["orderLinkId"] = cid
        return Response(status=response.status, headers=response.headers, body=orjson.dumps(body))
    return rename


async def test_an_acceptance_naming_another_order_is_looked_up_not_taken_as_done() -> None:
    """Code 0 but the row names another order: the one asked is looked up by its id and found as it is."""
    async with on_sim("bybit", rewrite=first_row_named("someone-else"), batch=CANCEL_BATCH) as v:
        await resting(v, 1)
        [result] = await v.ex.cancel_orders(SYMBOL, client_order_ids=["lvl-0"])
        assert isinstance(result, CancelledOrder) and result.order is not None
        assert (result.client_order_id, result.order.status) == ("lvl-0", "CANCELED")
        assert v.wire.lookups == ["lvl-0"]


async def test_a_row_leaving_the_client_id_empty_keeps_the_client_id_asked() -> None:
    """Code 0, the row's orderLinkId empty: the CancelledOrder carries the client id the cancel named."""
    async with on_sim("bybit", rewrite=first_row_named(""), batch=CANCEL_BATCH) as v:
        [placed] = await resting(v, 1)
        assert await v.ex.cancel_orders(SYMBOL, client_order_ids=["lvl-0"]) == [
            CancelledOrder(order_id=placed.order_id, client_order_id="lvl-0", symbol=SYMBOL)]
        assert v.wire.lookups == []

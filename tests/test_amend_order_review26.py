"""amend_order: a requote without a cancel and a place, on Binance spot and Bybit spot and linear.

Against the embedded simulator over loopback: Binance lowers a quantity in place
(PUT /api/v3/order/amend/keepPriority) and does anything else by POST /api/v3/order/cancelReplace
(a new order id); Bybit amends in place (POST /v5/order/amend), the ids kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

import lotusx
from lotusx.kernel.errors import (
    AmbiguousOrderState,
    AmbiguousOutcome,
    ConfigError,
    InvalidRequest,
    NotFound,
    OrderRejected,
    Timeout,
)
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, around
from lotusx.models import NewOrder, Order
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Engine
from lotusx.sim.venue import MAKER, USER
from lotusx.testing import FakeTransport
from tests.conftest import eventually
from tests.sim.sim_helpers import Binance as SignedBinance
from tests.sim.sim_helpers import answer_lost_if, watching_orders

QUIET = SimConfig(driver_rate=0, depth_interval=0.05)  # no random flow: only the test's orders move
SYMBOL, OTHER = "BTCUSDT", "ETHUSDT"
QTY = Decimal("0.01")
AMEND = {"binance": ("POST", "/api/v3/order/cancelReplace"), "bybit": ("POST", "/v5/order/amend")}
KEEP = ("PUT", "/api/v3/order/amend/keepPriority")
VENUES = [("binance", "binance", "spot"), ("bybit", "bybit", "spot"), ("bybit-linear", "bybit", "linear")]
venues = pytest.mark.parametrize(("name", "sim_venue", "category"), VENUES, ids=[v[0] for v in VENUES])


@dataclass
class Attempts:
    """An inner layer counting the amends' wire attempts; ``lose_first`` cuts the first one's answer."""

    sim: Sim
    venue: str
    lose_first: bool = False
    sent: list[tuple[str, str]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    before: Callable[[int], None] | None = None  # called with the attempt's number (1, 2...) before it goes out

    async def __call__(self, request: Request, call_next: Service) -> Response:
        if (request.method, request.path) not in (AMEND[self.venue], KEEP):
            return await call_next(request)
        self.sent.append((request.method, request.path))
        self.queries.append(dict(request.query))
        if self.before is not None:
            self.before(len(self.sent))
        # The venue carries the first attempt out, then cuts the connection without answering it.
        return await answer_lost_if(self.lose_first and len(self.sent) == 1, self.sim, self.venue,
                                    request, call_next)


@dataclass
class Venue:
    ex: Any
    sim: Sim
    engine: Engine
    attempts: Attempts
    secrets: tuple[str, str]


@asynccontextmanager
async def on_sim(name: str, sim_venue: str, category: str = "spot", *, lose_first: bool = False
                 ) -> AsyncIterator[Venue]:
    async with serve((sim_venue,), seed=1, config=QUIET) as sim:
        keys = sim.api_keys(sim_venue)
        attempts = Attempts(sim, sim_venue, lose_first)
        async with lotusx.connect(name, credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(sim_venue), ws_url=sim.ws_url(sim_venue),
                                  inner=[around(attempts)]) as ex:
            yield Venue(ex, sim, sim.engine(sim_venue, category), attempts, (keys.hmac_key, keys.hmac_secret))


def far_bid(v: Venue) -> Decimal:
    """A bid far below the market, where nothing trades."""
    return (v.engine.books[SYMBOL].prices("BUY")[0] / 2).quantize(v.engine.markets[SYMBOL].tick)


async def bid(v: Venue, cid: str, price: Decimal | None = None, kind: str = "LIMIT", symbol: str = SYMBOL) -> Order:
    price = price or far_bid(v)
    return await v.ex.place_order(NewOrder(symbol=symbol, side="BUY", type=kind,  # type: ignore[arg-type]
                                           time_in_force="GTC" if kind == "LIMIT" else None, quantity=QTY,
                                           price=price, client_order_id=cid))


def queue(v: Venue, price: Decimal) -> list[str]:
    """The client ids resting at ``price`` on the bid side, first in line first."""
    return [o.client_id for o in v.engine.books[SYMBOL].side("BUY").get(price, [])]


async def test_binance_a_lower_quantity_keeps_the_order_id_and_its_place_in_the_queue() -> None:
    """keepPriority: the same order id and client id, the new quantity, still first in its level."""
    async with on_sim("binance", "binance") as v:
        first = await bid(v, "keep-1")
        await bid(v, "keep-2", first.price)
        amended = await v.ex.amend_order(SYMBOL, client_order_id="keep-1", quantity=Decimal("0.004"))
        assert (amended.order_id, amended.client_order_id) == (first.order_id, "keep-1")
        assert (amended.quantity, amended.price, amended.status) == (Decimal("0.004"), first.price, "NEW")
        assert queue(v, first.price) == ["keep-1", "keep-2"]
        assert v.attempts.sent == [KEEP]


async def test_binance_a_new_price_replaces_the_order_under_a_new_id() -> None:
    """cancelReplace: the old order CANCELED, a new one (new order and client id) rests at the new price."""
    async with on_sim("binance", "binance") as v:
        old = await bid(v, "move-1")
        price = old.price + 1
        new = await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=price)
        assert new.order_id != old.order_id and new.client_order_id != old.client_order_id
        assert (new.price, new.quantity, new.side, new.type, new.status) == (price, QTY, "BUY", "LIMIT", "NEW")
        assert v.engine.find(USER, SYMBOL, int(old.order_id)).status == "CANCELED"
        assert queue(v, price) == [new.client_order_id]


async def test_binance_a_larger_quantity_goes_by_cancel_replace() -> None:
    """keepPriority refuses an increase (-2038): the amend falls back to a cancel-replace."""
    async with on_sim("binance", "binance") as v:
        old = await bid(v, "grow-1")
        new = await v.ex.amend_order(SYMBOL, client_order_id="grow-1", quantity=Decimal("0.02"))
        assert new.order_id != old.order_id and new.quantity == Decimal("0.02")
        assert v.attempts.sent == [KEEP, AMEND["binance"]]


@pytest.mark.parametrize(("name", "category"), [("bybit", "spot"), ("bybit-linear", "linear")])
async def test_bybit_a_new_price_keeps_the_ids_and_goes_to_the_back_of_the_level(name: str, category: str) -> None:
    """POST /v5/order/amend: ids kept, the new price, behind the order already resting there."""
    async with on_sim(name, "bybit", category) as v:
        mine = await bid(v, "by-1")
        there = await bid(v, "by-2", mine.price + 1)
        amended = await v.ex.amend_order(SYMBOL, order_id=mine.order_id, price=there.price)
        assert (amended.order_id, amended.client_order_id) == (mine.order_id, "by-1")
        assert (amended.price, amended.quantity, amended.status) == (there.price, QTY, "NEW")
        assert queue(v, there.price) == ["by-2", "by-1"]
        assert v.attempts.sent == [AMEND["bybit"]]


@pytest.mark.parametrize(("name", "category"), [("bybit", "spot"), ("bybit-linear", "linear")])
async def test_bybit_a_lower_quantity_keeps_the_place_in_the_queue(name: str, category: str) -> None:
    """A quantity lowered at the same price stays first in line."""
    async with on_sim(name, "bybit", category) as v:
        first = await bid(v, "q-1")
        await bid(v, "q-2", first.price)
        amended = await v.ex.amend_order(SYMBOL, client_order_id="q-1", quantity=Decimal("0.005"))
        assert (amended.order_id, amended.quantity) == (first.order_id, Decimal("0.005"))
        assert v.engine.find(USER, SYMBOL, client_id="q-1").quantity == Decimal("0.005")
        assert queue(v, first.price) == ["q-1", "q-2"]


@venues
async def test_a_crossing_price_trades_as_a_taker(name: str, sim_venue: str, category: str) -> None:
    """A bid amended above the best ask fills against it, as a new order at that price would."""
    async with on_sim(name, sim_venue, category) as v:
        mine = await bid(v, "cross-1")
        ask = v.engine.books[SYMBOL].prices("SELL")[0]
        there = v.engine.books[SYMBOL].level_qty("SELL", ask)
        await v.ex.amend_order(SYMBOL, client_order_id="cross-1" if name != "binance" else None,
                               order_id=mine.order_id if name == "binance" else None, price=ask)
        [order] = [o for o in v.engine.orders_of(USER, SYMBOL) if o.status != "CANCELED"]
        assert order.filled == min(QTY, there) > 0


@venues
async def test_an_unknown_order_is_not_found(name: str, sim_venue: str, category: str) -> None:
    """An order id the venue does not know is NotFound, on the price path and the quantity path alike."""
    async with on_sim(name, sim_venue, category) as v:
        with pytest.raises(NotFound):
            await v.ex.amend_order(SYMBOL, order_id="987654", price=Decimal("100"))
        with pytest.raises(NotFound):
            await v.ex.amend_order(SYMBOL, client_order_id="nobody", quantity=Decimal("0.001"))


@venues
async def test_a_filled_order_is_not_found(name: str, sim_venue: str, category: str) -> None:
    """An order already filled cannot be amended: NotFound, and nothing new is placed."""
    async with on_sim(name, sim_venue, category) as v:
        ask = v.engine.books[SYMBOL].prices("SELL")[0]
        taken = await bid(v, "done-1", (ask * Decimal("1.01")).quantize(v.engine.markets[SYMBOL].tick))
        assert v.engine.find(USER, SYMBOL, client_id="done-1").status == "FILLED"
        placed = len(v.engine.orders_of(USER))
        with pytest.raises(NotFound):
            await v.ex.amend_order(SYMBOL, order_id=taken.order_id, price=far_bid(v))
        assert len(v.engine.orders_of(USER)) == placed


BAD = [({"order_id": 1, "client_order_id": "x", "price": Decimal(1)}, "exactly one"),
       ({"price": Decimal(1)}, "exactly one"),
       ({"order_id": 1}, "price or a new quantity"),
       ({"order_id": 1, "price": 50000.5}, "float"),
       ({"order_id": 1, "quantity": Decimal(0)}, "positive"),
       ({"order_id": 1, "quantity": Decimal("-1")}, "positive"),
       ({"order_id": 1, "price": Decimal("NaN")}, "positive"),
       ({"order_id": 1, "price": "50000"}, "Decimal")]


@pytest.mark.parametrize("name", ["binance", "bybit", "bybit-linear"])
@pytest.mark.parametrize(("kwargs", "says"), BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
async def test_bad_arguments_are_a_config_error_and_nothing_is_sent(name: str, kwargs: dict[str, Any],
                                                                     says: str) -> None:
    """Both ids or none, no amount, a float, zero, negative or non-Decimal amount: ConfigError, no request."""
    transport = FakeTransport(lambda request: Response(status=500))
    async with lotusx.connect(name, credentials=lotusx.Credentials("amend-key-0001", "amend-secret-0001"),
                              transport=transport) as ex:
        with pytest.raises(ConfigError, match=says):
            await ex.amend_order(SYMBOL, **kwargs)
    assert transport.requests == []


async def test_binance_a_refused_new_order_says_the_original_was_cancelled() -> None:
    """-2021: the cancel went through, the new LIMIT_MAKER would take: OrderRejected naming the cancelled original."""
    async with on_sim("binance", "binance") as v:
        maker = await bid(v, "pm-1", kind="LIMIT_MAKER")
        ask = v.engine.books[SYMBOL].prices("SELL")[0]
        with pytest.raises(OrderRejected) as caught:
            await v.ex.amend_order(SYMBOL, order_id=maker.order_id, price=ask)
        assert caught.value.code == -2021
        assert f"original order {maker.order_id} was CANCELLED" in str(caught.value)
        assert "would immediately match and take" in str(caught.value)
        assert [o.status for o in v.engine.orders_of(USER, SYMBOL)] == ["CANCELED"]
        assert not any(secret in f"{caught.value!s} {caught.value!r}" for secret in v.secrets)


@pytest.mark.parametrize(("name", "category"), [("bybit", "spot"), ("bybit-linear", "linear")])
async def test_bybit_a_post_only_amend_that_would_take_is_cancelled(name: str, category: str) -> None:
    """A PostOnly moved across the book is cancelled by the venue, as a crossing PostOnly placement is."""
    async with on_sim(name, "bybit", category) as v:
        maker = await bid(v, "pm-2", kind="LIMIT_MAKER")
        ask = v.engine.books[SYMBOL].prices("SELL")[0]
        amended = await v.ex.amend_order(SYMBOL, order_id=maker.order_id, price=ask)
        assert amended.status == "CANCELED"
        assert [o.filled for o in v.engine.orders_of(USER, SYMBOL)] == [0]


async def test_binance_a_lost_cancel_replace_answer_places_no_second_order() -> None:
    """The answer is cut after the venue replaced the order: found by its new client id, never sent again."""
    async with on_sim("binance", "binance", lose_first=True) as v:
        old = await bid(v, "lost-1")
        new = await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=old.price + 1)
        assert v.attempts.sent == [AMEND["binance"]]
        orders = v.engine.orders_of(USER, SYMBOL)
        assert [(str(o.order_id), o.status) for o in orders] == [(old.order_id, "CANCELED"), (new.order_id, "NEW")]
        assert new.price == old.price + 1


async def test_binance_a_lost_keep_priority_answer_is_read_back_as_done() -> None:
    """The re-send after a lost keepPriority answer meets -2038; the order already shows the amend: no error."""
    async with on_sim("binance", "binance", lose_first=True) as v:
        old = await bid(v, "lost-2")
        amended = await v.ex.amend_order(SYMBOL, order_id=old.order_id, quantity=Decimal("0.003"))
        assert v.attempts.sent == [KEEP, KEEP]
        assert (amended.order_id, amended.quantity) == (old.order_id, Decimal("0.003"))
        assert len(v.engine.orders_of(USER)) == 1


@pytest.mark.parametrize(("name", "category"), [("bybit", "spot"), ("bybit-linear", "linear")])
async def test_bybit_a_lost_amend_answer_is_sent_again_harmlessly(name: str, category: str) -> None:
    """Bybit's amend sets absolute values: the re-send after a lost answer sets them again, one order still."""
    async with on_sim(name, "bybit", category, lose_first=True) as v:
        old = await bid(v, "lost-3")
        amended = await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=old.price + 1, quantity=Decimal("0.02"))
        assert v.attempts.sent == [AMEND["bybit"]] * 2
        assert (amended.price, amended.quantity) == (old.price + 1, Decimal("0.02"))
        [order] = v.engine.orders_of(USER)
        assert (order.price, order.quantity, order.status) == (old.price + 1, Decimal("0.02"), "NEW")


async def test_binance_a_cancel_replace_whose_new_order_cannot_be_found_is_ambiguous() -> None:
    """Timed out, and the lookup by the new client id finds nothing: AmbiguousOrderState with that id, one attempt."""
    sent: list[Request] = []

    def venue(request: Request) -> Response:
        sent.append(request)
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        if request.method == "GET" and dict(request.query).get("orderId") == "7":
            return Response(status=200, body=b'{"symbol":"BTCUSDT","orderId":7,"clientOrderId":"a","price":"100",'
                                             b'"origQty":"1","executedQty":"0","status":"NEW","type":"LIMIT",'
                                             b'"side":"BUY","timeInForce":"GTC"}')
        if request.path == AMEND["binance"][1]:
            raise Timeout("no answer")
        return Response(status=400, body=b'{"code":-2013,"msg":"Order does not exist."}')

    async with lotusx.connect("binance", credentials=lotusx.Credentials("amend-key-0001", "amend-secret-0001"),
                              transport=FakeTransport(venue)) as ex:
        with pytest.raises(AmbiguousOrderState) as caught:
            await ex.amend_order(SYMBOL, order_id=7, price=Decimal("101"))
    [replace] = [r for r in sent if r.path == AMEND["binance"][1]]
    assert caught.value.client_order_id == dict(replace.query)["newClientOrderId"]
    assert "amend-secret-0001" not in str(caught.value)


async def test_binance_a_failed_cancel_is_not_found_and_places_nothing() -> None:
    """-2022 with the cancel's -2011: NotFound, the original untouched, no new order."""
    def venue(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        if request.method == "GET":
            return Response(status=200, body=b'{"symbol":"BTCUSDT","orderId":7,"clientOrderId":"a","price":"100",'
                                             b'"origQty":"1","executedQty":"0","status":"NEW","type":"LIMIT",'
                                             b'"side":"BUY","timeInForce":"GTC"}')
        return Response(status=400, body=b'{"code":-2022,"msg":"Order cancel-replace failed.","data":{'
                                         b'"cancelResult":"FAILURE","newOrderResult":"NOT_ATTEMPTED",'
                                         b'"cancelResponse":{"code":-2011,"msg":"Unknown order sent."},'
                                         b'"newOrderResponse":null}}')

    async with lotusx.connect("binance", credentials=lotusx.Credentials("amend-key-0001", "amend-secret-0001"),
                              transport=FakeTransport(venue)) as ex:
        with pytest.raises(NotFound, match="no new order was placed") as caught:
            await ex.amend_order(SYMBOL, order_id=7, price=Decimal("101"))
    assert caught.value.code == -2011


def probe(v: Venue) -> Callable[[int], Awaitable[Order]]:
    """Probe orders for watching_orders: bids far below the market on the other symbol."""
    return lambda n: bid(v, f"probe-{n}", Decimal(1000), symbol=OTHER)


@venues
async def test_watch_orders_sees_the_amend(name: str, sim_venue: str, category: str) -> None:
    """Binance: the old order CANCELED and the new one NEW; Bybit: the order at its new price."""
    async with on_sim(name, sim_venue, category) as v, watching_orders(v.ex, probe(v)) as seen:
        old = await bid(v, "watched-1")
        new = await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=old.price + 1)
        await eventually(lambda: any(o.order_id == new.order_id and o.price == new.price for o in seen),
                         "the amended order on the stream")
        if name == "binance":
            await eventually(lambda: any(o.order_id == old.order_id and o.status == "CANCELED" for o in seen),
                             "the replaced order CANCELED")


async def test_binance_watch_orders_sees_a_quantity_amended_in_place() -> None:
    """keepPriority's REPLACED report carries the new quantity under the same order id."""
    async with on_sim("binance", "binance") as v, watching_orders(v.ex, probe(v)) as seen:
        old = await bid(v, "watched-2")
        await v.ex.amend_order(SYMBOL, order_id=old.order_id, quantity=Decimal("0.002"))
        await eventually(lambda: any(o.order_id == old.order_id and o.quantity == Decimal("0.002") for o in seen),
                         "the smaller quantity on the stream")


@pytest.mark.parametrize(("name", "category"), [("bybit", "spot"), ("bybit-linear", "linear")])
async def test_bybit_a_refused_amend_is_the_venues_error(name: str, category: str) -> None:
    """A price off the tick is refused (10001): the order read back is not as asked, so the refusal stands."""
    async with on_sim(name, "bybit", category) as v:
        mine = await bid(v, "tick-1")
        with pytest.raises(InvalidRequest) as caught:
            await v.ex.amend_order(SYMBOL, order_id=mine.order_id, price=mine.price + Decimal("0.001"))
        assert caught.value.code == 10001
        assert v.engine.find(USER, SYMBOL, client_id="tick-1").price == mine.price


async def test_bybit_an_accepted_amend_whose_read_back_fails_is_ambiguous() -> None:
    """The venue acknowledged the amend, the read-back keeps failing: AmbiguousOutcome saying it was accepted."""
    def venue(request: Request) -> Response:
        if request.path == "/v5/market/time":
            return Response(status=200, body=b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000",'
                                             b'"timeNano":"1700000000000000000"},"time":1700000000000}')
        if request.path == AMEND["bybit"][1]:
            return Response(status=200, body=b'{"retCode":0,"retMsg":"OK","result":{"orderId":"9",'
                                             b'"orderLinkId":"x"},"time":1700000000000}')
        return Response(status=503)

    async with lotusx.connect("bybit", credentials=lotusx.Credentials("amend-key-0001", "amend-secret-0001"),
                              transport=FakeTransport(venue)) as ex:
        with pytest.raises(AmbiguousOutcome, match="accepted the amend of order 9"):
            await ex.amend_order(SYMBOL, order_id=9, price=Decimal("101"))


@pytest.mark.parametrize("code", [110064, 170313])
async def test_bybit_an_amend_refused_by_the_order_rules_is_order_rejected(code: int) -> None:
    """Bybit's documented amend refusals (quantity not above the filled, 170313) are OrderRejected, as Binance's are."""
    def venue(request: Request) -> Response:
        if request.path == "/v5/market/time":
            return Response(status=200, body=b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000",'
                                             b'"timeNano":"1700000000000000000"},"time":1700000000000}')
        if request.path == AMEND["bybit"][1]:
            return Response(status=200, body=b'{"retCode":%d,"retMsg":"refused","result":{},"time":1700000000000}'
                            % code)
        return Response(status=200, body=b'{"retCode":0,"retMsg":"OK","result":{"list":[]},"time":1700000000000}')

    async with lotusx.connect("bybit", credentials=lotusx.Credentials("amend-key-0001", "amend-secret-0001"),
                              transport=FakeTransport(venue)) as ex:
        with pytest.raises(OrderRejected) as caught:
            await ex.amend_order(SYMBOL, order_id=9, quantity=Decimal("1"))
    assert caught.value.code == code


def inside_spread(v: Venue) -> Decimal:
    """A bid price strictly between the best bid and the best ask: only an order resting there trades at it."""
    book = v.engine.books[SYMBOL]
    best_bid, best_ask = book.prices("BUY")[0], book.prices("SELL")[0]
    tick = v.engine.markets[SYMBOL].tick
    assert best_bid + 2 * tick < best_ask
    return best_bid + tick


def hit(v: Venue, price: Decimal, quantity: str) -> None:
    """The market maker sells ``quantity`` at ``price`` (IOC): a fill of the order resting inside the spread."""
    v.engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=Decimal(quantity), price=price, tif="IOC")


def exposure(v: Venue) -> Decimal:
    """What the user's bids on SYMBOL can still buy plus what they bought: filled + open remainder."""
    return sum((o.filled + (o.remaining if o.status in ("NEW", "PARTIALLY_FILLED") else 0)
                for o in v.engine.orders_of(USER, SYMBOL)), Decimal(0))


async def test_binance_quantity_is_the_whole_size_fills_included() -> None:
    """1.0 filled 0.4, amended to 0.8 at a new price: the new order is 0.4, so 0.8 in all (as Bybit's qty)."""
    async with on_sim("binance", "binance") as v:
        price = inside_spread(v)
        old = await bid(v, "whole-1", price)
        hit(v, price, "0.004")
        new = await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=far_bid(v), quantity=Decimal("0.008"))
        assert (new.quantity, new.filled_quantity, new.status) == (Decimal("0.004"), 0, "NEW")
        assert exposure(v) == Decimal("0.008")
        assert v.attempts.queries[0]["quantity"] == "0.004"


async def test_binance_a_quantity_not_above_the_filled_is_refused_and_nothing_is_sent() -> None:
    """An amend to no more than has filled: OrderRejected before any cancel-replace; the order rests as it was."""
    async with on_sim("binance", "binance") as v:
        price = inside_spread(v)
        old = await bid(v, "whole-2", price)
        hit(v, price, "0.004")
        with pytest.raises(OrderRejected, match=r"not above the 0\.0040* already filled: nothing was sent"):
            await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=far_bid(v), quantity=Decimal("0.004"))
        assert v.attempts.sent == []
        order = v.engine.find(USER, SYMBOL, int(old.order_id))
        assert (order.status, order.price, order.quantity) == ("PARTIALLY_FILLED", price, QTY)


@pytest.mark.parametrize(("filled", "restriction"), [(None, "ONLY_NEW"), ("0.003", "ONLY_PARTIALLY_FILLED")])
async def test_binance_the_cancel_is_restricted_to_the_status_read(filled: str | None, restriction: str) -> None:
    """cancelRestrictions names the status the read saw: ONLY_NEW for NEW, ONLY_PARTIALLY_FILLED for a partial fill."""
    async with on_sim("binance", "binance") as v:
        price = inside_spread(v)
        old = await bid(v, "restrict-1", price)
        if filled:
            hit(v, price, filled)
        await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=far_bid(v))
        assert [q["cancelRestrictions"] for q in v.attempts.queries] == [restriction]


async def test_binance_a_fill_between_the_read_and_the_cancel_replace_is_retried_with_fresh_figures() -> None:
    """Read NEW, part filled before the cancel-replace: ONLY_NEW refuses it, a re-read sizes the new order."""
    async with on_sim("binance", "binance") as v:
        price = inside_spread(v)
        old = await bid(v, "race-1", price)
        v.attempts.before = lambda attempt: hit(v, price, "0.004") if attempt == 1 else None
        new = await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=far_bid(v), quantity=QTY)
        assert [q["cancelRestrictions"] for q in v.attempts.queries] == ["ONLY_NEW", "ONLY_PARTIALLY_FILLED"]
        assert new.quantity == Decimal("0.006")
        assert exposure(v) == QTY
        assert v.engine.find(USER, SYMBOL, int(old.order_id)).status == "CANCELED"


async def test_binance_an_order_filled_before_the_cancel_replace_is_not_found_and_nothing_is_placed() -> None:
    """Read NEW, wholly filled before the cancel-replace: NotFound, no new order."""
    async with on_sim("binance", "binance") as v:
        price = inside_spread(v)
        old = await bid(v, "race-2", price)
        v.attempts.before = lambda attempt: hit(v, price, "0.01")
        with pytest.raises(NotFound):
            await v.ex.amend_order(SYMBOL, order_id=old.order_id, price=far_bid(v))
        assert [o.status for o in v.engine.orders_of(USER, SYMBOL)] == ["FILLED"]


RESTRICTED = (b'{"code":-2022,"msg":"Order cancel-replace failed.","data":{"cancelResult":"FAILURE",'
              b'"newOrderResult":"NOT_ATTEMPTED","cancelResponse":{"code":-2011,'
              b'"msg":"Order was not canceled due to cancel restrictions."},"newOrderResponse":null}}')


def read_as(*statuses: str) -> Callable[[Request], Response]:
    """A fake Binance whose GET /api/v3/order answers these statuses in turn (the last one after) and whose
    cancel-replace always meets its cancel restriction."""
    answers = iter(statuses)
    last = statuses[-1]

    def venue(request: Request) -> Response:
        nonlocal last
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        if request.method == "GET":
            last = next(answers, last)
            filled = b"0" if last == "NEW" else b"1" if last == "FILLED" else b"0.5"
            return Response(status=200, body=b'{"symbol":"BTCUSDT","orderId":7,"clientOrderId":"a","price":"100",'
                                             b'"origQty":"1","executedQty":"' + filled + b'","status":"'
                                             + last.encode() + b'","type":"LIMIT","side":"BUY","timeInForce":"GTC"}')
        return Response(status=400, body=RESTRICTED)
    return venue


async def amend_on(transport: FakeTransport) -> None:
    """amend_order(order 7, price 101) on a fake Binance."""
    async with lotusx.connect("binance", credentials=lotusx.Credentials("amend-key-0001", "amend-secret-0001"),
                              transport=transport) as ex:
        await ex.amend_order(SYMBOL, order_id=7, price=Decimal("101"))


def replaces(transport: FakeTransport) -> list[dict[str, str]]:
    """The query of each cancel-replace sent."""
    return [dict(r.query) for r in transport.requests if r.path == AMEND["binance"][1]]


async def test_binance_a_cancel_replace_kept_refused_by_its_restriction_gives_up_after_three_attempts() -> None:
    """The status read keeps being stale (NEW): three cancel-replaces, each re-read, then the venue's refusal."""
    transport = FakeTransport(read_as("NEW"))
    with pytest.raises(InvalidRequest, match="cancel restrictions") as caught:
        await amend_on(transport)
    assert caught.value.code == -2011 and not isinstance(caught.value, NotFound)
    assert [q["cancelRestrictions"] for q in replaces(transport)] == ["ONLY_NEW"] * 3
    assert [r.method for r in transport.requests if r.path == "/api/v3/order"] == ["GET"] * 3


async def test_binance_an_order_found_filled_on_the_re_read_is_not_found() -> None:
    """Refused by its restriction, then read FILLED: NotFound, "nothing to amend", no second cancel-replace."""
    transport = FakeTransport(read_as("NEW", "FILLED"))
    with pytest.raises(NotFound, match="nothing to amend"):
        await amend_on(transport)
    assert len(replaces(transport)) == 1


@asynccontextmanager
async def signed_sim() -> AsyncIterator[tuple[SignedBinance, Engine]]:
    async with serve(("binance",), seed=1, config=QUIET) as sim, aiohttp.ClientSession() as http:
        keys = sim.api_keys("binance")
        yield SignedBinance(http, sim.rest_url("binance"), keys.hmac_key, keys.hmac_secret), sim.engine("binance")


async def sim_cancel_replace(restriction: str) -> tuple[int, dict[str, Any], Engine, int]:
    """A NEW bid, then a cancel-replace of it with ``restriction`` on the sim: HTTP status, answer, engine, order id."""
    async with signed_sim() as (binance, engine):
        price = (engine.books[SYMBOL].prices("BUY")[0] / 2).quantize(engine.markets[SYMBOL].tick)
        placed = engine.place(USER, SYMBOL, "BUY", "LIMIT", quantity=QTY, price=price)
        async with await binance.signed("POST", "/api/v3/order/cancelReplace", symbol=SYMBOL, side="BUY",
                                        type="LIMIT", timeInForce="GTC", quantity="0.01", price=str(price),
                                        cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId=placed.order_id,
                                        cancelRestrictions=restriction) as resp:
            return resp.status, orjson.loads(await resp.read()), engine, placed.order_id


async def test_sim_cancel_replace_refuses_an_unknown_cancel_restriction() -> None:
    """rest-api.md "Regarding cancelRestrictions": a value not supported is -1145 "Invalid cancelRestrictions"."""
    status, body, engine, order_id = await sim_cancel_replace("ONLY_FILLED")
    assert (status, body) == (400, {"code": -1145, "msg": "Invalid cancelRestrictions"})
    assert engine.find(USER, SYMBOL, order_id).status == "NEW"


async def test_sim_cancel_replace_keeps_an_order_whose_status_the_restriction_excludes() -> None:
    """ONLY_PARTIALLY_FILLED on a NEW order: -2022, the cancel's -2011 "cancel restrictions", nothing placed."""
    status, body, engine, _ = await sim_cancel_replace("ONLY_PARTIALLY_FILLED")
    assert (status, body["code"]) == (400, -2022)
    assert body["data"]["cancelResult"] == "FAILURE" and body["data"]["newOrderResult"] == "NOT_ATTEMPTED"
    assert body["data"]["cancelResponse"] == {"code": -2011,
                                              "msg": "Order was not canceled due to cancel restrictions."}
    assert [o.status for o in engine.orders_of(USER, SYMBOL)] == ["NEW"]


async def test_sim_cancel_replace_honours_a_restriction_the_order_meets() -> None:
    """ONLY_NEW on a NEW order: replaced as without it."""
    status, body, engine, _ = await sim_cancel_replace("ONLY_NEW")
    assert (status, body["cancelResult"], body["newOrderResult"]) == (200, "SUCCESS", "SUCCESS")
    assert [o.status for o in engine.orders_of(USER, SYMBOL)] == ["CANCELED", "NEW"]

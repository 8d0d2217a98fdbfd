"""Binance with ``ws_trading=True``: the order calls go over one /ws-api/v3 socket, through the same layers.

Against the embedded simulator over real loopback sockets. The REST transport is wrapped to
record what reached it, so each test can tell which calls went by REST and which did not.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.exchanges.binance import LIMITS, BinanceHmac
from lotusx.kernel.errors import InsufficientBalance, NotFound
from lotusx.kernel.message import Request, Response
from lotusx.models import NewOrder, Order
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Engine
from lotusx.transport import AiohttpRest

SYMBOL = "BTCUSDT"
QTY = Decimal("0.001")
QUIET = SimConfig(driver_rate=0, depth_interval=0.05)  # no random flow: only the test's orders move


@dataclass
class Counted:
    """The REST transport, recording each request that reached it as "METHOD path"."""

    rest: AiohttpRest
    seen: list[str] = field(default_factory=list)

    async def __call__(self, request: Request) -> Response:
        self.seen.append(f"{request.method} {request.path}")
        return await self.rest(request)

    async def aclose(self) -> None:
        await self.rest.aclose()


@dataclass
class Desk:
    ex: Any
    sim: Sim
    engine: Engine
    rest: Counted
    key: str
    secret: str


@asynccontextmanager
async def desk() -> AsyncIterator[Desk]:
    async with serve(("binance",), seed=1, config=QUIET) as sim:
        keys = sim.api_keys("binance")
        rest = Counted(AiohttpRest(sim.rest_url("binance")))
        async with lotusx.connect("binance", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  transport=rest, ws_url=sim.ws_url("binance"), ws_trading=True) as ex:
            yield Desk(ex, sim, sim.engine("binance", "spot"), rest, keys.hmac_key, keys.hmac_secret)


def bid(d: Desk, cid: str, quantity: Decimal = QTY) -> NewOrder:
    """A bid far below the market, where nothing trades."""
    market = d.engine.markets[SYMBOL]
    price = (d.engine.books[SYMBOL].prices("BUY")[0] / 2).quantize(market.tick)
    return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=quantity, price=price,
                    client_order_id=cid)


def by_rest(d: Desk, path: str) -> list[str]:
    return [seen for seen in d.rest.seen if seen.endswith(f" {path}")]


def on_venue(d: Desk, cid: str) -> list[str]:
    """The statuses of the venue's orders carrying client id ``cid``."""
    return [o.status for o in d.engine.orders_of("user") if o.client_id == cid]


async def test_an_order_is_placed_over_the_socket_not_by_rest() -> None:
    """place_order: the order rests on the venue, and no POST /api/v3/order reached the REST transport."""
    async with desk() as d:
        order = await d.ex.place_order(bid(d, "ws-1"))
        assert (order.status, order.client_order_id) == ("NEW", "ws-1")
        assert on_venue(d, "ws-1") == ["NEW"]
        assert by_rest(d, "/api/v3/order") == []


async def test_reads_and_cancels_go_over_the_socket() -> None:
    """get_order, get_open_orders and cancel_order: answered over the socket, none by REST."""
    async with desk() as d:
        order = await d.ex.place_order(bid(d, "ws-2"))
        assert (await d.ex.get_order(SYMBOL, order_id=order.order_id)).status == "NEW"
        assert [o.order_id for o in await d.ex.get_open_orders(SYMBOL)] == [order.order_id]
        await d.ex.cancel_order(SYMBOL, order_id=order.order_id)
        assert on_venue(d, "ws-2") == ["CANCELED"]
        assert by_rest(d, "/api/v3/order") == by_rest(d, "/api/v3/openOrders") == []


async def test_amends_go_over_the_socket() -> None:
    """A smaller quantity (keep priority) and a new price (cancel-replace) both go over the socket."""
    async with desk() as d:
        order = await d.ex.place_order(bid(d, "ws-3", QTY * 2))
        smaller = await d.ex.amend_order(SYMBOL, order_id=order.order_id, quantity=QTY)
        moved = await d.ex.amend_order(SYMBOL, order_id=smaller.order_id, price=order.price - 1)
        assert (smaller.quantity, moved.price) == (QTY, order.price - 1)
        assert [s for s in d.rest.seen if "amend" in s or "cancelReplace" in s or s.endswith("/api/v3/order")] == []


async def test_cancel_all_goes_over_the_socket() -> None:
    """cancel_all_orders: every open order gone, no DELETE /api/v3/openOrders by REST."""
    async with desk() as d:
        placed = [await d.ex.place_order(bid(d, f"ws-all-{n}")) for n in range(3)]
        gone = await d.ex.cancel_all_orders(SYMBOL)
        assert sorted(g.order_id for g in gone) == sorted(o.order_id for o in placed)
        assert by_rest(d, "/api/v3/openOrders") == []


async def test_market_data_stays_on_rest() -> None:
    """get_order_book is not a WebSocket API call here: it goes by REST, as before."""
    async with desk() as d:
        book = await d.ex.get_order_book(SYMBOL, 10)
        assert len(book.bids) == 10 and by_rest(d, "/api/v3/depth") == ["GET /api/v3/depth"]


async def test_a_refusal_is_the_same_typed_error_as_over_rest() -> None:
    """An order the account cannot pay for: InsufficientBalance, with no key or secret in its text."""
    async with desk() as d:
        with pytest.raises(InsufficientBalance) as refused:
            await d.ex.place_order(bid(d, "ws-big", Decimal(1000)))
        shown = f"{refused.value} {refused.value!r}"
        assert d.key not in shown and d.secret not in shown
        assert on_venue(d, "ws-big") == []


async def test_an_unknown_order_is_not_found() -> None:
    """Cancelling an order the venue does not know: NotFound, as over REST."""
    async with desk() as d:
        with pytest.raises(NotFound):
            await d.ex.cancel_order(SYMBOL, order_id="123456789")


async def test_a_placement_whose_answer_is_lost_is_looked_up_never_sent_twice() -> None:
    """The venue places the order and drops the socket unanswered: the order is found by its client id, placed once."""
    async with desk() as d:
        d.sim.chaos("binance").lose_answer_rate = 1.0
        order = await d.ex.place_order(bid(d, "ws-lost"))
        d.sim.chaos("binance").lose_answer_rate = 0.0
        assert isinstance(order, Order) and order.client_order_id == "ws-lost"
        assert on_venue(d, "ws-lost") == ["NEW"]
        assert by_rest(d, "/api/v3/order") == []


async def test_orders_keep_going_after_the_connection_is_lost() -> None:
    """After a lost socket the next order opens a new one and is placed; the loss is counted as the venue's close."""
    async with desk() as d:
        d.sim.chaos("binance").lose_answer_rate = 1.0
        await d.ex.place_order(bid(d, "ws-a"))
        d.sim.chaos("binance").lose_answer_rate = 0.0
        order = await d.ex.place_order(bid(d, "ws-b"))
        assert order.status == "NEW" and on_venue(d, "ws-b") == ["NEW"]
        lost = d.ex.metrics.registry.get_sample_value(
            "lotusx_ws_reconnects_total", {"exchange": "binance", "reason": "trading_server_close"})
        assert lost == 1


async def test_the_limiter_learns_the_order_count_from_the_answers() -> None:
    """rateLimits feed RateLimit as REST's headers do: 4 orders placed elsewhere show in the ORDERS 10 s count."""
    async with desk() as d:
        elsewhere, signer = AiohttpRest(d.sim.rest_url("binance")), BinanceHmac(d.key, d.secret)
        try:
            for n in range(4):  # another process of the same account: this connector charged none of them
                query = (("symbol", SYMBOL), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                         ("quantity", str(QTY)), ("price", str(bid(d, "x").price)), ("newClientOrderId", f"other-{n}"))
                answer = await elsewhere(signer.sign(Request(method="POST", path="/api/v3/order", query=query),
                                                     int(time.time() * 1000)))
                assert answer.status == 200, answer.body
        finally:
            await elsewhere.aclose()
        await d.ex.place_order(bid(d, "ws-count"))
        orders_10s = next(pool for pool in LIMITS if pool.name == "ORDERS" and pool.per_seconds == 10)
        assert await d.ex.parts.rate_limit.limiter.used(orders_10s) >= 5

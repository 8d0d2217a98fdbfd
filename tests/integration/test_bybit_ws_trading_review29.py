"""Bybit with ``ws_trading=True``: order writes over one logged-in /v5/trade socket, everything else by REST.

Against the embedded simulator over real loopback sockets, spot and linear. The REST transport is
wrapped to record what reached it, so each test can tell which calls went by REST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

import lotusx
from lotusx.kernel.errors import InsufficientBalance, InvalidSignature
from lotusx.models import NewOrder, Order
from lotusx.sim import SimConfig, serve
from lotusx.transport import AiohttpRest
from tests.integration.test_ws_trading_review29 import Counted, Desk

SYMBOL = "BTCUSDT"
QUIET = SimConfig(driver_rate=0, depth_interval=0.05)  # no random flow: only the test's orders move
venues = pytest.mark.parametrize(("name", "category"), [("bybit", "spot"), ("bybit-linear", "linear")])


@asynccontextmanager
async def desk(name: str, category: str, *, secret: str | None = None) -> AsyncIterator[Desk]:
    async with serve(("bybit",), seed=1, config=QUIET) as sim:
        keys = sim.api_keys("bybit")
        rest = Counted(AiohttpRest(sim.rest_url("bybit")))
        credentials = lotusx.Credentials(keys.hmac_key, secret or keys.hmac_secret)
        async with lotusx.connect(name, credentials=credentials, transport=rest, ws_url=sim.ws_url("bybit"),
                                  ws_trading=True) as ex:
            yield Desk(ex, sim, sim.engine("bybit", category), rest, keys.hmac_key, keys.hmac_secret)


def bid(d: Desk, cid: str, quantity: Decimal = Decimal("0.001"), ticks: int = 0) -> NewOrder:
    """A bid far below the market, where nothing trades."""
    market = d.engine.markets[SYMBOL]
    price = (d.engine.books[SYMBOL].prices("BUY")[0] / 2).quantize(market.tick) - ticks * market.tick
    return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=quantity, price=price,
                    client_order_id=cid)


def writes_by_rest(d: Desk) -> list[str]:
    """The order writes that reached the REST transport (create, amend, cancel, their batches)."""
    return [seen for seen in d.rest.seen if seen.startswith("POST /v5/order/") and "cancel-all" not in seen]


def on_venue(d: Desk, cid: str) -> list[str]:
    """The statuses of the venue's orders carrying client id ``cid``."""
    return [o.status for o in d.engine.orders_of("user") if o.client_id == cid]


@venues
async def test_an_order_is_placed_over_the_socket_not_by_rest(name: str, category: str) -> None:
    """place_order: the order rests on the venue, and no POST /v5/order/create reached REST."""
    async with desk(name, category) as d:
        order = await d.ex.place_order(bid(d, "ws-1"))
        assert isinstance(order, Order) and order.client_order_id == "ws-1"
        assert on_venue(d, "ws-1") == ["NEW"]
        assert writes_by_rest(d) == []


@venues
async def test_amend_and_cancel_go_over_the_socket(name: str, category: str) -> None:
    """amend_order then cancel_order: carried out over the socket, no order write by REST."""
    async with desk(name, category) as d:
        order = await d.ex.place_order(bid(d, "ws-2"))
        moved = await d.ex.amend_order(SYMBOL, order_id=order.order_id, price=order.price - 1)
        assert moved.price == order.price - 1
        await d.ex.cancel_order(SYMBOL, order_id=order.order_id)
        assert on_venue(d, "ws-2") == ["CANCELED"]
        assert writes_by_rest(d) == []


@venues
async def test_batches_go_over_the_socket(name: str, category: str) -> None:
    """place_orders and cancel_orders: the create-batch and cancel-batch ops, none by REST."""
    async with desk(name, category) as d:
        placed = await d.ex.place_orders([bid(d, f"ws-b-{n}", ticks=n) for n in range(3)])
        assert all(isinstance(order, Order) for order in placed)
        gone = await d.ex.cancel_orders(SYMBOL, order_ids=[o.order_id for o in placed if isinstance(o, Order)])
        assert len(gone) == 3 and [on_venue(d, f"ws-b-{n}") for n in range(3)] == [["CANCELED"]] * 3
        assert writes_by_rest(d) == []


@venues
async def test_reads_and_cancel_all_stay_on_rest(name: str, category: str) -> None:
    """The trade WS has no read or cancel-all op: get_open_orders and cancel_all_orders go by REST."""
    async with desk(name, category) as d:
        await d.ex.place_order(bid(d, "ws-3"))
        assert len(await d.ex.get_open_orders(SYMBOL)) == 1
        await d.ex.cancel_all_orders(SYMBOL)
        assert any(seen.endswith("/v5/order/realtime") for seen in d.rest.seen)
        assert "POST /v5/order/cancel-all" in d.rest.seen and on_venue(d, "ws-3") == ["CANCELED"]


async def test_a_refusal_is_the_same_typed_error_as_over_rest() -> None:
    """An order the account cannot pay for: InsufficientBalance, with no key or secret in its text."""
    async with desk("bybit", "spot") as d:
        with pytest.raises(InsufficientBalance) as refused:
            await d.ex.place_order(bid(d, "ws-big", Decimal(1000)))
        shown = f"{refused.value} {refused.value!r}"
        assert d.key not in shown and d.secret not in shown and on_venue(d, "ws-big") == []


async def test_a_bad_secret_is_refused_at_login_and_nothing_is_placed() -> None:
    """The socket's auth refused (invalid sign): InvalidSignature, no order, the secret in no error text."""
    async with desk("bybit", "spot", secret="not-the-secret-of-this-key") as d:
        with pytest.raises(InvalidSignature) as refused:
            await d.ex.place_order(bid(d, "ws-unsigned"))
        assert "not-the-secret-of-this-key" not in f"{refused.value} {refused.value!r}"
        assert on_venue(d, "ws-unsigned") == []


@venues
async def test_a_placement_whose_answer_is_lost_is_looked_up_never_sent_twice(name: str, category: str) -> None:
    """The venue places the order and drops the socket unanswered: found by its client id, placed once."""
    async with desk(name, category) as d:
        d.sim.chaos("bybit").lose_answer_rate = 1.0
        order = await d.ex.place_order(bid(d, "ws-lost"))
        d.sim.chaos("bybit").lose_answer_rate = 0.0
        assert isinstance(order, Order) and order.client_order_id == "ws-lost"
        assert on_venue(d, "ws-lost") == ["NEW"]
        assert writes_by_rest(d) == []

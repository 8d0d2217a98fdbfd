"""Bybit sim fidelity: orderLinkId used once, PostOnly accepted then cancelled, ids looked up as ids, withdraw codes.

Facts from https://bybit-exchange.github.io/docs/v5/order/create-order (orderLinkId "always unique";
PostOnly "If the order would be filled immediately when submitted, it will be cancelled") and
https://bybit-exchange.github.io/docs/v5/error (110072, 110001, 131085).
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from sim_helpers import Bybit, body
from test_sim_engine import engine

from lotusx.kernel.errors import DuplicateClientOrderId, OrderRejected


async def create(bybit: Bybit, **params: Any) -> dict[str, Any]:
    """POST /v5/order/create: a resting spot limit buy unless ``params`` say otherwise."""
    order = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
             "price": "40000"} | params
    result: dict[str, Any] = await body(await bybit.signed("POST", "/v5/order/create", **order))
    return result


def test_engine_reuses_a_closed_client_id_by_default() -> None:
    """Binance's rule stays the default: once an order closed, its client id may name a new one."""
    e = engine()
    e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(120), client_id="same")
    e.cancel("alice", "BTCUSDT", client_id="same")
    assert e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(121), client_id="same").status == "NEW"


def test_engine_refuses_a_closed_client_id_when_ids_are_used_once() -> None:
    """With ``client_ids_reusable=False`` a closed order's client id is a duplicate too."""
    e = engine()
    e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(120), client_id="same")
    e.cancel("alice", "BTCUSDT", client_id="same")
    with pytest.raises(DuplicateClientOrderId):
        e.place("alice", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(121), client_id="same",
                client_ids_reusable=False)


def test_engine_cancels_a_crossing_maker_when_asked() -> None:
    """With ``cancel_crossing_maker`` a crossing LIMIT_MAKER is recorded CANCELED: no trade, no lock."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    order = e.place("alice", "BTCUSDT", "BUY", "LIMIT_MAKER", quantity=D(1), price=D(100), cancel_crossing_maker=True)
    assert (order.status, order.filled, e.balance("alice", "USDT").locked) == ("CANCELED", 0, 0)
    assert e.books["BTCUSDT"].levels("SELL", 1) == [(D(100), D(1))]


def test_engine_still_rejects_a_crossing_maker_by_default() -> None:
    """Binance's rule stays the default: a crossing LIMIT_MAKER is rejected."""
    e = engine()
    e.place("bob", "BTCUSDT", "SELL", "LIMIT", quantity=D(1), price=D(100))
    with pytest.raises(OrderRejected):
        e.place("alice", "BTCUSDT", "BUY", "LIMIT_MAKER", quantity=D(1), price=D(100))


async def test_a_closed_orders_link_id_is_a_duplicate(bybit: Bybit) -> None:
    """An orderLinkId whose order was cancelled still answers 110072 when placed again."""
    await create(bybit, orderLinkId="once")
    await bybit.signed("POST", "/v5/order/cancel", category="spot", symbol="BTCUSDT", orderLinkId="once")
    assert (await create(bybit, orderLinkId="once"))["retCode"] == 110072


async def test_crossing_post_only_is_accepted_then_cancelled(bybit: Bybit) -> None:
    """A PostOnly through the spread gets an orderId, then shows Cancelled with nothing filled."""
    placed = await create(bybit, timeInForce="PostOnly", price="60000", orderLinkId="po")
    assert placed["retCode"] == 0 and placed["result"]["orderId"]
    found = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", symbol="BTCUSDT",
                                          orderLinkId="po"))
    [order] = found["result"]["list"]
    assert (order["orderStatus"], order["cumExecQty"]) == ("Cancelled", "0")


async def test_a_non_numeric_order_id_finds_no_order(bybit: Bybit) -> None:
    """An orderId the venue never issued (a UUID) lists nothing, never the open orders."""
    await create(bybit)
    found = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", symbol="BTCUSDT",
                                          orderId="fd4300ae-7847-404e-b947-b46980a4d140"))
    assert found["result"]["list"] == []


async def test_cancelling_a_non_numeric_order_id_is_110001(bybit: Bybit) -> None:
    """Cancelling an orderId the venue never issued is 'Order does not exist'."""
    await create(bybit)
    answer = await body(await bybit.signed("POST", "/v5/order/cancel", category="spot", symbol="BTCUSDT",
                                           orderId="fd4300ae-7847-404e-b947-b46980a4d140"))
    assert answer["retCode"] == 110001


@pytest.mark.parametrize(("unit", "qty"), [("quoteCoin", "100"), ("baseCoin", "0.01")])
async def test_a_spot_market_order_shows_its_qty_in_its_market_unit(bybit: Bybit, unit: str, qty: str) -> None:
    """A spot Market order lists marketUnit, and qty as asked in that unit (a quote amount, not the base filled)."""
    await create(bybit, orderType="Market", marketUnit=unit, qty=qty, orderLinkId="mkt")
    found = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", symbol="BTCUSDT",
                                          orderLinkId="mkt"))
    [order] = found["result"]["list"]
    assert (order["marketUnit"], D(order["qty"])) == (unit, D(qty))

"""Bybit account, review 12: a wallet push carries its creationTime; a MARKET order's size reconciled."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bybit_helpers import Venue, answer, payload

import lotusx
from lotusx.exchanges.bybit.streams import WalletMessage, bybit_frames
from lotusx.kernel.errors import DuplicateClientOrderId
from lotusx.metrics import Metrics
from lotusx.models import NewOrder, Order
from lotusx.testing import FakeClock, FakeTransport


def test_a_wallet_push_is_dated_by_its_creation_time() -> None:
    """The push's "creationTime" (docs v5/websocket/private/wallet) is the time its balances are ordered by."""
    [message] = bybit_frames(Metrics()).run(payload("ws_wallet.json"))
    assert isinstance(message, WalletMessage)
    assert message.time == 1700034722104


# A spot Market order as GET /v5/order/realtime lists it: ``qty`` in its ``marketUnit`` (docs v5/order/open-order).
MARKET_ROW = {"orderId": "77", "orderLinkId": "m-1", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
              "orderStatus": "Filled", "price": "0", "qty": "0.01", "cumExecQty": "0.01", "timeInForce": "IOC",
              "updatedTime": "1700000000000", "category": "spot", "marketUnit": "baseCoin"}
BY_QUANTITY = NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.01"), client_order_id="m-1")


async def reconciled(row: dict[str, Any], asked: NewOrder) -> Order:
    """``asked`` placed; the venue answers "server error" (10016); the reconcile by orderLinkId finds ``row``."""
    clock = FakeClock(1_700_000_000)
    venue = Venue(clock, order_create=[answer({}, ret_code=10016, ret_msg="Server error")],
                  order_realtime=lambda r: answer({"list": [row]}))
    async with lotusx.connect("bybit", credentials=lotusx.Credentials(api_key="k" * 18, secret="s" * 36),
                              clock=clock, transport=FakeTransport(venue)) as bybit:
        order: Order = await bybit.place_order(asked)
    return order


async def test_a_market_order_found_sized_in_the_quote_coin_is_a_duplicate_client_order_id() -> None:
    """Asked for 0.01 BTC, the id names a market buy of 0.01 USDT (marketUnit quoteCoin): another order."""
    with pytest.raises(DuplicateClientOrderId):
        await reconciled(MARKET_ROW | {"marketUnit": "quoteCoin"}, BY_QUANTITY)


async def test_a_market_order_found_of_another_quantity_is_a_duplicate_client_order_id() -> None:
    """Asked for 0.01 BTC, the id names a market buy of 0.02 BTC: another order."""
    with pytest.raises(DuplicateClientOrderId):
        await reconciled(MARKET_ROW | {"qty": "0.02"}, BY_QUANTITY)


async def test_a_market_order_found_as_asked_is_the_placement() -> None:
    """Same unit and amount (any writing): the order found is the placement's result."""
    order = await reconciled(MARKET_ROW | {"qty": "0.010"}, BY_QUANTITY)
    assert (order.order_id, order.status) == ("77", "FILLED")

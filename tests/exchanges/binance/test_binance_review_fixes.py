"""Binance placement after an ambiguous answer: its client id does not stop a second execution.

rest-api.md, POST /api/v3/order, newClientOrderId: "A unique id among open orders ... Orders with
the same newClientOrderID can be accepted only when the previous one is filled". So once an order
has filled, a re-send with its client id is a new order, and a query that does not find the
order yet (-1007: "Send status unknown; execution status unknown") proves nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx.exchanges.binance.streams import DIALECT, market_frames
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import AmbiguousOrderState
from lotusx.kernel.message import Request, Response
from lotusx.metrics import Metrics
from lotusx.models import NewOrder
from lotusx.testing import FakeClock, FakeTransport
from tests.ws.test_reconnect import VenueWs, quiesce, subscribes

KEY, SECRET = "review-key-0001", "review-secret-0001"
NOW_MS = 1_700_000_000_000
MARKET = NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.01"), client_order_id="cid-late")


def answer(body: object, status: int = 200) -> Response:
    return Response(status=status, body=orjson.dumps(body))


class LateVenue:
    """The first order is still in the venue's backend when its answer times out (-1007); it fills
    right after the query by client id missed it. A client id is refused only while its order is open."""

    def __init__(self) -> None:
        self.in_flight: list[str] = []
        self.orders: dict[str, str] = {}  # client id -> status of its latest order
        self.executed = 0

    def __call__(self, request: Request) -> Response:
        query = dict(request.query)
        if request.path == "/api/v3/time":
            return answer({"serverTime": NOW_MS})
        if request.method == "POST":
            cid = query["newClientOrderId"]
            if self.orders.get(cid) == "NEW":
                return answer({"code": -2010, "msg": "Duplicate order sent."}, 400)
            if not self.executed and not self.in_flight:
                self.in_flight.append(cid)
                return answer({"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                                     "Send status unknown; execution status unknown."}, 408)
            return self._fill(cid)
        cid = query["origClientOrderId"]
        if cid not in self.orders:
            for late in self.in_flight:  # the backend gets to the queued order just after this query
                self._fill(late)
            self.in_flight.clear()
            return answer({"code": -2013, "msg": "Order does not exist."}, 400)
        return answer(self._body(cid))

    def _fill(self, cid: str) -> Response:
        self.executed += 1
        self.orders[cid] = "FILLED"
        return answer(self._body(cid))

    def _body(self, cid: str) -> dict[str, object]:
        return {"symbol": "BTCUSDT", "orderId": self.executed, "clientOrderId": cid, "price": "0",
                "origQty": "0.01", "executedQty": "0.01", "status": self.orders[cid], "type": "MARKET",
                "side": "BUY"}


async def test_an_order_that_fills_after_the_reconcile_missed_it_is_not_sent_again() -> None:
    """A -1007 placement whose query by client id finds nothing is not re-sent: the first may still fill."""
    venue = LateVenue()
    async with lotusx.connect("binance", credentials=Credentials(KEY, SECRET), transport=FakeTransport(venue),
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        with contextlib.suppress(AmbiguousOrderState):
            await ex.place_order(MARKET)
    assert venue.executed == 1


async def test_an_order_the_reconcile_cannot_find_is_reported_ambiguous_by_client_id() -> None:
    """Not found after -1007 ends in AmbiguousOrderState naming the client id the caller can query by."""
    async with lotusx.connect("binance", credentials=Credentials(KEY, SECRET), transport=FakeTransport(LateVenue()),
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        with pytest.raises(AmbiguousOrderState) as caught:
            await ex.place_order(MARKET)
    assert caught.value.client_order_id == "cid-late"


async def test_market_stream_keeps_under_five_messages_a_second() -> None:
    """The market stream's outbound layers hold a burst of subscribes under Binance's 5 messages a second."""
    clock = FakeClock(NOW_MS / 1000, auto_advance=False)
    venue = VenueWs()
    async with lotusx.connect("binance", transport=FakeTransport(LateVenue()), clock=clock) as ex:
        ws = ex._ws()
        ws.factory = lambda: venue
        async with ws:
            subscribers = [asyncio.create_task(ws.subscribe([f"s{i}@trade"])) for i in range(6)]
            await quiesce(100)
            assert len(subscribes(venue)) <= 5  # no time has passed: the rest wait for a later second
            for task in subscribers:
                task.cancel()
            await asyncio.wait(subscribers)


@pytest.mark.parametrize("answer", [
    '{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":7}',
    '{"code":2,"msg":"Invalid request: unknown stream","id":7}',  # the shape web-socket-streams.md documents
])
def test_a_subscribe_error_answer_is_a_rejection_in_either_shape(answer: str) -> None:
    """An error answer to SUBSCRIBE is a refused ack, nested under "error" or with code/msg at the top."""
    assert DIALECT.ack is not None
    assert DIALECT.ack(market_frames(Metrics()).step(answer)) == (7, False, "Invalid request: unknown stream")

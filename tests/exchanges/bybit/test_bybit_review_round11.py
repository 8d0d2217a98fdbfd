"""Bybit review, round 11: each test failed on the code before its fix.

Venue facts from the official v5 docs (https://bybit-exchange.github.io/docs/v5, repository
bybit-exchange/docs, files docs/v5/...), cited per test.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest
from bybit_helpers import Handler, Venue, answer

import lotusx
from lotusx.exchanges.bybit import Bybit
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.sim import Sim
from lotusx.testing import FakeClock, FakeTransport

KEY, SECRET = "test-key-0001", "test-secret-0001"
NOW_MS = 1_700_000_000_000
ORDER = {"orderId": "42", "orderLinkId": "cid-1", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
         "orderStatus": "New", "price": "50000", "qty": "0.01", "cumExecQty": "0", "timeInForce": "GTC",
         "updatedTime": "1700000000000", "category": "spot"}


def connect(**paths: Handler | list[Response]) -> tuple[Any, FakeTransport]:
    """A spot connector over a FakeTransport in front of a scripted venue."""
    clock = FakeClock(NOW_MS / 1000)
    transport = FakeTransport(Venue(clock, **paths))
    return lotusx.connect("bybit", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                          transport=transport), transport


def wire(transport: FakeTransport, path: str) -> list[Request]:
    return [r for r in transport.requests if r.path == path]


def rows(*orders: dict[str, Any]) -> Handler:
    return lambda request: answer({"list": list(orders), "nextPageCursor": ""})


# ----- retCodes that say "try again later" (docs/v5/error: UTA 110079, Spot Trade 170191, 170212) -----

@pytest.mark.parametrize(("code", "msg"), [
    (110079, "The order is processing and can not be operated, please try again later"),
    (170191, "Can not cancel order, please try again later"),
    (170212, "Cancel order request processing"),
])
async def test_cancel_told_to_try_again_later_is_retried(code: int, msg: str) -> None:
    """A cancel answered 'processing, try again later' is retried, not raised as a request to fix."""
    later = answer({}, ret_code=code, ret_msg=msg)
    conn, transport = connect(order_cancel=[later, answer({"orderId": "42", "orderLinkId": "cid-1"})],
                              order_realtime=rows(ORDER | {"orderStatus": "Cancelled"}))
    async with conn as ex:
        cancelled = await ex.cancel_order("BTCUSDT", order_id="42")
    assert (cancelled.status, len(wire(transport, "/v5/order/cancel"))) == ("CANCELED", 2)


# ----- a cancel told the order is no longer on the book (docs/v5/error, Spot Trade 170143) -----

def lost_then(code: int, msg: str) -> Handler:
    """The first cancel is done but its answer is lost; the retry is answered ``code``."""
    sent: list[Request] = []

    def cancel(request: Request) -> Response:
        sent.append(request)
        if len(sent) == 1:
            raise e.Timeout("POST /v5/order/cancel: no answer")
        return answer({}, ret_code=code, ret_msg=msg)

    return cancel


async def test_cancel_retried_into_not_on_the_book_returns_the_cancelled_order() -> None:
    """A retried cancel told 170143 'Cannot be found on order book' returns the order its first attempt cancelled."""
    conn, transport = connect(order_cancel=lost_then(170143, "Cannot be found on order book"),
                              order_realtime=rows(ORDER | {"orderStatus": "Cancelled"}))
    async with conn as ex:
        cancelled = await ex.cancel_order("BTCUSDT", order_id="42")
    assert (cancelled.status, len(wire(transport, "/v5/order/cancel"))) == ("CANCELED", 2)


# ----- book depth (docs/v5/websocket/public/orderbook: spot and linear stream 1, 50, 200 and 1000 levels) -----

async def test_a_book_watched_100_deep_has_100_levels(bybit: Bybit, sim: Sim) -> None:
    """watch_order_book(depth=100) on a book 120 levels deep yields 100 bids, not the 50 of orderbook.50."""
    engine = sim.engine("bybit")
    for level in range(21, 141):  # below the 20 seeded bid levels, 10 ticks apart as they are
        engine.place("market-maker", "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"),
                     price=Decimal(50_000) - level * Decimal("0.1"))
    books = bybit.watch_order_book("BTCUSDT", depth=100)
    book = await asyncio.wait_for(anext(books), 5)
    await books.aclose()
    assert (len(book.bids), len(book.asks)) == (100, 20)


# ----- a garbled server time (docs/v5/market/time: timeNano is a string of nanoseconds) -----

async def test_a_garbled_server_time_is_a_decode_error() -> None:
    """get_server_time on a timeNano that is no number raises DecodeError, a LotusXError, not a ValueError."""
    body = {"retCode": 0, "retMsg": "OK", "result": {"timeSecond": "x", "timeNano": "garbled"}, "retExtInfo": {},
            "time": NOW_MS}
    transport = FakeTransport(lambda request: Response(status=200, body=orjson.dumps(body)))
    async with lotusx.connect("bybit", clock=FakeClock(NOW_MS / 1000), transport=transport) as ex:
        with pytest.raises(e.DecodeError):
            await ex.get_server_time()


# ----- insufficient funds, in every wording docs/v5/error gives it (UTA 110004/110012/110044/110045, Spot 170033) -----

@pytest.mark.parametrize("code", [110004, 110012, 110044, 110045, 170033])
def test_every_insufficient_balance_code_is_insufficient_balance(code: int) -> None:
    """An order refused for want of balance or margin is InsufficientBalance, whichever code says so."""
    request = Request(method="POST", path=ep.ORDER_CREATE.path, endpoint=ep.ORDER_CREATE)
    assert type(classify(request, answer({}, ret_code=code, ret_msg="insufficient"))) is e.InsufficientBalance

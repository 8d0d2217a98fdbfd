"""A REST call cancelled at each await of the canonical stack (a quote gone stale, a timeout, a TaskGroup)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from structlog.contextvars import get_contextvars

import lotusx
from lotusx.kernel import errors as e
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Request, Response
from lotusx.layers.limiter import Pool
from lotusx.testing import FakeClock, FakeTransport

NOW_MS = 1_700_000_000_000
ORDER = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "cid-1", "price": "50000", "origQty": "0.01",
         "executedQty": "0", "status": "NEW", "timeInForce": "GTC", "type": "LIMIT", "side": "BUY",
         "transactTime": NOW_MS}
NEW = lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.01"),
                      price=Decimal("50000"), client_order_id="cid-1")
TIME, PLACE, LOOKUP = ("GET", "/api/v3/time"), ("POST", "/api/v3/order"), ("GET", "/api/v3/order")


class Venue:
    """A fake Binance: ``hold`` makes a route wait until released; ``lose`` raises on its next request."""

    def __init__(self) -> None:
        self.hold: dict[tuple[str, str], asyncio.Event] = {}
        self.lose: dict[tuple[str, str], e.LotusXError] = {}
        self.seen: list[tuple[str, str]] = []
        self.waiting = asyncio.Event()

    async def __call__(self, request: Request) -> Response:
        route = (request.method, request.path)
        self.seen.append(route)
        if route in self.hold:
            self.waiting.set()
            await self.hold[route].wait()
        if route in self.lose:
            raise self.lose.pop(route)
        if route == TIME:
            return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
        if request.path == "/api/v3/depth":
            return Response(status=200, body=orjson.dumps({"lastUpdateId": 1, "bids": [], "asks": []}))
        return Response(status=200, body=orjson.dumps(ORDER))

    def release(self) -> None:
        for event in self.hold.values():
            event.set()


async def cancel_when(task: asyncio.Task[Any], ready: Callable[[], bool]) -> None:
    """Cancel ``task`` once ``ready()``; it must end with ``CancelledError``, never another outcome."""
    for _ in range(200):
        if ready():
            break
        await asyncio.sleep(0)
    assert ready()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)


async def settle(venue: Venue) -> None:
    """Release every held request and let anything left over run (a re-send would show here)."""
    venue.release()
    for _ in range(20):
        await asyncio.sleep(0)


def connect(venue: Venue, clock: FakeClock, **options: Any) -> Any:
    return lotusx.connect("binance", credentials=Credentials("k", "s"), transport=FakeTransport(venue),
                          clock=clock, **options)


async def still_works(ex: Any) -> None:
    await asyncio.wait_for(ex.get_order_book("BTCUSDT", 5), 2)
    await asyncio.wait_for(ex.place_order(NEW), 2)


def held(venue: Venue, route: tuple[str, str]) -> Venue:
    venue.hold[route] = asyncio.Event()
    return venue


Call = Callable[[Any], Awaitable[Any]]


@pytest.mark.parametrize(("route", "call"), [
    (PLACE, lambda ex: ex.place_order(NEW)),
    (TIME, lambda ex: ex.place_order(NEW)),
    (("DELETE", "/api/v3/order"), lambda ex: ex.cancel_order("BTCUSDT", order_id=7)),
    (("GET", "/api/v3/depth"), lambda ex: ex.get_order_book("BTCUSDT", 5)),
], ids=["place_on_the_wire", "place_in_clock_sync", "cancel_on_the_wire", "book_on_the_wire"])
async def test_a_call_cancelled_on_the_wire_or_in_clock_sync_is_cancelled_and_never_resent(
        route: tuple[str, str], call: Call) -> None:
    """The cancel reaches the caller as CancelledError, nothing is sent again, the next calls work."""
    venue = held(Venue(), route)
    async with connect(venue, FakeClock(NOW_MS / 1000)) as ex:
        before = asyncio.all_tasks()
        await cancel_when(asyncio.create_task(call(ex)), venue.waiting.is_set)
        await settle(venue)
        assert venue.seen.count(route) == 1
        assert asyncio.all_tasks() <= before
        assert "request_id" not in get_contextvars()
        await still_works(ex)


async def test_a_placement_cancelled_while_it_is_reconciled_is_not_resent() -> None:
    """Cancelled during the lookup after a lost answer: CancelledError, no second POST, no AmbiguousOrderState."""
    venue = held(Venue(), LOOKUP)
    venue.lose[PLACE] = e.Timeout("answer lost")
    async with connect(venue, FakeClock(NOW_MS / 1000)) as ex:
        await cancel_when(asyncio.create_task(ex.place_order(NEW)), venue.waiting.is_set)
        await settle(venue)
        assert venue.seen.count(PLACE) == 1


async def test_a_call_cancelled_while_retry_sleeps_is_not_sent_again() -> None:
    """Cancelled in the back-off after a 5xx, a book read is never sent a second time."""
    venue = Venue()
    venue.lose[("GET", "/api/v3/depth")] = e.ServerError("busy")
    clock = FakeClock(NOW_MS / 1000, auto_advance=False)
    async with connect(venue, clock) as ex:
        task = asyncio.create_task(ex.get_order_book("BTCUSDT", 5))
        await cancel_when(task, lambda: clock.sleepers == 1)
        await clock.advance(60)
        assert venue.seen.count(("GET", "/api/v3/depth")) == 1


async def test_a_placement_cancelled_while_waiting_for_room_charges_nothing() -> None:
    """Cancelled while RateLimit waits for the ORDERS pool: not sent, and the pool's room is still there after."""
    venue = Venue()
    clock = FakeClock(NOW_MS / 1000, auto_advance=False)
    async with connect(venue, clock, rate_limits={"ORDERS": [Pool("ORDERS", 1, 10)]}) as ex:
        await ex.place_order(NEW)  # the pool is full until its window ends
        waiting = asyncio.create_task(ex.place_order(NEW))
        await cancel_when(waiting, lambda: clock.sleepers == 1)
        await clock.advance(10.5)  # the next window: exactly one order of room
        assert venue.seen.count(PLACE) == 1
        await asyncio.wait_for(ex.place_order(NEW), 2)
        assert venue.seen.count(PLACE) == 2

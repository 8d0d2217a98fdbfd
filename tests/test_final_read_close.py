"""Final read of round 12: a closed connector sends nothing more, whichever of its stacks asks."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import AmbiguousOrderState, ConfigError, Credentials, Disconnected, Request, Response
from lotusx.testing import FakeClock, FakeTransport

CREDS = Credentials(api_key="final-read-key-000001", secret="final-read-secret-00001")
BOOK = b'{"lastUpdateId":7,"bids":[["1.5","2"]],"asks":[["1.6","3"]]}'


class Venue:
    """A fake Binance whose first answer to ``held`` waits for ``release``, then is ``first``."""

    def __init__(self, held: str, first: Response | BaseException) -> None:
        self.held, self.first = held, first
        self.entered, self.release = asyncio.Event(), asyncio.Event()
        self.transport = FakeTransport(self.answer)

    async def answer(self, request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        if f"{request.method} {request.path}" == self.held and not self.entered.is_set():
            self.entered.set()
            await self.release.wait()
            if isinstance(self.first, BaseException):
                raise self.first
            return self.first
        if request.method == "GET" and request.path == "/api/v3/order":
            return Response(status=400, body=b'{"code":-2013,"msg":"Order does not exist."}')
        return Response(status=200, body=BOOK)

    async def closed_while_held(self, ex: Any) -> int:
        """Close connector ``ex`` while the held call waits for its answer; the number of requests sent until then."""
        await self.entered.wait()
        await ex.aclose()
        sent = len(self.transport.requests)
        self.release.set()
        return sent


async def test_an_order_whose_answer_is_lost_as_the_connector_closes_is_not_looked_up_after() -> None:
    """The reconcile query (Parts.signed) is closed with the connector: nothing is sent, the order is ambiguous."""
    venue = Venue("POST /api/v3/order", Disconnected("answer lost", sent=True))
    ex = await lotusx.connect("binance", credentials=CREDS, transport=venue.transport,
                              clock=FakeClock()).__aenter__()
    placing = asyncio.create_task(ex.place_order(lotusx.NewOrder(
        symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("1"),
        price=Decimal("1.5"))))
    sent = await venue.closed_while_held(ex)
    with pytest.raises(AmbiguousOrderState):
        await placing
    assert len(venue.transport.requests) == sent


async def test_a_read_in_flight_as_the_connector_closes_is_not_sent_again() -> None:
    """Retry re-sends through the stack it wraps, not the client's: after the close it sends nothing."""
    venue = Venue("GET /api/v3/depth", Response(status=503))
    ex = await lotusx.connect("binance", transport=venue.transport, clock=FakeClock()).__aenter__()
    reading = asyncio.create_task(ex.get_order_book("BTCUSDT", depth=5))
    sent = await venue.closed_while_held(ex)
    with pytest.raises(ConfigError, match="closed"):
        await reading
    assert len(venue.transport.requests) == sent

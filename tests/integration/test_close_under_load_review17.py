"""Many placements and cancels in flight when the connector closes: each ends saying what may have happened.

A fake venue holds the first attempt of every order call, the connector closes, then every
held answer is lost (the venue may have acted). Nothing may reach the venue after the close,
no call may hang or end in the close's ``ConfigError`` (which reads "nothing was sent"), and the
metrics count what happened: one ambiguous placement per placement, one re-send per cancel.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import AmbiguousOrderState, Credentials, Disconnected, NewOrder, Request, Response
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, FakeTransport

CREDS = Credentials(api_key="close-load-key-0000001", secret="close-load-secret-000001")
CALLS = 20
TIME = {"/api/v3/time": b'{"serverTime": 1700000000000}',
        "/v5/market/time": b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000",'
                           b'"timeNano":"1700000000000000000"},"time":1700000000000}'}
CANCEL_ENDPOINT = {"binance": "cancel_order", "bybit": "order_cancel"}


class Held:
    """A fake venue that holds every order call until ``release``, then loses its answer."""

    def __init__(self, expected: int) -> None:
        self.expected, self.held = expected, 0
        self.all_held, self.release = asyncio.Event(), asyncio.Event()
        self.transport = FakeTransport(self.answer)

    async def answer(self, request: Request) -> Response:
        if request.path in TIME:
            return Response(status=200, body=TIME[request.path])
        self.held += 1
        if self.held == self.expected:
            self.all_held.set()
        await self.release.wait()
        raise Disconnected("answer lost", sent=True)


def order(n: int) -> NewOrder:
    return NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.001"), price=Decimal("40000"),
                    client_order_id=f"mm-{n}")


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_order_calls_in_flight_at_close_end_ambiguous_or_disconnected(venue: str) -> None:
    """Placements: AmbiguousOrderState with their own ids; cancels: the lost answer; nothing sent after the close."""
    held, metrics = Held(2 * CALLS), Metrics()
    ex: Any = await lotusx.connect(venue, credentials=CREDS, transport=held.transport, clock=FakeClock(),
                                   metrics=metrics).__aenter__()
    places = [asyncio.create_task(ex.place_order(order(n))) for n in range(CALLS)]
    cancels = [asyncio.create_task(ex.cancel_order("BTCUSDT", client_order_id=f"old-{n}")) for n in range(CALLS)]
    await asyncio.wait_for(held.all_held.wait(), 10)  # a bound against a hang, not a timing assertion
    await ex.aclose()
    sent = len(held.transport.requests)
    held.release.set()
    placed = await asyncio.wait_for(asyncio.gather(*places, return_exceptions=True), 10)
    cancelled = await asyncio.wait_for(asyncio.gather(*cancels, return_exceptions=True), 10)

    assert [type(p) for p in placed] == [AmbiguousOrderState] * CALLS
    assert sorted(p.client_order_id for p in placed) == sorted(f"mm-{n}" for n in range(CALLS))
    assert [type(c) for c in cancelled] == [Disconnected] * CALLS
    assert len(held.transport.requests) == sent
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for m in metrics.registry.collect() for s in m.samples if s.name.endswith("_total")}
    ambiguous = {dict(labels)["cause"]: v for (name, labels), v in samples.items()
                 if name == "lotusx_ambiguous_orders_total"}
    retried = {(dict(labels)["endpoint"], dict(labels)["reason"]): v for (name, labels), v in samples.items()
               if name == "lotusx_retries_total"}
    assert ambiguous == {"reconcile_failed": CALLS}  # the lookup after the lost answer met the closed connector
    assert retried == {(CANCEL_ENDPOINT[venue], "Disconnected"): CALLS}

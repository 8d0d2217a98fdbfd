"""Deadline ∘ Retry on a placement: the deadline cuts a call whose order may exist; it says so.

``Deadline`` sits outside ``Retry`` (lotusx/layers/timeout.py). Its expiry cancels the call
wherever it waits: an attempt on the wire, a lookup by client id, a back-off. A placement cut
there may have been placed, and the library's promise for such a placement is
``AmbiguousOrderState`` carrying its client id, never an error that reads as a plain refusal.
Expiry is driven by a tiny real deadline against services that never answer; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from structlog.testing import capture_logs

import lotusx
from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Idempotency, Request, Response
from lotusx.kernel.service import stack
from lotusx.layers import Deadline, Retry, RetryPolicy
from lotusx.testing import FakeClock, FakeTransport

TINY = 0.01
ORDER = Endpoint("new_order", "POST", "/api/v3/order", signed=True, idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
PLACE = Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),), endpoint=ORDER,
                ext={"client_order_id": "cid-1"})
CANCEL = Request(method="DELETE", path="/api/v3/order", endpoint=Endpoint("cancel_order", "DELETE", "/api/v3/order"))


async def never(request: Request) -> Response:
    """A venue that took the request and never answers."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def absent(request: Request) -> Response | None:
    """A lookup that finds nothing."""
    return None


async def test_a_placement_in_flight_at_the_deadline_is_ambiguous() -> None:
    """The attempt may have reached the venue: AmbiguousOrderState naming the client id, from DeadlineExceeded."""
    service = stack(Deadline(TINY), Retry(RetryPolicy(), reconcile=absent, clock=FakeClock()))(never)
    with pytest.raises(e.AmbiguousOrderState) as raised:
        await service(PLACE)
    assert raised.value.client_order_id == "cid-1"
    assert isinstance(raised.value.__cause__, e.DeadlineExceeded)


async def test_a_placement_cut_during_its_lookup_is_ambiguous() -> None:
    """A lost answer, then a lookup that hangs past the deadline: still AmbiguousOrderState."""
    answers = iter([e.Timeout("lost")])

    async def lost(request: Request) -> Response:
        raise next(answers)

    async def hung(request: Request) -> Response | None:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    service = stack(Deadline(TINY), Retry(RetryPolicy(), reconcile=hung, clock=FakeClock()))(lost)
    with pytest.raises(e.AmbiguousOrderState):
        await service(PLACE)


async def test_a_placement_cut_by_the_deadline_is_logged_with_its_client_id() -> None:
    """The audit trail an AmbiguousOrderState from Retry leaves, left by the deadline's too."""
    service = stack(Deadline(TINY), Retry(RetryPolicy(), reconcile=absent, clock=FakeClock()))(never)
    with capture_logs() as logs, pytest.raises(e.AmbiguousOrderState):
        await service(PLACE)
    assert [(x["event"], x["client_order_id"], x["cause"]) for x in logs if x["event"] == "rest.ambiguous_order"] == [
        ("rest.ambiguous_order", "cid-1", "deadline")]


async def test_a_cancel_at_the_deadline_stays_deadline_exceeded() -> None:
    """Only a placement has a client id to name: any other call keeps DeadlineExceeded."""
    with pytest.raises(e.DeadlineExceeded):
        await stack(Deadline(TINY), Retry(RetryPolicy(), clock=FakeClock()))(never)(CANCEL)


async def test_place_order_under_a_deadline_names_the_generated_client_id() -> None:
    """lotusx.connect(outer=[Deadline(...)]): the caller learns the id it never chose, the one on the wire."""
    async def venue(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        return await never(request)

    transport = FakeTransport(venue)
    creds = lotusx.Credentials(api_key="deadline-key-00000001", secret="deadline-secret-0000001")
    async with lotusx.connect("binance", credentials=creds, transport=transport, clock=FakeClock(),
                              outer=[Deadline(TINY)]) as ex:
        with pytest.raises(e.AmbiguousOrderState) as raised:
            await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("1"),
                                                 price=Decimal("1.5")))
    sent = [dict(r.query)["newClientOrderId"] for r in transport.requests if r.path == "/api/v3/order"]
    assert sent == [raised.value.client_order_id]

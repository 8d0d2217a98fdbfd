"""A Bybit cancel the venue acknowledged, whose read-back fails, is never reported as a cancel that failed.

Bybit answers a cancel with the order's ids only, and cancels asynchronously: the connector
reads the order back. When that read fails (a 5xx, the venue's lists lagging, the connector
closed meanwhile), the cancel was still accepted: the caller gets an ``AmbiguousOutcome``
saying so, never the read's own error, which would read as "not cancelled" or "unknown order".
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bybit_helpers import ORDER, Venue, answer

import lotusx
from lotusx import AmbiguousOutcome, ConfigError, NotFound, Request, Response, ServerError
from lotusx.testing import FakeClock, FakeTransport

CREDS = lotusx.Credentials(api_key="readback-key-0000001", secret="readback-secret-00001")
ACK = answer({"orderId": "42", "orderLinkId": "cid-1"})


def connect(clock: FakeClock, **paths: Any) -> Any:
    return lotusx.connect("bybit", credentials=CREDS, clock=clock, transport=FakeTransport(Venue(clock, **paths)))


def unavailable(request: Request) -> Response:
    return Response(status=503, body=b"")


def empty(request: Request) -> Response:
    return answer({"list": [], "nextPageCursor": ""})


async def test_a_cancel_whose_read_back_keeps_failing_is_ambiguous_not_a_server_error() -> None:
    """The venue took the cancel; a 5xx reading the order back says nothing of the cancel: AmbiguousOutcome."""
    async with connect(FakeClock(), order_cancel=[ACK], order_realtime=unavailable) as ex:
        with pytest.raises(AmbiguousOutcome, match="accepted the cancel of order 42") as raised:
            await ex.cancel_order("BTCUSDT", client_order_id="cid-1")
    assert isinstance(raised.value.__cause__, ServerError)


async def test_a_cancel_whose_order_the_lists_have_not_caught_up_with_is_ambiguous_not_not_found() -> None:
    """Realtime and history lagging the cancel: never NotFound, which reads as "no such order"."""
    async with connect(FakeClock(), order_cancel=[ACK], order_realtime=empty, order_history=empty) as ex:
        with pytest.raises(AmbiguousOutcome, match="accepted the cancel") as raised:
            await ex.cancel_order("BTCUSDT", client_order_id="cid-1")
    assert isinstance(raised.value.__cause__, NotFound)


async def test_a_cancel_acknowledged_as_the_connector_closes_is_ambiguous_not_closed() -> None:
    """The close lands between the acknowledgement and the read-back: not the ConfigError that says nothing was sent."""
    acked, release = asyncio.Event(), asyncio.Event()

    async def cancel(request: Request) -> Response:
        acked.set()
        await release.wait()
        return ACK

    ex = await connect(FakeClock(), order_cancel=cancel).__aenter__()
    cancelling = asyncio.create_task(ex.cancel_order("BTCUSDT", client_order_id="cid-1"))
    await acked.wait()
    await ex.aclose()
    release.set()
    with pytest.raises(AmbiguousOutcome, match="accepted the cancel") as raised:
        await cancelling
    assert isinstance(raised.value.__cause__, ConfigError)


async def test_a_cancel_read_back_is_still_the_answer_when_it_works() -> None:
    """Unchanged: a read-back that answers gives the order as the venue now has it."""
    row = answer({"list": [{**ORDER, "orderStatus": "Cancelled"}], "nextPageCursor": ""})
    async with connect(FakeClock(), order_cancel=[ACK], order_realtime=[row]) as ex:
        order = await ex.cancel_order("BTCUSDT", client_order_id="cid-1")
    assert (order.order_id, order.status) == ("42", "CANCELED")

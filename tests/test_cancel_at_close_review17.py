"""A cancel in flight when its connector closes ends on what the venue last said, never on "closed".

The README promises a ``ConfigError`` is raised before anything is sent. A cancel whose first
attempt reached the venue (its answer lost, or a 5xx) and whose re-send met the closed
connector must not end in that ``ConfigError``: a market maker shutting down would read it as
"nothing was cancelled, the order still rests".
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import lotusx
from lotusx import (
    ConfigError,
    ConnectError,
    Credentials,
    Disconnected,
    RateLimited,
    Request,
    Response,
    ServerError,
    Timeout,
)
from lotusx.layers import Retry, RetryPolicy
from lotusx.testing import FakeClock, FakeTransport, ScriptedService

CREDS = Credentials(api_key="cancel-close-key-000001", secret="cancel-close-secret-0001")
TIME = {"/api/v3/time": b'{"serverTime": 1700000000000}',
        "/v5/market/time": b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000",'
                           b'"timeNano":"1700000000000000000"},"time":1700000000000}'}
CANCEL = {"binance": "DELETE /api/v3/order", "bybit": "POST /v5/order/cancel"}


class Venue:
    """A fake venue whose first cancel waits for ``release``, then ends in ``first``; a cancel after it is refused."""

    def __init__(self, venue: str, first: Response | BaseException) -> None:
        self.cancel, self.first = CANCEL[venue], first
        self.entered, self.release = asyncio.Event(), asyncio.Event()
        self.transport = FakeTransport(self.answer)

    async def answer(self, request: Request) -> Response:
        if request.path in TIME:
            return Response(status=200, body=TIME[request.path])
        assert f"{request.method} {request.path}" == self.cancel, request
        assert not self.entered.is_set(), "the cancel was sent again after the close"
        self.entered.set()
        await self.release.wait()
        if isinstance(self.first, BaseException):
            raise self.first
        return self.first


async def cancel_while_closing(venue_name: str, first: Response | BaseException, clock: FakeClock) -> Any:
    """Start a cancel, close its connector while the venue holds the first attempt, then release it."""
    venue = Venue(venue_name, first)
    ex = await lotusx.connect(venue_name, credentials=CREDS, transport=venue.transport, clock=clock).__aenter__()
    cancelling = asyncio.create_task(ex.cancel_order("BTCUSDT", client_order_id="mm-1"))
    await venue.entered.wait()
    await ex.aclose()
    venue.release.set()
    return cancelling


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_a_cancel_whose_answer_is_lost_as_the_connector_closes_ends_disconnected(venue: str) -> None:
    """The re-send refused by the closed connector leaves the lost answer's Disconnected(sent=True)."""
    cancelling = await cancel_while_closing(venue, Disconnected("answer lost", sent=True), FakeClock())
    with pytest.raises(Disconnected) as raised:
        await cancelling
    assert raised.value.sent


async def test_a_cancel_answered_5xx_then_closed_during_the_back_off_ends_in_the_server_error() -> None:
    """Retry's back-off sleeping past the close: the 5xx (may have executed) is the answer, not "closed"."""
    clock = FakeClock(auto_advance=False)
    venue = Venue("binance", Response(status=503, body=b""))
    ex = await lotusx.connect("binance", credentials=CREDS, transport=venue.transport, clock=clock).__aenter__()
    cancelling = asyncio.create_task(ex.cancel_order("BTCUSDT", client_order_id="mm-1"))
    await venue.entered.wait()
    venue.release.set()
    for _ in range(100):  # until Retry waits out its back-off
        if clock.sleepers:
            break
        await asyncio.sleep(0)
    assert clock.sleepers == 1
    await ex.aclose()
    await clock.advance(60)
    with pytest.raises(ServerError):
        await cancelling


async def test_a_read_in_flight_as_the_connector_closes_still_says_closed() -> None:
    """A read changed nothing: the close is its whole story (unchanged behaviour)."""
    venue = Venue("binance", Disconnected("answer lost", sent=True))
    venue.cancel = "GET /api/v3/depth"
    ex = await lotusx.connect("binance", transport=venue.transport, clock=FakeClock()).__aenter__()
    reading = asyncio.create_task(ex.get_order_book("BTCUSDT", depth=5))
    await venue.entered.wait()
    await ex.aclose()
    venue.release.set()
    with pytest.raises(ConfigError, match="closed"):
        await reading


CANCEL_ENDPOINT = lotusx.Endpoint("cancel_order", "DELETE", "/api/v3/order", idempotency=lotusx.Idempotency.SAFE)
CANCEL_REQUEST = Request(method="DELETE", path="/api/v3/order", endpoint=CANCEL_ENDPOINT)


async def test_a_cancel_whose_later_attempts_cannot_connect_ends_on_the_timeout() -> None:
    """Not connecting proves only that those attempts never left: the timed-out first one may have cancelled."""
    inner = ScriptedService([Timeout("lost"), ConnectError("down"), ConnectError("down")])
    with pytest.raises(Timeout):
        await Retry(RetryPolicy(max_attempts=3), clock=FakeClock())(inner)(CANCEL_REQUEST)


async def test_a_venue_refusal_after_a_lost_cancel_answer_is_kept() -> None:
    """A venue's own answer to the re-send (a throttle here) is the venue speaking: it stays the outcome."""
    inner = ScriptedService([Timeout("lost"), RateLimited("slow down", retry_after=3600.0)])
    with pytest.raises(RateLimited):
        await Retry(RetryPolicy(max_attempts=3), clock=FakeClock())(inner)(CANCEL_REQUEST)

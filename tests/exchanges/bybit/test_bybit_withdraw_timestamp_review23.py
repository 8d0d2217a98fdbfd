"""Bybit: a withdrawal's body ``timestamp`` is on the venue's clock, as its signature's is.

docs/v5/asset/withdraw/withdraw: ``timestamp`` (required) is the "Current timestamp (ms). Used for
preventing from withdraw replay". The signature's X-BAPI-TIMESTAMP comes from the synced clock
(ClockSync syncs before Sign stamps); the body's must not be the local clock's of before the sync.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from bybit_helpers import KEY, NOW_MS, SECRET, answer, payload

import lotusx
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

SKEW_MS = 3_600_000  # the venue's clock an hour ahead of this machine's
WITHDRAW_PATH = "/v5/asset/withdraw/create"
USDT = lotusx.Withdrawal(asset="USDT", address="Txyz", amount=Decimal("10.5"), network="TRX", client_id="w1")


class SkewedVenue:
    """Bybit whose server time is ``skew_ms`` ahead of ``clock``; it accepts every withdrawal."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.skew_ms = clock, SKEW_MS

    def __call__(self, request: Request) -> Response:
        if request.path == "/v5/market/time":
            nano = (int(self.clock.time() * 1000) + self.skew_ms) * 1_000_000
            return answer({"timeSecond": str(nano // 10**9), "timeNano": str(nano)})
        assert request.path == WITHDRAW_PATH
        return Response(status=200, body=payload("withdraw_create.json"))


async def test_the_first_withdrawal_after_connect_is_stamped_with_the_venue_time() -> None:
    """The first call after connect (the clock not synced yet): the body's timestamp is the venue's, as the header's."""
    clock = FakeClock(NOW_MS / 1000)
    transport = FakeTransport(SkewedVenue(clock))
    async with lotusx.connect("bybit", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                              transport=transport) as ex:
        await ex.withdraw(USDT)
    [sent] = [r for r in transport.requests if r.path == WITHDRAW_PATH]
    stamped = orjson.loads(sent.body or b"")["timestamp"]
    assert stamped == NOW_MS + SKEW_MS == int(sent.header("X-BAPI-TIMESTAMP") or 0)


async def test_a_withdrawal_after_a_stale_offset_is_stamped_after_the_refresh() -> None:
    """Once the offset is stale, the body's timestamp is taken after the refresh, with the venue's new time."""
    clock = FakeClock(NOW_MS / 1000)
    venue = SkewedVenue(clock)
    transport = FakeTransport(venue)
    async with lotusx.connect("bybit", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                              transport=transport) as ex:
        await ex.withdraw(USDT)
        venue.skew_ms += 120_000  # the venue's clock stepped 2 minutes further
        await clock.advance(3600)  # past the refresh interval: the offset is stale
        await ex.withdraw(USDT)
    last = [r for r in transport.requests if r.path == WITHDRAW_PATH][-1]
    expected = NOW_MS + 3_600_000 + SKEW_MS + 120_000
    assert orjson.loads(last.body or b"")["timestamp"] == expected == int(last.header("X-BAPI-TIMESTAMP") or 0)


async def test_a_withdrawal_whose_clock_sync_fails_is_not_sent_and_says_so() -> None:
    """No clock to stamp by (the first sync fails): a ConnectError, never sent, never an ambiguous withdrawal."""
    clock = FakeClock(NOW_MS / 1000)

    def handle(request: Request) -> Response:
        if request.path == "/v5/market/time":
            raise e.ConnectError("GET /v5/market/time: connection refused")
        raise AssertionError(f"sent {request.method} {request.path}")

    transport = FakeTransport(handle)
    async with lotusx.connect("bybit", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                              transport=transport) as ex:
        with pytest.raises(e.ConnectError):
            await ex.withdraw(USDT)
    assert not [r for r in transport.requests if r.path == WITHDRAW_PATH]

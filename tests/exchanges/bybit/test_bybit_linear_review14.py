"""Bybit linear (USDT perpetuals) against the v5 docs: hedge mode, margin codes, per-product trade limits."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from bybit_helpers import Venue, answer

import lotusx
from lotusx.exchanges.bybit import VENUE_LINEAR
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

CREATE = Request(method="POST", path=ep.ORDER_CREATE.path, endpoint=ep.ORDER_CREATE)
NOW_MS = 1_700_000_000_000
BUY = lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.01"), price=Decimal(50_000))


def refused(code: int, msg: str) -> Response:
    body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": NOW_MS}
    return Response(status=200, body=orjson.dumps(body))


def test_hedge_mode_refusal_says_how_to_place_one_way_orders() -> None:
    """10001 'position idx not match position mode' is an InvalidRequest telling to switch to one-way mode."""
    error = classify(CREATE, refused(10001, "position idx not match position mode"))
    assert type(error) is e.InvalidRequest
    assert "hedge mode" in str(error) and "/v5/position/switch-mode" in str(error) and "mode=0" in str(error)
    assert (error.code, error.venue_message) == (10001, "position idx not match position mode")


def test_other_parameter_errors_carry_no_hedge_mode_hint() -> None:
    """A 10001 about something else is a plain InvalidRequest."""
    error = classify(CREATE, refused(10001, "Qty invalid"))
    assert type(error) is e.InvalidRequest and "hedge" not in str(error)


@pytest.mark.parametrize(("code", "msg"), [
    (110006, "The assets are estimated to be unable to cover the position margin"),
    (110051, "The user's available balance cannot cover the lowest price of the current market"),
    (110052, "Your available balance is insufficient to set the price"),
    (110053, "The user's available balance cannot cover the current market price and upper limit price"),
])
def test_linear_margin_shortfalls_are_insufficient_balance(code: int, msg: str) -> None:
    """docs/v5/error's 'balance cannot cover' placement codes are InsufficientBalance, not a bare OrderRejected."""
    assert type(classify(CREATE, refused(code, msg))) is e.InsufficientBalance


def connect(venue: object, clock: FakeClock) -> lotusx.connect:
    transport = FakeTransport(Venue(clock, order_create=lambda r: answer({"orderId": "1"}, time=NOW_MS)))
    return lotusx.connect(venue, credentials=lotusx.Credentials(api_key="k", secret="s"), clock=clock,
                          transport=transport, max_wait=0)


async def test_spot_orders_do_not_spend_the_linear_order_budget() -> None:
    """Spot and linear order/create have their own per-UID limits (docs/v5/rate-limit): a spot burst leaves linear's."""
    clock = FakeClock(NOW_MS / 1000)
    async with connect("bybit", clock) as spot, connect(VENUE_LINEAR, clock) as linear:
        for _ in range(5):  # within spot's budget, a full one for linear were it shared
            await spot.place_order(BUY)
        before = clock.time()
        await linear.place_order(BUY)
    assert clock.time() == before  # sent at once: no wait for a window, no throttle retried

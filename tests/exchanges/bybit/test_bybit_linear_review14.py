"""Bybit linear (USDT perpetuals) against the v5 docs: hedge mode, margin codes, per-product trade limits."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response

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

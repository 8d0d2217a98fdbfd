"""A Bybit contract fill's fee is in its settle coin, which the execution list leaves unnamed.

docs/v5/order/execution's linear example answers ``"feeCurrency": ""`` for an ETHPERP fill (a USDC
contract): the connector reads the contract's ``settleCoin`` off instruments-info, once per symbol,
instead of handing the caller an empty asset or guessing USDT.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from bybit_helpers import ETHPERP, KEY, NOW_MS, SECRET, Venue, answer, ethperp_execution

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

EXECUTION = ethperp_execution(NOW_MS - 1000)
"""The docs' example row (its execTime moved into the window asked)."""


def _venue(settle_coin: str, asked: list[Request]) -> FakeTransport:
    def instruments(request: Request) -> Response:
        asked.append(request)
        return answer({"category": "linear", "list": [{**ETHPERP, "settleCoin": settle_coin}], "nextPageCursor": ""})

    executions = lambda request: answer({"category": "linear", "list": [EXECUTION], "nextPageCursor": ""})  # noqa: E731
    return FakeTransport(Venue(FakeClock(NOW_MS / 1000), market_instruments_info=instruments,
                               execution_list=executions))


async def test_an_unnamed_fee_coin_is_the_contracts_settle_coin_asked_once() -> None:
    """feeCurrency "" on a USDC contract: fee_asset USDC, instruments-info asked once for two calls."""
    asked: list[Request] = []
    async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                              clock=FakeClock(NOW_MS / 1000), transport=_venue("USDC", asked)) as ex:
        first = await ex.get_fills("ETHPERP", since=NOW_MS - 60_000)
        again = await ex.get_fills("ETHPERP", since=NOW_MS - 60_000)
    assert [(f.fee, f.fee_asset) for f in first + again] == [(Decimal("0.071409"), "USDC")] * 2
    assert [r.query_string for r in asked] == ["category=linear&symbol=ETHPERP&limit=1000"]


async def test_no_settle_coin_either_is_a_protocol_error() -> None:
    """Neither the fill nor instruments-info name the coin: ProtocolError, never an empty fee asset."""
    async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                              clock=FakeClock(NOW_MS / 1000), transport=_venue("", [])) as ex:
        with pytest.raises(lotusx.ProtocolError, match="no settle coin"):
            await ex.get_fills("ETHPERP", since=NOW_MS - 60_000)

"""Binance user data, review 16: stream reports and REST answers dated on one clock."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Response
from lotusx.testing import FakeClock, FakeTransport
from tests.exchanges.binance import test_binance_streams as scripted
from tests.exchanges.binance.test_binance_streams import TERMINATED, Venue, recorded

# The scripted venue of test_binance_streams and a connector pointed at it.
venue, metrics, ex = scripted.venue, scripted.metrics, scripted.ex

PLACED_MS = 1_700_000_000_000  # the transaction time "T" of the NEW report
SENT_MS = PLACED_MS + 40  # its event time "E": when the venue, busy, sent it


def amended(quantity: str, update_ms: int) -> dict[str, Any]:
    """The order of ws_execution_report.json as GET /api/v3/openOrders lists it after an amendment."""
    return {"symbol": "ETHBTC", "orderId": 4293153, "clientOrderId": "mUvoqJxFIILMdfAW5iGSOW", "price": "0.10264410",
            "origQty": quantity, "executedQty": "0.00000000", "status": "NEW", "timeInForce": "GTC",
            "type": "LIMIT", "side": "BUY", "time": PLACED_MS, "updateTime": update_ms}


async def test_an_amendment_made_before_the_new_report_was_sent_is_reported_after_a_gap(
        ex: Binance, venue: Venue) -> None:
    """An order amended (keep priority) 20 ms after placement, its report lost to a gap, comes at its new size.

    The NEW report was sent 40 ms after the order was placed: dated by when it was sent, it
    would look newer than the amendment the REST answer dates by its update time, and the
    amendment would be dropped as an older state.
    """
    venue.user = [[recorded("ws_execution_report.json", T=PLACED_MS, E=SENT_MS), TERMINATED]]
    venue.open_orders = [amended("0.80000000", PLACED_MS + 20)]
    orders = ex.watch_orders()
    try:
        got = [await asyncio.wait_for(anext(orders), 5.0) for _ in range(2)]
    finally:
        await orders.aclose()  # type: ignore[attr-defined]
    assert [(o.status, o.quantity) for o in got] == [("NEW", Decimal("1.00000000")), ("NEW", Decimal("0.80000000"))]


@pytest.mark.parametrize("symbols", [["btcusdt"], ["BTCUSDT", "ethUSDT"], [""]])
async def test_a_symbol_binance_cannot_name_is_refused_before_the_stream_starts(symbols: list[str]) -> None:
    """watch_orders(symbols=[lower case]): ConfigError at its first step, not a refusal at the first reconnect."""
    transport = FakeTransport(lambda request: Response(status=500, body=b"{}"))
    async with lotusx.connect("binance", credentials=lotusx.Credentials(api_key="k" * 64, secret="s" * 64),
                              transport=transport, clock=FakeClock(1_700_000_000)) as ex:
        with pytest.raises(ConfigError, match="upper-case"):
            await anext(ex.watch_orders(symbols))
    assert transport.requests == []


async def test_one_symbol_given_as_a_str_is_refused_not_split_into_letters() -> None:
    """watch_orders(symbols="BTCUSDT"): a ConfigError naming the list to pass, not seven one-letter symbols."""
    transport = FakeTransport(lambda request: Response(status=500, body=b"{}"))
    async with lotusx.connect("binance", credentials=lotusx.Credentials(api_key="k" * 64, secret="s" * 64),
                              transport=transport, clock=FakeClock(1_700_000_000)) as ex:
        with pytest.raises(ConfigError, match=r"\['BTCUSDT'\]"):
            await anext(ex.watch_orders("BTCUSDT"))
    assert transport.requests == []

"""The kill switch with nothing open is an answer, not a failure: it logs no warning."""

from __future__ import annotations

from decimal import Decimal

import structlog

import lotusx
from lotusx.sim import serve


async def kill_switch_logs(open_order: bool) -> list[dict[str, object]]:
    """Binance's rest.request events of one cancel_all_orders, with or without an order open."""
    async with serve(venues=("binance",)) as sim:
        keys = sim.api_keys("binance")
        creds = lotusx.Credentials(keys.hmac_key, keys.hmac_secret)
        async with lotusx.connect("binance", credentials=creds, rest_url=sim.rest_url("binance")) as ex:
            if open_order:
                await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                     quantity=Decimal("0.01"), price=Decimal("40000")))
            with structlog.testing.capture_logs() as logs:
                assert len(await ex.cancel_all_orders("BTCUSDT")) == int(open_order)
    return [event for event in logs if event["event"] == "rest.request"]


async def test_binance_kill_switch_with_nothing_open_logs_at_info() -> None:
    """-2011 "Unknown order sent." to DELETE openOrders (nothing open) is logged at info, its error named."""
    [event] = await kill_switch_logs(open_order=False)
    assert event["log_level"] == "info"
    assert event["error"] == "NotFound" and event["status"] == 400


async def test_binance_kill_switch_that_cancels_logs_at_info_without_an_error() -> None:
    """An order open: the same call, at info, no error field."""
    [event] = await kill_switch_logs(open_order=True)
    assert event["log_level"] == "info" and "error" not in event

"""A ws_trading connection that cannot be opened is counted and logged, as a stream's failed connection is."""

from __future__ import annotations

import pytest

from lotusx import ConnectError
from tests.integration.test_ws_trading_review29 import bid, by_rest, desk


async def test_a_refused_websocket_api_connection_is_counted_per_attempt() -> None:
    """The venue refusing the upgrade: the order fails ConnectError, each attempt in ws_connect_failures_total."""
    async with desk() as d:
        d.sim.chaos("binance").refuse_ws = True
        with pytest.raises(ConnectError):
            await d.ex.place_order(bid(d, "ws-refused"))
        failures = d.ex.metrics.registry.get_sample_value(
            "lotusx_ws_connect_failures_total", {"exchange": "binance", "reason": "trading_ConnectError"})
        assert failures is not None and failures >= 2  # Retry re-sent it: nothing had left
        assert by_rest(d, "/api/v3/order") == []  # never sent over REST instead

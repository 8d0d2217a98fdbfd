"""Figures README.md states for a user to size by, pinned to the code that acts on them."""

from __future__ import annotations

from lotusx.account import RECONCILE_WAITS
from lotusx.exchanges.binance import LIMITS
from lotusx.exchanges.binance.endpoints import WS_API_CONNECTIONS, WS_CONNECTIONS
from lotusx.layers import Limiter, Pool


def test_binance_websocket_pools_admit_half_the_documented_300() -> None:
    """README: each WebSocket connection pool admits 150 of Binance's 300 a 5 minutes (the window's kind is unsaid)."""
    assert {Pool(WS_CONNECTIONS, 150, 300), Pool(WS_API_CONNECTIONS, 150, 300)} <= set(LIMITS)


def test_reconcile_waits_add_up_to_the_readmes_15_5_seconds() -> None:
    """README: a failing reconcile query is asked again after waits of up to 15.5 s in all."""
    assert sum(RECONCILE_WAITS) == 15.5


def test_a_limiter_holds_32_redis_connections_and_waits_2_s_by_default() -> None:
    """README: storage_timeout 2 s and at most 32 connections to Redis unless told otherwise."""
    limiter = Limiter(LIMITS)
    assert (limiter.storage_timeout, limiter.storage_connections) == (2.0, 32)

"""The venue's refusals are counted once per refused call, apart from the pools each one cooled."""

from __future__ import annotations

from lotusx.exchanges.binance.endpoints import LIMITS
from lotusx.layers import Limiter
from lotusx.metrics import Metrics


async def test_a_refusal_cooling_two_pools_is_one_refusal() -> None:
    """rate_limit_refusals_total counts the refused call once; rate_limited_total each pool it cooled."""
    metrics = Metrics()
    limiter = Limiter(LIMITS, metrics=metrics, exchange="binance")
    await limiter.cool_off(["REQUEST_WEIGHT", "RAW_REQUESTS"], 1.0)
    await limiter.cool_off(None, 1.0)  # an IP ban: every pool, one refusal
    assert metrics.registry.get_sample_value("lotusx_rate_limit_refusals_total", {"exchange": "binance"}) == 2
    assert metrics.registry.get_sample_value(
        "lotusx_rate_limited_total", {"exchange": "binance", "pool": "RAW_REQUESTS", "source": "venue"}) == 1

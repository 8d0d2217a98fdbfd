"""The examples' metrics summary tells the limiter's own waits apart from the venue's refusals."""

from __future__ import annotations

from lotusx.demo import summary
from lotusx.exchanges.binance.endpoints import LIMITS
from lotusx.layers.limiter import Limiter
from lotusx.metrics import Metrics


def last_line(metrics: Metrics) -> str:
    return summary(metrics)[-1]


def test_local_waits_are_not_shown_as_the_venue_rate_limiting() -> None:
    """Two calls our own limiter held back (waited for room): 'held back here 2', and no venue refusal."""
    metrics = Metrics()
    metrics.rate_limited.labels("bybit", "order_create_batch", "local").inc(2)
    line = last_line(metrics)
    assert "held back here 2" in line and "refused by the venue 0" in line


async def test_a_venue_refusal_is_counted_as_one() -> None:
    """A 429 naming no pool cools both pools the call charged, and still shows as one refusal."""
    metrics = Metrics()
    limiter = Limiter(LIMITS, metrics=metrics, exchange="binance")
    await limiter.cool_off(["REQUEST_WEIGHT", "RAW_REQUESTS"], 1.0)
    line = last_line(metrics)
    assert "held back here 0" in line and "refused by the venue 1" in line

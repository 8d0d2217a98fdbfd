"""rate_limit_wait_seconds resolves the waits a limiter really makes: up to max_wait, not only up to 10 s."""

from __future__ import annotations

from lotusx.layers.limiter import Limiter, Pool
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock

T0 = 1_700_000_040.0  # a whole minute since the epoch
WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)


async def test_a_25_second_wait_lands_in_a_finite_bucket_above_10_seconds() -> None:
    """A full minute pool 35 s in waits 25 s: counted in a finite bucket, so a quantile can tell it from 10 s."""
    clock, metrics = FakeClock(T0 + 35), Metrics()
    limiter = Limiter([WEIGHT], key="wait-buckets", clock=clock, max_wait=30.0, guard=0.0, metrics=metrics,
                      exchange="demo")
    await limiter.acquire({"REQUEST_WEIGHT": 10})
    await limiter.acquire({"REQUEST_WEIGHT": 1})
    buckets = {
        float(s.labels["le"]): s.value
        for family in metrics.registry.collect() if family.name == "lotusx_rate_limit_wait_seconds"
        for s in family.samples if s.name.endswith("_bucket")}
    assert buckets[10.0] == 0
    assert min(bound for bound, count in buckets.items() if count == 1) < float("inf")

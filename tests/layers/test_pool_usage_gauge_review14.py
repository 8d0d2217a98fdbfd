"""rate_limit_pool_usage_ratio shows the fullest live limiter of a pool, not the last one built."""

from __future__ import annotations

import gc

from lotusx.layers.limiter import Limiter, Pool
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock

T0 = 1_700_000_000.0


def usage(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("lotusx_rate_limit_pool_usage_ratio",
                                             {"exchange": "demo", "pool": "WS_MESSAGES"})


def stream_limiter(clock: FakeClock, metrics: Metrics, key: str) -> Limiter:
    """A per-connection message limiter, as each stream of a venue builds its own."""
    return Limiter([Pool("WS_MESSAGES", 10, 1)], key=key, clock=clock, metrics=metrics, exchange="demo")


async def test_the_gauge_reads_the_fullest_of_the_live_limiters() -> None:
    """A busy stream's usage shows though a quieter stream's limiter was built after it."""
    clock, metrics = FakeClock(T0), Metrics()
    busy = stream_limiter(clock, metrics, "stream-1")
    quiet = stream_limiter(clock, metrics, "stream-2")
    await busy.acquire({"WS_MESSAGES": 8})
    await quiet.acquire({"WS_MESSAGES": 1})
    assert usage(metrics) == 0.8


async def test_a_limiter_gone_drops_out_of_the_gauge() -> None:
    """Once the busy stream's limiter is gone, the gauge reads the one still alive."""
    clock, metrics = FakeClock(T0), Metrics()
    busy = stream_limiter(clock, metrics, "stream-1")
    quiet = stream_limiter(clock, metrics, "stream-2")
    await busy.acquire({"WS_MESSAGES": 8})
    await quiet.acquire({"WS_MESSAGES": 1})
    del busy
    gc.collect()
    assert usage(metrics) == 0.1

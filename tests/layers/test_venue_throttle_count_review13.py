"""One venue throttle is one rate_limited{source=venue} sample."""

from __future__ import annotations

import pytest

from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Idempotency, Request, Response
from lotusx.layers.ratelimit import ENDPOINT_POOL, Limiter, Pool, RateLimit, RemainingHeader
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, ScriptedService

T0 = 1_700_000_040.0
ORDER = Endpoint("new_order", "POST", "/v5/order/create", signed=True, costs={"new_order": 1},
                 idempotency=Idempotency.SAFE_WITH_CLIENT_ID)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def order() -> Request:
    return Request(method=ORDER.method, path=ORDER.path, endpoint=ORDER, ext={"client_order_id": "c-1"})


async def test_one_bybit_throttle_is_counted_once_as_venue_throttling() -> None:
    """A 10006 whose headers also say the pool is exhausted is one venue throttle, not two."""
    clock, metrics = FakeClock(T0), Metrics()
    limiter = Limiter([Pool("new_order", 10, 1)], key="obs-bybit", clock=clock, metrics=metrics, exchange="demo")
    reset = str(int(T0 * 1000) + 800)
    headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10", "X-Bapi-Limit-Reset-Timestamp": reset}
    answer = Response(status=200, headers=headers)
    throttled = e.RateLimited("10006", retry_after=0.8, pool="new_order", response=answer)
    usage = (RemainingHeader("X-Bapi-Limit-Status", "X-Bapi-Limit", "X-Bapi-Limit-Reset-Timestamp", ENDPOINT_POOL),)
    with pytest.raises(e.RateLimited):
        await RateLimit(limiter, usage=usage)(ScriptedService([throttled]))(order())
    assert value(metrics, "lotusx_rate_limited_total", exchange="demo", pool="new_order", source="venue") == 1

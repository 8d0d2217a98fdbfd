"""Reconciles and ambiguous orders have metrics and a stable log event."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Idempotency, Request, Response
from lotusx.layers.retry import Retry, RetryPolicy
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, ScriptedService

T0 = 1_700_000_040.0
ORDER = Endpoint("new_order", "POST", "/v5/order/create", signed=True, costs={"new_order": 1},
                 idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
OK = Response(status=200, body=b"{}")


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def order() -> Request:
    return Request(method=ORDER.method, path=ORDER.path, endpoint=ORDER, ext={"client_order_id": "c-1"})


def retry(metrics: Metrics, reconcile: Any = None) -> Retry:
    return Retry(RetryPolicy(jitter=lambda _lo, _hi: 0.0), reconcile=reconcile, clock=FakeClock(T0),
                 metrics=metrics, exchange="demo")


async def test_a_reconcile_that_finds_the_order_is_counted_as_found() -> None:
    """A placement whose answer was lost and whose order the lookup finds counts reconciles{outcome=found}."""
    metrics = Metrics()

    async def found(_: Request) -> Response:
        return OK

    await retry(metrics, found)(ScriptedService([e.Timeout("lost")]))(order())
    assert value(metrics, "lotusx_reconciles_total", exchange="demo", endpoint="new_order", outcome="found") == 1


async def test_a_reconcile_that_finds_nothing_is_counted_as_absent() -> None:
    """A lookup proving the order absent counts reconciles{outcome=absent} before the re-send."""
    metrics = Metrics()

    async def absent(_: Request) -> None:
        return None

    await retry(metrics, absent)(ScriptedService([e.Timeout("lost"), OK]))(order())
    assert value(metrics, "lotusx_reconciles_total", exchange="demo", endpoint="new_order", outcome="absent") == 1


async def test_a_failed_reconcile_counts_an_ambiguous_order() -> None:
    """A lookup that keeps failing ends in AmbiguousOrderState, counted with cause reconcile_failed."""
    metrics = Metrics()

    async def failing(_: Request) -> None:
        raise e.InvalidRequest("bad lookup")

    with pytest.raises(e.AmbiguousOrderState):
        await retry(metrics, failing)(ScriptedService([e.Timeout("lost")]))(order())
    assert value(metrics, "lotusx_ambiguous_orders_total", exchange="demo", endpoint="new_order",
                 cause="reconcile_failed") == 1
    assert value(metrics, "lotusx_reconciles_total", exchange="demo", endpoint="new_order", outcome="failed") == 1


async def test_an_order_without_a_reconcile_hook_counts_as_ambiguous() -> None:
    """With no hook, a lost placement answer is an ambiguous order with cause no_reconcile."""
    metrics = Metrics()
    with pytest.raises(e.AmbiguousOrderState):
        await retry(metrics)(ScriptedService([e.Timeout("lost")]))(order())
    assert value(metrics, "lotusx_ambiguous_orders_total", exchange="demo", endpoint="new_order",
                 cause="no_reconcile") == 1


async def test_a_duplicate_client_id_the_lookup_cannot_find_counts_as_ambiguous() -> None:
    """DuplicateClientOrderId with no order found is ambiguous with cause duplicate_not_found."""
    metrics = Metrics()

    async def absent(_: Request) -> None:
        return None

    with pytest.raises(e.AmbiguousOrderState):
        await retry(metrics, absent)(ScriptedService([e.DuplicateClientOrderId("dup")]))(order())
    assert value(metrics, "lotusx_ambiguous_orders_total", exchange="demo", endpoint="new_order",
                 cause="duplicate_not_found") == 1


async def test_an_ambiguous_order_is_logged_as_a_warning_with_a_stable_event_name() -> None:
    """rest.ambiguous_order is logged at warning, naming the client order id and the cause."""
    with capture_logs() as logs, pytest.raises(e.AmbiguousOrderState):
        await retry(Metrics())(ScriptedService([e.Timeout("lost")]))(order())
    events = [log for log in logs if log["event"] == "rest.ambiguous_order"]
    assert [(ev["log_level"], ev["client_order_id"], ev["cause"]) for ev in events] == [
        ("warning", "c-1", "no_reconcile")]

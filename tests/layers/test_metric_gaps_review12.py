"""The last observability gaps: usage reports not learned from, and reconcile lookups asked again."""

from __future__ import annotations

from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.limiter import Limiter, Pool
from lotusx.layers.ratelimit import RateLimit
from lotusx.metrics import Metrics
from lotusx.testing import ScriptedService
from tests.layers.test_reconcile_metrics_review13 import OK, order, retry, value


class Garbled:
    """A usage parser that cannot read the venue's headers."""

    names = ("X-Used",)

    def read(self, response: Response) -> list[object]:
        raise ValueError("garbled usage header")


async def test_a_usage_report_not_learned_from_is_counted() -> None:
    """A usage header the limiter cannot learn from counts rate_limit_learning_failures_total."""
    metrics = Metrics()
    limiter = Limiter([Pool("weight", 100, 60)], key=f"gaps-{id(metrics)}", metrics=metrics, exchange="demo")
    service = RateLimit(limiter, usage=(Garbled(),))(ScriptedService([OK]))
    await service(Request(method="GET", path="/x", endpoint=Endpoint("x", costs={"weight": 1})))
    limiter.settle()  # memory:// learns once the caller has the answer
    assert value(metrics, "lotusx_rate_limit_learning_failures_total", exchange="demo") == 1


async def test_a_reconcile_lookup_asked_again_is_counted_as_retried() -> None:
    """A lookup that failed once and is asked again counts reconciles{outcome=retried}, then found."""
    metrics = Metrics()
    answers: list[Response | e.LotusXError] = [e.ServerError("busy"), OK]

    async def lookup(_: Request) -> Response:
        answer = answers.pop(0)
        if isinstance(answer, e.LotusXError):
            raise answer
        return answer

    await retry(metrics, lookup)(ScriptedService([e.Timeout("lost")]))(order())
    labels = {"exchange": "demo", "endpoint": "new_order"}
    assert [value(metrics, "lotusx_reconciles_total", **labels, outcome=outcome) for outcome in
            ("retried", "found")] == [1, 1]

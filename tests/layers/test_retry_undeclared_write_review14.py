"""A write whose endpoint declares no idempotency is never re-sent once it may have reached the venue."""

from __future__ import annotations

import pytest

from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.retry import Retry, RetryPolicy
from lotusx.testing import FakeClock, ScriptedService

OK = Response(status=200, body=b"{}")


@pytest.mark.parametrize("endpoint", [None, Endpoint("amend", "POST", "/api/v3/order/amend")],
                         ids=["RestClient.post without endpoint", "hand-declared POST endpoint"])
async def test_an_undeclared_write_that_timed_out_is_not_sent_again(endpoint: Endpoint | None) -> None:
    """A POST with no declared class that timed out raises Timeout after one send: it may have run."""
    request = Request(method="POST", path="/api/v3/order/amend") if endpoint is None else Request(
        method="POST", path=endpoint.path, endpoint=endpoint)
    inner = ScriptedService([e.Timeout(), OK])
    clock = FakeClock()
    with pytest.raises(e.Timeout):
        await Retry(RetryPolicy(), clock=clock)(inner)(request)
    assert len(inner.requests) == 1


async def test_an_undeclared_read_that_timed_out_is_sent_again() -> None:
    """A GET with no declared class is a read: retried after a timeout."""
    inner = ScriptedService([e.Timeout(), OK])
    assert await Retry(RetryPolicy(), clock=FakeClock())(inner)(Request(method="GET", path="/api/v3/depth")) is OK
    assert len(inner.requests) == 2

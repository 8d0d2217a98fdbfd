"""The refusal a connector author meets when a placement carries no client order id to be found by."""

from __future__ import annotations

import pytest

from lotusx import Endpoint, Idempotency, Request, Response
from lotusx.kernel.errors import ConfigError
from lotusx.layers import Retry, RetryPolicy
from lotusx.testing import FakeClock, ScriptedService

PLACE = Endpoint("place_order", "POST", "/v2/orders", signed=True, idempotency=Idempotency.SAFE_WITH_CLIENT_ID)


async def test_a_placement_without_its_client_id_in_ext_says_how_to_pass_it() -> None:
    """The error names the Request field to set and what goes in it, not only what is missing."""
    wire = ScriptedService([Response(status=200, body=b"{}")])
    service = Retry(RetryPolicy(max_attempts=3), clock=FakeClock())(wire)
    with pytest.raises(ConfigError, match=r"ext=\{'client_order_id': \.\.\.\}") as refused:
        await service(Request(method="POST", path=PLACE.path, endpoint=PLACE))
    assert "the id sent to the venue" in str(refused.value)
    assert wire.requests == []

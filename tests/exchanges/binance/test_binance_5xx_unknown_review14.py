"""A Binance 5xx is "execution status UNKNOWN" (rest-api.md, HTTP Return Codes), whatever code its body carries."""

from __future__ import annotations

import orjson
import pytest

from lotusx.exchanges.binance.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.layers.retry import may_have_executed

ORDER = Request(method="POST", path="/api/v3/order")


@pytest.mark.parametrize(("code", "msg"), [
    (-2010, "Account has insufficient balance for requested action."),
    (-2010, "Order would immediately match and take."),
    (-1013, "Filter failure: PRICE_FILTER"),
    (-2011, "Unknown order sent."),
])
def test_a_5xx_with_a_refusal_code_is_a_server_error(code: int, msg: str) -> None:
    """A refusal's code under a 5xx is no refusal: ServerError, which may have executed, never OrderRejected."""
    error = classify(ORDER, Response(status=503, body=orjson.dumps({"code": code, "msg": msg})))
    assert type(error) is e.ServerError and may_have_executed(error)

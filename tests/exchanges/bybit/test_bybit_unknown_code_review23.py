"""Bybit: a placement answered with a retCode that is no documented refusal is never read as "not placed".

docs/v5/error lists what each code means. A refusal (a validation failed: nothing was placed)
lets the caller place again; a server failure, a timeout or a code the docs do not list leaves
the order possibly live, so the placement is looked up by its orderLinkId before anything else.
"""

from __future__ import annotations

import orjson
import pytest
from bybit_helpers import LIMIT, ORDER, answer, connect

from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.layers.retry import may_have_executed

CREATE = Request(method="POST", path=ep.ORDER_CREATE.path, endpoint=ep.ORDER_CREATE)
LINEAR_CREATE = Request(method="POST", path=ep.LINEAR_ORDER_CREATE.path, endpoint=ep.LINEAR_ORDER_CREATE)
REALTIME = Request(method="GET", path=ep.ORDER_REALTIME.path, endpoint=ep.ORDER_REALTIME)
CREATE_PATH = "/v5/order/create"
NOTHING = answer({"list": [], "nextPageCursor": ""})


def venue(code: int, msg: str = "msg") -> Response:
    return answer({}, ret_code=code, ret_msg=msg)


@pytest.mark.parametrize(("code", "msg"), [
    (10000, "Server Timeout"),
    (10016, "Server error."),
    (170001, "Internal error."),
    (170007, "Timeout waiting for response from backend server."),
    (170146, "Order creation timeout"),
    (170149, "Create order failed"),
    (3400214, "Server error, please try again later"),
    (10014, "Invalid duplicate request."),
])
def test_a_placement_answered_a_documented_failure_may_have_executed(code: int, msg: str) -> None:
    """A server failure, a timeout or a create that failed for no stated reason is a ServerError: looked up."""
    for request in (CREATE, LINEAR_CREATE):
        error = classify(request, venue(code, msg))
        assert type(error) is e.ServerError and may_have_executed(error)


@pytest.mark.parametrize(("code", "msg", "kind"), [
    (170193, "Buy order price cannot be higher than %s.", e.OrderRejected),
    (110003, "Order price exceeds the allowable range.", e.OrderRejected),
    (170136, "Order quantity lower than the minimum.", e.OrderRejected),
    (110094, "Order notional value below the lower limit", e.OrderRejected),
    (30208, "Failed to submit order(s). The order price is higher than the maximum buying price", e.InvalidRequest),
    (10027, "Transactions are banned.", e.InvalidRequest),
])
def test_a_placement_answered_a_documented_refusal_is_a_refusal(code: int, msg: str,
                                                                 kind: type[e.LotusXError]) -> None:
    """A refusal the docs list stays a definite refusal: nothing placed, the caller may place again."""
    error = classify(CREATE, venue(code, msg))
    assert type(error) is kind and not may_have_executed(error)


@pytest.mark.parametrize("code", [170999, 119999, 10099, 3499999, 42])
def test_a_placement_answered_an_undocumented_code_may_have_executed(code: int) -> None:
    """A code the docs do not list may be a failure after the order landed: a ServerError, never a refusal."""
    error = classify(CREATE, venue(code))
    assert type(error) is e.ServerError and may_have_executed(error)
    assert error.code == code


def test_an_undocumented_code_elsewhere_is_still_an_invalid_request() -> None:
    """Away from a placement nothing can be placed twice: an unlisted code stays an InvalidRequest."""
    assert type(classify(REALTIME, venue(170999))) is e.InvalidRequest


async def test_a_placement_answered_an_undocumented_code_returns_the_order_it_placed() -> None:
    """Undocumented code, the order is there: the lookup's order is the answer, the placement sent once."""
    conn, transport = connect(order_create=lambda request: venue(170999, "something new"),
                              order_realtime=lambda request: answer({"list": [ORDER], "nextPageCursor": ""}),
                              order_history=lambda request: NOTHING)
    async with conn as ex:
        placed = await ex.place_order(LIMIT)
    assert (placed.order_id, placed.client_order_id) == ("42", "cid-1")
    assert len([r for r in transport.requests if r.path == CREATE_PATH]) == 1


async def test_a_placement_answered_an_undocumented_code_never_found_is_ambiguous() -> None:
    """Undocumented code, lookups empty: AmbiguousOrderState; no placement left without a lookup before it."""
    conn, transport = connect(order_create=lambda request: venue(170999, "something new"),
                              order_realtime=lambda request: NOTHING, order_history=lambda request: NOTHING)
    async with conn as ex:
        with pytest.raises(e.AmbiguousOrderState) as caught:
            await ex.place_order(LIMIT)
    assert caught.value.client_order_id == "cid-1"
    paths = [r.path for r in transport.requests if r.path != "/v5/market/time"]
    creates = [r for r in transport.requests if r.path == CREATE_PATH]
    # Every re-send follows a lookup that found nothing, and carries the same orderLinkId: the
    # venue's duplicate check (110072) stops it if the first landed after all.
    assert all(paths[i - 1] != CREATE_PATH for i, path in enumerate(paths) if path == CREATE_PATH and i > 0)
    assert {orjson.loads(r.body or b"")["orderLinkId"] for r in creates} == {"cid-1"}

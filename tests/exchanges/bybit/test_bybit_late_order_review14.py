"""Bybit: a placement whose lost first attempt lands late is never reported as not placed.

``/v5/order/realtime`` may lag the matching engine ("During periods of extreme market volatility,
this interface may experience increased latency", docs/v5/order/open-order), so the lookup after
a lost answer can miss an order that exists. The re-send with the same orderLinkId is the
safety net (110072 "OrderLinkedID is duplicate", docs/v5/error), but only if the venue gets to
check it: a re-send throttled (10006 "Too many visits") says nothing about the first attempt.
"""

from __future__ import annotations

from typing import Any

import pytest
from bybit_helpers import LIMIT, NOW_MS, ORDER, Handler, answer, connect

from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeTransport

# Reset a minute away on the venue's clock: longer than Retry's deadline allows it to wait.
THROTTLED = answer({}, ret_code=10006, ret_msg="Too many visits!", headers={
    "X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10", "X-Bapi-Limit-Reset-Timestamp": str(NOW_MS + 60_000)})


def lagging(order: dict[str, Any] | None) -> Handler:
    """/v5/order/realtime: empty at the first lookup, then ``order`` (or still nothing)."""
    asked: list[Request] = []

    def realtime(request: Request) -> Response:
        asked.append(request)
        found = [order] if order is not None and len(asked) > 1 else []
        return answer({"list": found, "nextPageCursor": ""})

    return realtime


def scripted(realtime: Handler) -> tuple[Any, FakeTransport]:
    """A placement answered 10016, then throttled; ``realtime`` answers its lookups, the history nothing."""
    empty = answer({"list": [], "nextPageCursor": ""})
    return connect(order_create=[answer({}, ret_code=10016, ret_msg="Server error"), THROTTLED],
                   order_realtime=realtime, order_history=lambda request: empty)


async def test_an_order_landing_after_its_lookup_is_returned_when_the_resend_is_throttled() -> None:
    """10016, lookup empty, re-send throttled past the deadline: the order that landed is the answer."""
    conn, transport = scripted(lagging(ORDER))
    async with conn as ex:
        placed = await ex.place_order(LIMIT)
    assert (placed.order_id, placed.client_order_id) == ("42", "cid-1")
    assert len([r for r in transport.requests if r.path == "/v5/order/create"]) == 2


async def test_an_order_still_unseen_after_a_throttled_resend_is_ambiguous_not_rate_limited() -> None:
    """10016, lookups empty, re-send throttled: AmbiguousOrderState, never a RateLimited reading 'not placed'."""
    conn, _ = scripted(lagging(None))
    async with conn as ex:
        with pytest.raises(e.AmbiguousOrderState) as caught:
            await ex.place_order(LIMIT)
    assert caught.value.client_order_id == "cid-1"

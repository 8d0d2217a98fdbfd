"""Retry: a placement whose first attempt may have executed never ends in a plain "not placed".

On Bybit the reconcile query can answer "absent" for an order that is still on its way
(``/v5/order/realtime`` lags "during periods of extreme market volatility", docs v5/order/open-order).
Retry then re-sends the same orderLinkId, and if the order lands after all the venue's
duplicate check catches it. That net holds only if the re-send reaches the venue's duplicate check:
a re-send throttled, refused or never sent proves nothing about the first attempt's order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Idempotency, Request, Response
from lotusx.layers.retry import Retry, RetryPolicy, may_have_executed
from lotusx.testing import FakeClock

ORDER = Endpoint("order_create", "POST", "/v5/order/create", signed=True,
                 idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
PLACE = Request(method="POST", path=ORDER.path, endpoint=ORDER, ext={"client_order_id": "cid-1"})
FOUND = Response(status=200, body=b'{"orderLinkId":"cid-1"}')


class LaggingVenue:
    """The first placement times out and its order lands only after the first lookup; re-sends meet ``refusals``."""

    def __init__(self, *refusals: e.LotusXError, lands: bool = True) -> None:
        self.refusals = list(refusals)
        self.lands = lands
        self.placements = 0
        self.lookups = 0

    @property
    def exists(self) -> bool:
        return self.lands and self.lookups >= 1

    async def place(self, request: Request) -> Response:
        self.placements += 1
        if self.placements == 1:
            raise e.Timeout("no answer in time")
        raise self.refusals.pop(0)

    async def query(self, request: Request) -> Response | None:
        found = FOUND if self.exists else None
        self.lookups += 1
        return found


class Subclassed(RetryPolicy):
    """A user's policy: Retry asks it about every outcome, successes too."""


def retry(venue: LaggingVenue, max_attempts: int = 3) -> Retry:
    return Retry(RetryPolicy(max_attempts=max_attempts, base=0.1, cap=1.0, deadline=10.0),
                 reconcile=venue.query, clock=FakeClock())


async def test_a_resend_throttled_for_too_long_returns_the_order_the_first_attempt_placed() -> None:
    """Timeout, lookup absent, then a 10-minute ban on the re-send: the late order is looked up and returned."""
    venue = LaggingVenue(e.IpBanned("banned", retry_after=600.0))
    assert await retry(venue)(venue.place)(PLACE) == FOUND
    assert venue.placements == 2


async def test_resends_that_never_left_return_the_order_the_first_attempt_placed() -> None:
    """Timeout, lookup absent, then re-sends that never connected: not a ConnectError, the order is found."""
    venue = LaggingVenue(e.ConnectError("refused"), e.ConnectError("refused"))
    assert await retry(venue)(venue.place)(PLACE) == FOUND


async def test_a_resend_rejected_for_balance_returns_the_order_that_holds_the_balance() -> None:
    """The re-send meets InsufficientBalance because the first attempt's order locked it: that order is the answer."""
    venue = LaggingVenue(e.InsufficientBalance("insufficient"))
    assert await retry(venue)(venue.place)(PLACE) == FOUND


async def test_an_order_still_absent_after_a_refused_resend_is_ambiguous() -> None:
    """Absent at both lookups, the last re-send refused: AmbiguousOrderState, never the refusal alone."""
    venue = LaggingVenue(e.IpBanned("banned", retry_after=600.0), lands=False)
    with pytest.raises(e.AmbiguousOrderState) as caught:
        await retry(venue)(venue.place)(PLACE)
    assert caught.value.client_order_id == "cid-1"
    assert isinstance(caught.value.__cause__, e.IpBanned)
    assert venue.lookups == 2


async def test_a_refusal_with_no_earlier_doubt_is_raised_as_it_is() -> None:
    """A placement refused on its only attempt proves nothing was placed: the refusal itself, no lookup."""
    venue = LaggingVenue()
    venue.placements = 1  # the first attempt is a plain refusal
    venue.refusals = [e.IpBanned("banned", retry_after=600.0)]
    with pytest.raises(e.IpBanned):
        await retry(venue)(venue.place)(PLACE)
    assert venue.lookups == 0


REFUSALS: dict[str, Callable[[], e.LotusXError]] = {
    "connect": e.ConnectError, "throttled": lambda: e.RateLimited(retry_after=0.0),
    "banned": lambda: e.IpBanned(retry_after=600.0), "balance": e.InsufficientBalance, "5xx_before": e.ServerError}
"""Re-sends that place nothing, by fault name."""


class DedupVenue:
    """Bybit's rules under a fault script: an orderLinkId is taken once, and a ``late`` order lands after the lookup.

    ``late`` accepts the order but times out, and the order shows only once the next lookup has
    answered (the query lags the matching engine); every other fault is a re-send that places nothing.
    """

    def __init__(self, faults: list[str]) -> None:
        self.faults = list(faults)
        self.created = 0
        self.pending = 0

    def land(self) -> None:
        self.created += self.pending
        self.pending = 0

    async def place(self, request: Request) -> Response:
        self.land()
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault in REFUSALS:
            raise REFUSALS[fault]()
        if self.created:
            raise e.DuplicateClientOrderId()
        if fault == "late":
            self.pending += 1
            raise e.Timeout()
        self.created += 1
        return FOUND

    async def query(self, request: Request) -> Response | None:
        found = FOUND if self.created else None
        self.land()
        return found


@settings(max_examples=300, deadline=None)
@given(faults=st.lists(st.sampled_from(["ok", "late", *REFUSALS]), max_size=6))
def test_an_error_saying_nothing_ran_always_means_no_order_even_one_landing_late(faults: list[str]) -> None:
    """For any faults, once every late order has landed: a placed answer means one order, a refusal none.

    Only AmbiguousOrderState, or an error that itself says the request may have run (a timeout,
    a 5xx: ``may_have_executed``), may leave an order behind.
    """
    venue = DedupVenue(faults)
    service = Retry(RetryPolicy(max_attempts=4, base=0.1, cap=1.0, deadline=10.0),
                    reconcile=venue.query, clock=FakeClock())(venue.place)

    async def run() -> Response | e.LotusXError:
        try:
            return await service(PLACE)
        except e.LotusXError as exc:
            return exc

    result = asyncio.run(run())
    venue.land()
    assert venue.created <= 1
    if isinstance(result, Response):
        assert venue.created == 1
    elif not isinstance(result, e.AmbiguousOrderState) and not may_have_executed(result):
        assert venue.created == 0, result


async def test_a_raw_refusal_after_an_earlier_doubt_is_not_handed_back_as_the_answer() -> None:
    """Without MapErrors (a hand-built stack), a raw 400 to the re-send still leads to the late order."""
    venue = LaggingVenue()
    venue.refusals = []

    async def place(request: Request) -> Response:
        if venue.placements:
            return Response(status=400, body=b'{"code":-1013,"msg":"refused"}')
        return await venue.place(request)

    assert await retry(venue)(place)(PLACE) == FOUND


async def test_a_success_after_an_earlier_doubt_is_the_answer_without_another_lookup() -> None:
    """Timeout, lookup absent, then the re-send is placed: its own answer is the result, no third lookup."""
    venue = LaggingVenue(lands=False)
    placed = Response(status=200, body=b'{"orderLinkId":"cid-1","orderId":"7"}')

    async def place(request: Request) -> Response:
        if venue.placements:
            return placed
        return await venue.place(request)

    for policy in (RetryPolicy(base=0.1), Subclassed(base=0.1)):  # a 2xx skips decide() only for the stock one
        venue.placements, venue.lookups = 0, 0
        assert await Retry(policy, reconcile=venue.query, clock=FakeClock())(place)(PLACE) is placed
        assert venue.lookups == 1

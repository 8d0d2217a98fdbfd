"""A placement's task cancelled at any await of Retry: the cancellation goes through, and nothing is sent after it.

The placement walks every await Retry has: an attempt whose answer is lost, a lookup that
fails, the lookup's pause, a lookup that finds nothing, the back-off, a re-send refused as a
duplicate, a lookup that finds the order. Cancelled at each in turn, the caller gets its
``CancelledError`` (never swallowed into a result, never turned into a refusal) and neither
the venue nor the lookup is asked anything more.
"""

from __future__ import annotations

import asyncio

import pytest

from lotusx.kernel import errors as e
from lotusx.kernel.message import Endpoint, Idempotency, Request, Response
from lotusx.layers.retry import Retry, RetryPolicy

ORDER = Endpoint("order_create", "POST", "/v5/order/create", signed=True, idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
PLACE = Request(method="POST", path="/v5/order/create", endpoint=ORDER, ext={"client_order_id": "cid-1"})
FOUND = Response(status=200, body=b"{}")
STEPS = ["attempt", "lookup", "pause", "lookup", "back-off", "attempt", "lookup"]
OUTCOMES: dict[str, list[object]] = {"attempt": [e.Timeout("lost"), e.DuplicateClientOrderId("taken")],
                                     "lookup": [e.ServerError("busy"), None, FOUND]}


class Walk:
    """Every await of the placement passes here; the ``stop``-th one never returns."""

    def __init__(self, stop: int) -> None:
        self.stop, self.seen = stop, list[str]()
        self.stopped = asyncio.Event()
        self.outcomes = {name: list(answers) for name, answers in OUTCOMES.items()}
        self.sleeps = iter(["pause", "back-off"])

    async def step(self, name: str) -> object:
        self.seen.append(name)
        if len(self.seen) == self.stop:
            self.stopped.set()
            await asyncio.Event().wait()
        return self.outcomes[name].pop(0) if name in self.outcomes else None

    async def attempt(self, request: Request) -> Response:
        outcome = await self.step("attempt")
        assert isinstance(outcome, BaseException)
        raise outcome

    async def lookup(self, request: Request) -> Response | None:
        outcome = await self.step("lookup")
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is None or isinstance(outcome, Response)
        return outcome

    # The clock Retry sleeps on: its sleeps are the failed lookup's pause, then the back-off.
    def monotonic(self) -> float:
        return 0.0

    def time(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        await self.step(next(self.sleeps))


def retry(walk: Walk) -> Retry:
    return Retry(RetryPolicy(max_attempts=3, jitter=lambda lo, hi: hi), reconcile=walk.lookup, clock=walk)


async def test_the_walk_ends_in_the_order_found() -> None:
    """Uncancelled, the walk passes every await once and ends in the order the last lookup found."""
    walk = Walk(stop=0)
    assert await retry(walk)(walk.attempt)(PLACE) is FOUND
    assert walk.seen == STEPS


@pytest.mark.parametrize("stop", range(1, len(STEPS) + 1), ids=lambda n: f"{n}-{STEPS[n - 1]}")
async def test_a_cancel_at_any_await_is_a_cancellation_and_nothing_follows(stop: int) -> None:
    """Cancelled at that await: CancelledError, and no attempt or lookup after it."""
    walk = Walk(stop)
    task = asyncio.create_task(retry(walk)(walk.attempt)(PLACE))
    await asyncio.wait_for(walk.stopped.wait(), 10)  # a bound against a hang, not a timing assertion
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert walk.seen == STEPS[:stop]

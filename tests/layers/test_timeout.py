"""Timeout bounds one attempt, Deadline a whole call; both cancel the inner call cleanly.

Expiry is driven by tiny real timeouts against services that wait on an Event nobody sets:
the assertions are about behaviour (which error, what got cancelled), never about durations.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest

from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, stack
from lotusx.layers.retry import Retry, RetryPolicy
from lotusx.layers.timeout import Deadline, Timeout
from lotusx.testing import FakeClock, ScriptedService

TINY = 0.01
REQUEST = Request(method="GET", path="/api/v3/depth", query=(("signature", "not-for-messages"),))
OK = Response(status=200)


class Hang:
    """A service that never answers and records how its call ended."""

    def __init__(self) -> None:
        self.never = asyncio.Event()
        self.cancelled = 0

    async def __call__(self, request: Request) -> Response:
        try:
            await self.never.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("the event is never set")


async def test_fast_call_passes_through() -> None:
    """A response within the limit is returned unchanged."""
    assert await Timeout(5)(ScriptedService([OK]))(REQUEST) is OK


async def test_slow_attempt_raises_timeout() -> None:
    """An attempt over its limit raises lotusx Timeout, not DeadlineExceeded."""
    with pytest.raises(e.Timeout) as raised:
        await Timeout(TINY)(Hang())(REQUEST)
    assert type(raised.value) is e.Timeout


async def test_timeout_message_names_the_path_but_not_the_query() -> None:
    """The error text says what timed out without the signed query."""
    with pytest.raises(e.Timeout) as raised:
        await Timeout(TINY)(Hang())(REQUEST)
    assert "GET /api/v3/depth" in str(raised.value)
    assert "not-for-messages" not in str(raised.value)


@pytest.mark.filterwarnings("error")
async def test_inner_call_is_cancelled_and_nothing_is_left_running() -> None:
    """On expiry the inner call sees CancelledError once and no task outlives the call."""
    hang = Hang()
    with pytest.raises(e.Timeout):
        await Timeout(TINY)(hang)(REQUEST)
    assert hang.cancelled == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_deadline_raises_deadline_exceeded() -> None:
    """Deadline's expiry is DeadlineExceeded (a Timeout subclass)."""
    with pytest.raises(e.DeadlineExceeded):
        await Deadline(TINY)(Hang())(REQUEST)


async def test_someone_elses_timeout_error_is_not_renamed() -> None:
    """A TimeoutError raised by the inner service itself propagates untouched."""
    foreign = TimeoutError("inner")
    with pytest.raises(TimeoutError) as raised:
        await Timeout(5)(ScriptedService([foreign]))(REQUEST)
    assert raised.value is foreign


async def test_outer_cancellation_stays_a_cancellation() -> None:
    """Cancelling the caller cancels the call; it does not turn into a Timeout."""
    hang = Hang()
    task = asyncio.ensure_future(Timeout(5)(hang)(REQUEST))
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hang.cancelled == 1


@pytest.mark.parametrize("seconds", [0, -1.0, math.nan, math.inf])
def test_non_positive_seconds_is_a_config_error(seconds: float) -> None:
    """A limit must be positive and finite (NaN or infinity bound nothing)."""
    with pytest.raises(e.ConfigError):
        Timeout(seconds)
    with pytest.raises(e.ConfigError):
        Deadline(seconds)


async def test_timed_out_attempt_inside_retry_is_retried() -> None:
    """Retry ∘ Timeout: a hung first attempt times out and the second one answers."""
    hang = Hang()
    answers = ScriptedService([OK])
    calls: Iterator[Service] = iter([hang, answers])

    async def inner(request: Request) -> Response:
        return await next(calls)(request)

    policy = RetryPolicy(max_attempts=2, jitter=lambda lo, hi: 0.0)
    service: Service = stack(Retry(policy, clock=FakeClock()), Timeout(TINY))(inner)
    assert await service(REQUEST) is OK
    assert hang.cancelled == 1


async def test_deadline_outside_retry_stops_the_back_off() -> None:
    """Deadline ∘ Retry: a back-off that never ends is cut off with DeadlineExceeded."""
    stalled = FakeClock(auto_advance=False)  # Retry's sleep waits for an advance that never comes
    inner = ScriptedService([e.ConnectError(), OK])
    service = stack(Deadline(TINY), Retry(RetryPolicy(), clock=stalled))(inner)
    with pytest.raises(e.DeadlineExceeded):
        await service(REQUEST)
    assert len(inner.requests) == 1


def test_repr_shows_the_seconds() -> None:
    """repr(stack) shows each limit."""
    assert repr(stack(Deadline(10), Timeout(2))) == "stack(Deadline(seconds=10), Timeout(seconds=2))"

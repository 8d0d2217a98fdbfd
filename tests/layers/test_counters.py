"""LocalCounters: the limiter's in-process memory:// counters, expiring on the injected clock."""

from __future__ import annotations

import asyncio

from limits.aio.storage import MemoryStorage

from lotusx.layers.counters import LocalCounters
from lotusx.layers.limiter import Limiter, Pool
from lotusx.testing import FakeClock

POOL = Pool("REQUEST_WEIGHT", 10, 60)


def test_add_accumulates_and_returns_the_new_count() -> None:
    """Each add returns the running total of its key; other keys are independent."""
    counters = LocalCounters(FakeClock())
    assert [counters.add("a", 60, 2, 0.0), counters.add("a", 60, 3, 0.0), counters.add("b", 60, 1, 0.0)] == [2, 5, 1]
    assert (counters.count("a", 0.0), counters.count("b", 0.0), counters.count("absent", 0.0)) == (5, 1, 0)


def test_a_key_expires_expiry_seconds_after_its_first_add() -> None:
    """A key counts until ``expiry`` seconds after its first add, then reads 0 and starts afresh."""
    counters = LocalCounters(FakeClock())
    counters.add("a", 10, 4, 100.0)
    counters.add("a", 10, 1, 109.9)  # later adds do not extend the first add's expiry
    assert counters.count("a", 109.9) == 5
    assert counters.count("a", 110.0) == 0
    assert counters.add("a", 10, 1, 110.0) == 1


def test_creating_a_key_drops_every_expired_one() -> None:
    """Stale window keys are never read again, so a new key sweeps them: memory stays bounded."""
    counters = LocalCounters(FakeClock())
    for window in range(1000):
        counters.add(f"w/{window}", 1, 1, float(window))
    assert repr(counters) == "LocalCounters(1 keys)"


async def test_async_protocol_matches_the_sync_calls() -> None:
    """incr/get/get_expiry/clear behave like a limits storage, for code that treats storages alike."""
    clock = FakeClock(1000.0)
    counters = LocalCounters(clock)
    assert await counters.incr("a", 30, 2) == 2
    assert await counters.get("a") == 2
    assert await counters.get_expiry("a") == 1030.0
    assert await counters.get_expiry("absent") == 1000.0
    await clock.advance(30)
    assert await counters.get("a") == 0  # the async forms read the injected clock
    await counters.incr("b", 30, 1)
    await counters.clear("b")
    await counters.clear("absent")
    assert await counters.get("b") == 0


async def test_memory_uri_limiter_uses_local_counters_and_never_starts_a_task() -> None:
    """memory:// charges through LocalCounters: no per-hit expiry task as limits' MemoryStorage starts."""
    limiter = Limiter([POOL], "memory://", clock=FakeClock())
    assert isinstance(limiter.storage, LocalCounters)
    before = len(asyncio.all_tasks())
    for _ in range(5):
        await limiter.acquire({"REQUEST_WEIGHT": 2})
    assert len(asyncio.all_tasks()) == before
    assert await limiter.used(POOL) == 10


async def test_an_explicit_limits_memory_storage_still_works() -> None:
    """A caller's own limits MemoryStorage is charged through its async API, all or nothing."""
    clock = FakeClock(1_700_000_040.0)
    limiter = Limiter([POOL], MemoryStorage(), clock=clock, max_wait=100.0)
    await limiter.acquire({"REQUEST_WEIGHT": 8})
    await limiter.acquire({"REQUEST_WEIGHT": 4})  # does not fit: waits for the next minute
    assert clock.slept and await limiter.used(POOL) == 4


def test_take_charges_every_key_or_none() -> None:
    """``take`` adds all of a request's charges, or, when one would pass its limit, none of them."""
    counters = LocalCounters(FakeClock())
    assert counters.take([("a", 2, 10, 60), ("b", 3, 10, 60)], 0.0) == [2, 3]
    assert counters.take([("a", 2, 10, 60), ("b", 8, 10, 60)], 0.0) == 1  # b would reach 11
    assert (counters.count("a", 0.0), counters.count("b", 0.0)) == (2, 3)


def test_take_restarts_an_expired_key() -> None:
    """An expired key counts from zero again, with a fresh expiry."""
    counters = LocalCounters(FakeClock())
    counters.take([("a", 9, 10, 10)], 0.0)
    assert counters.take([("a", 4, 10, 10)], 10.0) == [4]
    assert counters.count("a", 19.9) == 4

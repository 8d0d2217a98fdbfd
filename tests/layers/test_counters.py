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
    assert [counters.add("a", 60, 2), counters.add("a", 60, 3), counters.add("b", 60)] == [2, 5, 1]
    assert (counters.count("a"), counters.count("b"), counters.count("absent")) == (5, 1, 0)


async def test_a_key_expires_on_the_injected_clock() -> None:
    """A key counts until ``expiry`` seconds after its first add, then reads 0 and starts afresh."""
    clock = FakeClock()
    counters = LocalCounters(clock)
    counters.add("a", 10, 4)
    await clock.advance(9.9)
    counters.add("a", 10, 1)  # later adds do not extend the first add's expiry
    assert counters.count("a") == 5
    await clock.advance(0.1)
    assert counters.count("a") == 0
    assert counters.add("a", 10, 1) == 1


async def test_creating_a_key_drops_every_expired_one() -> None:
    """Stale window keys are never read again, so a new key sweeps them: memory stays bounded."""
    clock = FakeClock()
    counters = LocalCounters(clock)
    for window in range(1000):
        counters.add(f"w/{window}", 1, 1)
        await clock.advance(1)
    assert repr(counters) == "LocalCounters(1 keys)"


async def test_async_protocol_matches_the_sync_calls() -> None:
    """incr/get/get_expiry/clear behave like a limits storage, for code that treats storages alike."""
    clock = FakeClock(1000.0)
    counters = LocalCounters(clock)
    assert await counters.incr("a", 30, 2) == 2
    assert await counters.get("a") == 2
    assert await counters.get_expiry("a") == 1030.0
    assert await counters.get_expiry("absent") == 1000.0
    await counters.clear("a")
    await counters.clear("absent")
    assert await counters.get("a") == 0


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

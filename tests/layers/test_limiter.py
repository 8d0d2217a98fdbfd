"""The Limiter: clock-aligned fixed windows over ``limits`` storage, cool-offs, venue sync."""

from __future__ import annotations

import asyncio
from types import MappingProxyType

import pytest
from limits.aio.storage import MemoryStorage
from structlog.testing import capture_logs

from lotusx.kernel.errors import ConfigError, IpBanned, RateLimited
from lotusx.layers.limiter import Limiter, Pool, Usage
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock

T0 = 1_700_000_040.0  # a whole minute, and a whole 10 s, since the epoch
WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)
ORDERS_10S = Pool("ORDERS", 3, 10)
ORDERS_1D = Pool("ORDERS", 5, 86_400)


def limiter(clock: FakeClock, *pools: Pool, max_wait: float = 120.0, guard: float = 0.0,
            storage: str | RacingStorage = "memory://", metrics: Metrics | None = None, key: str = "test") -> Limiter:
    return Limiter(pools or (WEIGHT, ORDERS_10S, ORDERS_1D), storage, key=key, clock=clock,
                   max_wait=max_wait, guard=guard, metrics=metrics, exchange="demo")


async def test_within_budget_charges_without_waiting() -> None:
    """Calls that fit the window are charged at once and never sleep."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    for _ in range(5):
        await lim.acquire({"REQUEST_WEIGHT": 2})
    assert await lim.used(WEIGHT) == 10
    assert clock.slept == []


async def test_full_pool_waits_for_the_next_window_then_proceeds() -> None:
    """A full pool sleeps (on the injected clock) until its window resets, then charges the new one."""
    clock = FakeClock(T0 + 45)
    lim = limiter(clock)
    await lim.acquire({"REQUEST_WEIGHT": 10})
    await lim.acquire({"REQUEST_WEIGHT": 4})
    assert clock.slept == [pytest.approx(15.0)]
    assert clock.time() >= T0 + 60
    assert await lim.used(WEIGHT) == 4


async def test_wait_beyond_max_wait_raises_rate_limited_without_charging() -> None:
    """When the reset is further away than max_wait the call fails at once, naming the pool."""
    clock = FakeClock(T0 + 10)
    lim = limiter(clock, max_wait=5.0)
    await lim.acquire({"REQUEST_WEIGHT": 9})
    with pytest.raises(RateLimited) as caught:
        await lim.acquire({"REQUEST_WEIGHT": 2})
    assert caught.value.pool == "REQUEST_WEIGHT"
    assert caught.value.retry_after == pytest.approx(50.0)
    assert clock.slept == []
    assert await lim.used(WEIGHT) == 9


async def test_one_request_charges_several_pools_and_every_window_of_a_name() -> None:
    """Costs charge each named pool; a name with two windows (ORDERS 10 s and 1 day) charges both."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.acquire({"REQUEST_WEIGHT": 1, "ORDERS": 1})
    assert [await lim.used(p) for p in (WEIGHT, ORDERS_10S, ORDERS_1D)] == [1, 1, 1]


async def test_the_tightest_window_of_a_name_decides_the_wait() -> None:
    """ORDERS 3 per 10 s blocks the fourth order until the 10 s window ends, though the day has room."""
    clock = FakeClock(T0 + 2)
    lim = limiter(clock)
    for _ in range(4):
        await lim.acquire({"ORDERS": 1})
    assert clock.slept == [pytest.approx(8.0)]
    assert await lim.used(ORDERS_1D) == 4


async def test_a_full_pool_leaves_the_other_pools_uncharged() -> None:
    """All or nothing: when ORDERS is full the refused call charges no REQUEST_WEIGHT either."""
    clock = FakeClock(T0 + 1)
    lim = limiter(clock, max_wait=1.0)
    for _ in range(3):
        await lim.acquire({"ORDERS": 1})
    with pytest.raises(RateLimited, match="ORDERS"):
        await lim.acquire({"REQUEST_WEIGHT": 1, "ORDERS": 1})
    assert await lim.used(WEIGHT) == 0


async def test_a_hit_lost_to_another_process_is_given_back_on_every_pool() -> None:
    """If another process takes the last unit between check and hit, our partial charges are undone."""
    clock = FakeClock(T0 + 1)
    racing = RacingStorage(steal=WEIGHT.limit)
    lim = limiter(clock, storage=racing, max_wait=1.0)
    with pytest.raises(RateLimited, match="REQUEST_WEIGHT"):
        await lim.acquire({"REQUEST_WEIGHT": 1, "ORDERS": 1})
    assert await lim.used(WEIGHT) == WEIGHT.limit  # only the other process's units
    assert await lim.used(ORDERS_10S) == 0
    assert clock.slept == [pytest.approx(0.001)]  # one quick look again, then the real verdict


async def test_guard_band_charges_both_windows_near_a_boundary() -> None:
    """Within ``guard`` of a boundary the request may land in either venue window, so both pay."""
    clock = FakeClock(T0 + 59.9)
    lim = limiter(clock, guard=0.25)
    await lim.acquire({"REQUEST_WEIGHT": 3})
    assert await lim.used(WEIGHT) == 3
    await clock.sleep(0.2)
    assert await lim.used(WEIGHT) == 3  # the new minute already carries the charge


async def test_guard_band_waits_until_the_boundary_is_safely_past() -> None:
    """A full window blocks until ``guard`` after its end, when no skew can put us in it."""
    clock = FakeClock(T0 + 50)
    lim = limiter(clock, guard=0.25)
    await lim.acquire({"REQUEST_WEIGHT": 10})
    await lim.acquire({"REQUEST_WEIGHT": 1})
    assert clock.slept == [pytest.approx(10.25)]


async def test_sync_pulls_the_local_count_up_to_the_venue_count() -> None:
    """When the venue counted more (other tools on our IP) the local window is raised to match."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.acquire({"REQUEST_WEIGHT": 2})
    await lim.sync(Usage("REQUEST_WEIGHT", 7, per_seconds=60))
    assert await lim.used(WEIGHT) == 7


async def test_sync_never_lowers_the_local_count() -> None:
    """A venue count below ours (requests still in flight) leaves our stricter count alone."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.acquire({"REQUEST_WEIGHT": 6})
    await lim.sync(Usage("REQUEST_WEIGHT", 1, per_seconds=60))
    assert await lim.used(WEIGHT) == 6


async def test_sync_touches_only_the_window_named_by_the_venue() -> None:
    """A 10 s ORDERS count updates the 10 s pool, not the daily one; unknown pools are ignored."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.sync(Usage("ORDERS", 2, per_seconds=10))
    await lim.sync(Usage("RAW_REQUESTS", 50, per_seconds=300))
    assert [await lim.used(ORDERS_10S), await lim.used(ORDERS_1D)] == [2, 0]


async def test_sync_with_a_reset_time_cools_the_pool_off_until_then() -> None:
    """An exhausted pool with a venue reset time blocks until that time."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.sync(Usage("REQUEST_WEIGHT", 10, until=T0 + 3.5))
    await lim.acquire({"REQUEST_WEIGHT": 1})
    assert clock.slept[0] == pytest.approx(3.5)


async def test_sync_nowait_pulls_memory_counts_up_without_an_await() -> None:
    """With memory:// the venue's higher count is applied in place, and later reports see it."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.acquire({"REQUEST_WEIGHT": 2})
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 7, per_seconds=60)) is True
    assert await lim.used(WEIGHT) == 7
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 5, per_seconds=60)) is True
    assert await lim.used(WEIGHT) == 7


async def test_sync_nowait_leaves_shared_storage_to_sync() -> None:
    """Another storage behind the venue's count, or a reset time to mark there, needs the awaited sync()."""
    clock = FakeClock(T0)
    shared = limiter(clock, storage=RacingStorage(0))
    assert shared.sync_nowait(Usage("REQUEST_WEIGHT", 3, per_seconds=60)) is False
    assert await shared.used(WEIGHT) == 0
    assert shared.sync_nowait(Usage("REQUEST_WEIGHT", 3, until=T0 + 1)) is False


async def test_sync_nowait_on_memory_cools_off_until_a_reported_reset_time() -> None:
    """memory:// settles a reset time without an await: the pool's next charge waits for it."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    assert lim.learns_nowait
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 3, until=T0 + 1.5)) is True
    await lim.acquire({"REQUEST_WEIGHT": 1})
    assert clock.slept == [pytest.approx(1.5)]


async def test_learning_left_for_later_runs_at_the_loops_next_turn() -> None:
    """learn_soon() does not learn at once: the loop's next turn does, in order."""
    lim = limiter(FakeClock(T0))
    seen: list[int] = []
    lim.learn_soon(seen.append, 1)
    lim.learn_soon(seen.append, 2)
    assert seen == []
    await asyncio.sleep(0)
    assert seen == [1, 2]


async def test_an_acquire_learns_what_is_pending_before_it_charges() -> None:
    """An answer not learned from yet is, before the next charge is decided: never a charge too late."""
    clock = FakeClock(T0)
    lim = limiter(clock, WEIGHT)
    lim.learn_soon(lim.sync_nowait, Usage("REQUEST_WEIGHT", 10, per_seconds=60))
    await lim.acquire({"REQUEST_WEIGHT": 1})  # the window is full once the report is in: it waits
    assert clock.slept and clock.slept[0] > 0


async def test_learning_pending_on_one_limiter_is_settled_by_another_of_the_same_key() -> None:
    """memory:// limiters of one key share what is pending, as they share the counts."""
    clock = FakeClock(T0)
    first, second = limiter(clock, WEIGHT, key="shared"), limiter(clock, WEIGHT, key="shared")
    first.learn_soon(first.sync_nowait, Usage("REQUEST_WEIGHT", 7, per_seconds=60))
    assert await second.used(WEIGHT) == 7


async def test_sync_nowait_is_done_when_shared_storage_already_covers_the_report() -> None:
    """A report at or below what our own hits returned needs no storage round trip at all."""
    clock = FakeClock(T0)
    lim = limiter(clock, storage=RacingStorage(0))
    await lim.acquire({"REQUEST_WEIGHT": 4})
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 4, per_seconds=60)) is True


async def test_a_pull_up_on_shared_storage_is_remembered() -> None:
    """After sync() pulled a shared count up, the same report again is covered without a round trip."""
    clock = FakeClock(T0)
    lim = limiter(clock, storage=RacingStorage(0))
    await lim.sync(Usage("REQUEST_WEIGHT", 6, per_seconds=60))
    assert await lim.used(WEIGHT) == 6
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 6, per_seconds=60)) is True


async def test_a_shared_storage_without_scripts_is_used_as_before_with_one_warning() -> None:
    """A caller's own storage gets the non-atomic calls; one warning, at construction, says they may race."""
    clock = FakeClock(T0)
    with capture_logs() as logs:
        lim = limiter(clock, storage=RacingStorage(0), max_wait=0.0)
        await lim.cool_off(None, 5.0)
        await lim.cool_off(None, 9.0)
    assert [log["storage"] for log in logs if log["event"] == "rate_limit.not_atomic"] == ["<RacingStorage>"]
    assert await lim.storage.get("lotusx/test/ban") == 1  # recorded for other processes all the same


async def test_cool_off_blocks_only_the_named_pools() -> None:
    """A 429 cool-off on ORDERS delays orders but not weight-only calls."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.cool_off(["ORDERS"], 4.0)
    await lim.acquire({"REQUEST_WEIGHT": 1})
    assert clock.slept == []
    await lim.acquire({"ORDERS": 1})
    assert clock.slept == [pytest.approx(4.0)]


async def test_cool_off_without_retry_after_lasts_until_the_window_resets() -> None:
    """No Retry-After: wait for the end of the shortest current window, when the venue resets."""
    clock = FakeClock(T0 + 7)
    lim = limiter(clock)
    await lim.cool_off(["ORDERS"], None)
    await lim.acquire({"ORDERS": 1})
    assert clock.slept == [pytest.approx(3.0)]


async def test_ip_ban_blocks_every_pool() -> None:
    """A ban (names=None) holds back calls on pools the banned request never touched."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.cool_off(None, 30.0)
    await lim.acquire({"ORDERS": 1})
    assert clock.slept == [pytest.approx(30.0)]


async def test_ip_ban_holds_back_a_call_that_charges_nothing() -> None:
    """A ban is of the IP, not of pools: a call without costs waits it out too instead of going out."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.cool_off(None, 30.0)
    await lim.acquire({})
    assert clock.slept == [pytest.approx(30.0)]


async def test_ip_ban_longer_than_max_wait_raises_ip_banned_at_once() -> None:
    """A ban we cannot sit out within max_wait is refused immediately as IpBanned."""
    clock = FakeClock(T0)
    lim = limiter(clock, max_wait=10.0)
    await lim.cool_off(None, 120.0)
    with pytest.raises(IpBanned) as caught:
        await lim.acquire({"REQUEST_WEIGHT": 1})
    assert caught.value.retry_after == pytest.approx(120.0)
    assert clock.slept == []


async def test_cool_off_of_undeclared_pools_is_ignored() -> None:
    """A venue naming a pool we do not track changes nothing."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.cool_off(["SOMETHING_ELSE"], 10.0)
    await lim.acquire({"REQUEST_WEIGHT": 1, "ORDERS": 1})
    assert clock.slept == []


async def test_undeclared_pool_in_costs_is_a_config_error() -> None:
    """A cost for a pool that was never declared fails on first use, before anything is charged."""
    lim = limiter(FakeClock(T0))
    with pytest.raises(ConfigError, match="UNKNOWN"):
        await lim.acquire({"REQUEST_WEIGHT": 1, "UNKNOWN": 1})
    assert await lim.used(WEIGHT) == 0


async def test_cost_above_the_pool_limit_is_a_config_error() -> None:
    """A request that could never fit its pool is refused instead of waiting forever."""
    lim = limiter(FakeClock(T0))
    with pytest.raises(ConfigError, match="exceeds"):
        await lim.acquire({"REQUEST_WEIGHT": 11})


async def test_zero_and_empty_costs_charge_nothing() -> None:
    """Endpoints without costs pass straight through."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await lim.acquire({})
    await lim.acquire({"REQUEST_WEIGHT": 0})
    assert await lim.used(WEIGHT) == 0


@pytest.mark.parametrize(
    ("pools", "guard", "match"),
    [
        ((), 0.0, "at least one"),
        ((Pool("W", 0, 60),), 0.0, "positive"),
        ((Pool("W", 5, 60), Pool("W", 9, 60)), 0.0, "twice"),
        ((Pool("W", 5, 1),), 0.5, "half the window"),
        ((Pool("W", 5, 60),), -1.0, ">= 0"),
    ],
)
def test_bad_declarations_fail_at_construction(pools: tuple[Pool, ...], guard: float, match: str) -> None:
    """Impossible pools and guards are ConfigErrors when the limiter is built."""
    with pytest.raises(ConfigError, match=match):
        Limiter(pools, guard=guard)


def test_unknown_storage_scheme_is_a_config_error_without_the_password() -> None:
    """A bad storage URI is reported, its password masked."""
    with pytest.raises(ConfigError) as caught:
        Limiter([WEIGHT], "nosuch://user:hunter2@host:1")
    assert "hunter2" not in str(caught.value)


async def test_used_of_an_undeclared_pool_is_a_config_error() -> None:
    """Asking for a pool the limiter does not hold is a programming error."""
    with pytest.raises(ConfigError):
        await limiter(FakeClock(T0)).used(Pool("OTHER", 1, 1))


def test_repr_shows_pools_and_storage_but_never_the_redis_password() -> None:
    """repr names every pool and the storage URI with its password masked."""
    text = repr(Limiter([WEIGHT, ORDERS_10S], "redis://:s3cret@127.0.0.1:6399/0", key="acct"))
    assert "REQUEST_WEIGHT 10/60s" in text
    assert "ORDERS 3/10s" in text
    assert "redis://:***@127.0.0.1:6399/0" in text
    assert "s3cret" not in text


def test_repr_of_an_injected_storage_names_its_type() -> None:
    """A storage object passed in is shown by type."""
    assert "storage='<MemoryStorage>'" in repr(Limiter([WEIGHT], MemoryStorage()))


def test_pool_parses_limits_notation() -> None:
    """``limits`` strings declare pools: "6000/minute" is 6000 per 60 s."""
    assert Pool.parse("REQUEST_WEIGHT", "6000/minute") == Pool("REQUEST_WEIGHT", 6000, 60)
    assert Pool.parse("ORDERS", "100 per 10 seconds") == Pool("ORDERS", 100, 10)


async def test_metrics_count_local_waits_and_refusals_and_pool_usage() -> None:
    """Waiting and refusing count as local throttles; waits are timed; usage is a ratio."""
    clock = FakeClock(T0 + 50)
    metrics = Metrics()
    lim = limiter(clock, metrics=metrics, max_wait=20.0)
    await lim.acquire({"REQUEST_WEIGHT": 5})
    assert sample(metrics, "lotusx_rate_limit_pool_usage_ratio", pool="REQUEST_WEIGHT") == 0.5
    await lim.acquire({"REQUEST_WEIGHT": 6})  # waits 10 s for the next minute
    assert sample(metrics, "lotusx_rate_limited_total", pool="REQUEST_WEIGHT", source="local") == 1
    assert sample(metrics, "lotusx_rate_limit_wait_seconds_sum", pool="REQUEST_WEIGHT") == pytest.approx(10.0)
    await lim.cool_off(None, 60.0)
    with pytest.raises(IpBanned):
        await lim.acquire({"REQUEST_WEIGHT": 1})
    assert sample(metrics, "lotusx_rate_limited_total", pool="*", source="local") == 1
    assert sample(metrics, "lotusx_rate_limited_total", pool="*", source="venue") == 1


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"exchange": "demo", **labels})


class RacingStorage:
    """Memory counters where another process takes ``steal`` units just before our first hit."""

    def __init__(self, steal: int) -> None:
        self.inner = MemoryStorage()
        self.steal = steal

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        if self.steal and amount > 0:
            stolen, self.steal = self.steal, 0
            await self.inner.incr(key, expiry, stolen)
        return await self.inner.incr(key, expiry, amount)

    async def get(self, key: str) -> int:
        return await self.inner.get(key)

    async def get_expiry(self, key: str) -> float:
        return await self.inner.get_expiry(key)

    async def clear(self, key: str) -> None:
        await self.inner.clear(key)


async def test_pool_usage_gauge_reads_the_fullest_current_window_at_scrape_time() -> None:
    """The gauge is computed when scraped: the fullest window of the name, 0 once its window is over."""
    clock = FakeClock(T0)
    metrics = Metrics()
    lim = limiter(clock, metrics=metrics)
    assert sample(metrics, "lotusx_rate_limit_pool_usage_ratio", pool="ORDERS") == 0.0
    await lim.acquire({"ORDERS": 2})  # 2 of 3 per 10 s, 2 of 5 per day
    assert sample(metrics, "lotusx_rate_limit_pool_usage_ratio", pool="ORDERS") == pytest.approx(2 / 3)
    await clock.advance(10)  # the 10 s window is over; the day window still holds 2 of 5
    assert sample(metrics, "lotusx_rate_limit_pool_usage_ratio", pool="ORDERS") == pytest.approx(2 / 5)


async def test_an_endpoint_charged_mid_window_still_pays_both_windows_at_the_boundary() -> None:
    """The plan reused between guard bands is dropped at the band: near the boundary both windows pay."""
    costs = MappingProxyType({"REQUEST_WEIGHT": 1})  # an endpoint's read-only costs: their plan is cached
    clock = FakeClock(T0 + 30)
    lim = limiter(clock, guard=0.25)
    await lim.acquire(costs)  # mid-window: one key, plan kept until the band ahead
    await clock.sleep(29.8)  # T0 + 59.8, inside the guard band
    await lim.acquire(costs)
    assert await lim.used(WEIGHT) == 2
    await clock.sleep(0.4)  # T0 + 60.2: the next minute, still inside the band
    await lim.acquire(costs)
    assert await lim.used(WEIGHT) == 2  # its charge from T0 + 59.8, and this one
    await clock.sleep(10)  # clear of the band again
    await lim.acquire(costs)
    assert await lim.used(WEIGHT) == 3

# ===== one key, one budget in this process (as Redis shares it among processes) =====


async def test_memory_limiters_of_one_key_together_never_exceed_the_pool() -> None:
    """Two memory:// limiters of one key draw on one count: 6 + 4 fill the pool of 10."""
    clock = FakeClock(T0)
    first, second = limiter(clock, max_wait=0.0), limiter(clock, max_wait=0.0)
    await first.acquire({"REQUEST_WEIGHT": 6})
    await second.acquire({"REQUEST_WEIGHT": 4})
    with pytest.raises(RateLimited):
        await first.acquire({"REQUEST_WEIGHT": 1})
    assert [await first.used(WEIGHT), await second.used(WEIGHT)] == [10, 10]


async def test_memory_limiters_of_different_keys_count_apart() -> None:
    """Another key is another budget: each limiter fills its own pool of 10."""
    clock = FakeClock(T0)
    first, second = limiter(clock, max_wait=0.0, key="a"), limiter(clock, max_wait=0.0, key="b")
    await first.acquire({"REQUEST_WEIGHT": 10})
    await second.acquire({"REQUEST_WEIGHT": 10})
    assert [await first.used(WEIGHT), await second.used(WEIGHT)] == [10, 10]


async def test_a_cool_off_on_one_memory_limiter_holds_back_another_of_its_key() -> None:
    """A 429's cool-off recorded by one limiter makes the other wait it out too."""
    clock = FakeClock(T0)
    first, second = limiter(clock), limiter(clock)
    await first.cool_off(["ORDERS"], 4.0)
    await second.acquire({"ORDERS": 1})
    assert clock.slept == [pytest.approx(4.0)]


async def test_an_ip_ban_on_one_memory_limiter_refuses_another_of_its_key() -> None:
    """A 418 ban recorded by one limiter is an IpBanned for the other."""
    clock = FakeClock(T0)
    first, second = limiter(clock), limiter(clock, max_wait=10.0)
    await first.cool_off(None, 120.0)
    with pytest.raises(IpBanned):
        await second.acquire({"REQUEST_WEIGHT": 1})


async def test_a_narrower_pool_under_the_same_key_counts_what_the_wider_one_charged() -> None:
    """Pools are counted per name and window: a limiter declaring 10 sees the 8 another declaring 20 took."""
    clock = FakeClock(T0)
    wide, narrow = limiter(clock, Pool("REQUEST_WEIGHT", 20, 60)), limiter(clock, WEIGHT, max_wait=0.0)
    await wide.acquire({"REQUEST_WEIGHT": 8})
    with pytest.raises(RateLimited):
        await narrow.acquire({"REQUEST_WEIGHT": 3})
    await wide.acquire({"REQUEST_WEIGHT": 12})  # the wider pool still has its own limit
    assert await narrow.used(WEIGHT) == 20


async def test_the_shared_count_dies_with_the_last_limiter_of_its_key() -> None:
    """Once no limiter of a key is left, a new one starts from zero (tests and reconnects do not inherit)."""
    clock = FakeClock(T0)
    metrics = Metrics()  # its pool gauge must not keep the limiter alive
    gone = limiter(clock, metrics=metrics)
    await gone.acquire({"REQUEST_WEIGHT": 10})
    del gone
    assert await limiter(clock).used(WEIGHT) == 0


def test_memory_limiters_on_different_event_loops_count_apart() -> None:
    """A key is shared on one event loop only (another thread's loop would race it): each loop fills its pool."""
    clock = FakeClock(T0)

    async def fill() -> Limiter:
        lim = limiter(clock, max_wait=0.0)
        await lim.acquire({"REQUEST_WEIGHT": 10})
        return lim

    first = asyncio.run(fill())
    second = asyncio.run(fill())  # refused if it shared the first loop's count
    assert first is not second


async def test_each_limiter_reads_the_shared_count_at_its_own_clock() -> None:
    """The count one limiter keeps is read at the reader's clock, not at the clock of whoever made it first."""
    later, now = FakeClock(T0 + 3600), FakeClock(T0)
    _first = limiter(later)
    second = limiter(now)
    await second.acquire({"REQUEST_WEIGHT": 4})
    assert await second.used(WEIGHT) == 4


async def test_a_learning_that_raises_is_a_learning_failure_and_the_rest_still_run() -> None:
    """One pending learning failing neither drops those queued behind it nor fails the next call."""
    lim = limiter(FakeClock(T0))

    def garbled() -> None:
        raise ValueError("garbled")

    lim.learn_soon(garbled)
    lim.learn_soon(lim.sync_nowait, Usage("REQUEST_WEIGHT", 7, per_seconds=60))
    assert await lim.used(WEIGHT) == 7
    assert lim.learning_failures == 1


def test_a_loop_closed_with_a_learning_pending_leaves_the_next_loop_learning_on_its_turn() -> None:
    """A settle callback a closed loop never ran does not stop the next loop's from being scheduled."""
    lim = limiter(FakeClock(T0), key="outlives-its-loop")  # built outside a loop, used on two
    seen: list[int] = []

    async def stop_with_a_learning_pending() -> None:
        lim.learn_soon(seen.append, 1)
        asyncio.get_running_loop().stop()

    loop = asyncio.new_event_loop()
    task = loop.create_task(stop_with_a_learning_pending())
    loop.run_forever()
    assert task.done()
    loop.close()

    async def learn_on_the_next_turn() -> None:
        lim.learn_soon(seen.append, 2)
        await asyncio.sleep(0)

    asyncio.run(learn_on_the_next_turn())
    assert seen == [1, 2]

"""Limiters of several processes racing on one redis-server: charges, bans and venue pull-ups stay safe.

Each limiter stands for a process (its own connection). Interleavings are driven, not timed:
:class:`Meddled` is limits' own Redis storage in which another process acts at a chosen point
between two of our storage calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import coredis
import pytest
from limits.aio.storage import RedisStorage

from lotusx.kernel.errors import IpBanned, RateLimited
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.layers.limiter import Counters, Limiter, Pool, Usage
from lotusx.layers.ratelimit import RateLimit, UsedHeader
from lotusx.testing import FakeClock, ScriptedService

T0 = 1_700_000_040.0  # a whole minute since the epoch
WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)
ORDERS = Pool("ORDERS", 2, 10)
ORDER = Request(method="POST", path="/api/v3/order",
                endpoint=Endpoint("new_order", "POST", "/api/v3/order", costs={"REQUEST_WEIGHT": 1, "ORDERS": 1}))
COST = {"REQUEST_WEIGHT": 1}

pytestmark = [pytest.mark.redis, pytest.mark.timeout(30)]

Step = Callable[[], Awaitable[object]]


class Meddled(RedisStorage):
    """limits' Redis storage where another process runs ``before[m]`` / ``after[m]`` once, around our next ``m`` call.

    A step whose point never comes (an atomic script made that call unnecessary) is run by
    :meth:`finish`: the other process still acts, only later.
    """

    def __init__(self, url: str, *, before: dict[str, Step] | None = None,
                 after: dict[str, Step] | None = None) -> None:
        super().__init__(f"async+{url}", wrap_exceptions=True)
        self.before, self.after = dict(before or {}), dict(after or {})

    async def _around(self, name: str, call: Awaitable[int]) -> int:
        if (step := self.before.pop(name, None)) is not None:
            await step()
        result = await call
        if (step := self.after.pop(name, None)) is not None:
            await step()
        return result

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._around("incr", super().incr(key, expiry, amount))

    async def get(self, key: str) -> int:
        return await self._around("get", super().get(key))

    async def clear(self, key: str) -> None:
        async def cleared() -> int:
            await super(Meddled, self).clear(key)
            return 0

        await self._around("clear", cleared())

    async def finish(self) -> None:
        for step in [*self.before.values(), *self.after.values()]:
            await step()
        self.before.clear()
        self.after.clear()


async def sent(redis_url: str, action: Awaitable[object]) -> list[str]:
    """The commands clients sent to Redis while ``action`` ran (not those scripts ran)."""
    watcher, marker = coredis.Redis.from_url(redis_url), coredis.Redis.from_url(redis_url)
    await marker.ping()  # connected: its handshake is not in what we watch
    commands = []
    async with watcher.monitor() as monitor:
        await action
        await marker.ping()  # marks the end of what the action sent
        while (command := await monitor.get_command()).command != "PING":
            if command.client_type != "lua":
                commands.append(command.command)
    return commands


def limiter(storage: str | Counters, clock: Clock = SYSTEM_CLOCK, max_wait: float = 30.0) -> Limiter:
    return Limiter([WEIGHT], storage, key="race", clock=clock, guard=0.0, max_wait=max_wait)


async def refusal(acquiring: Awaitable[None]) -> type[BaseException] | None:
    """The type of error ``acquiring`` raised; ``None`` when it went through."""
    try:
        await acquiring
    except (IpBanned, RateLimited) as exc:
        return type(exc)
    return None


# ===== charges =====


async def test_processes_racing_for_the_last_units_are_admitted_exactly_up_to_the_limit(redis_url: str) -> None:
    """Twenty processes asking for one unit each at once: ten get through, the count is 10, nothing is given back."""
    clock = FakeClock(T0)
    racers = [limiter(redis_url, clock, max_wait=0.0) for _ in range(20)]
    await asyncio.gather(*(racer.used(WEIGHT) for racer in racers))  # every one connected: the race is the charge
    outcomes = await asyncio.gather(*(refusal(racer.acquire(COST)) for racer in racers))
    assert outcomes.count(None) == 10
    assert await racers[0].used(WEIGHT) == 10


async def test_a_request_refused_on_one_pool_charges_no_other_pool(redis_url: str) -> None:
    """With ORDERS full, an order is refused and its weight unit is not taken either."""
    lim = Limiter([WEIGHT, ORDERS], redis_url, key="race", clock=FakeClock(T0), guard=0.0, max_wait=0.0)
    await lim.acquire({"ORDERS": 2})
    with pytest.raises(RateLimited, match="ORDERS"):
        await lim.acquire({"REQUEST_WEIGHT": 1, "ORDERS": 1})
    assert await lim.used(WEIGHT) == 0


# coredis 5 deprecates its MONITOR helper, but it is the one way to see what a client sent.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_an_acquire_is_one_round_trip_to_redis(redis_url: str) -> None:
    """Cool-offs, room and the charge of a two-pool request reach Redis as one script call."""
    lim = Limiter([WEIGHT, ORDERS], redis_url, key="race", clock=FakeClock(T0), guard=0.0)
    await lim.acquire({"REQUEST_WEIGHT": 1})  # connected, script loaded
    assert await sent(redis_url, lim.acquire({"REQUEST_WEIGHT": 1, "ORDERS": 1})) == ["EVALSHA"]


async def test_a_charge_in_a_new_window_expires_with_it(redis_url: str) -> None:
    """The count a charge creates gets the window's expiry (61 s here), instead of living forever."""
    lim = limiter(redis_url, FakeClock(T0))
    await lim.acquire(COST)
    key = f"lotusx/race/w/REQUEST_WEIGHT/60/{int(T0 // 60)}"
    assert time.time() + 55 < await lim.storage.get_expiry(key) <= time.time() + 61


async def test_a_request_near_a_boundary_charges_both_windows_in_redis(redis_url: str) -> None:
    """Within the guard band both minutes pay, and the later one still carries the charge once it has begun."""
    clock = FakeClock(T0 + 59.9)
    lim = Limiter([WEIGHT], redis_url, key="race", clock=clock, guard=0.25)
    await lim.acquire({"REQUEST_WEIGHT": 3})
    assert await lim.used(WEIGHT) == 3
    await clock.sleep(0.2)
    assert await lim.used(WEIGHT) == 3


async def test_scripts_flushed_from_redis_are_loaded_again(redis_url: str) -> None:
    """After a Redis restart or SCRIPT FLUSH the next acquire loads its script again and charges as usual."""
    lim = limiter(redis_url, FakeClock(T0))
    await lim.acquire(COST)
    await coredis.Redis.from_url(redis_url).script_flush()
    await lim.acquire(COST)
    assert await lim.used(WEIGHT) == 2


# ===== bans and cool-offs =====


async def test_a_shorter_ban_marked_meanwhile_never_cuts_a_longer_one(redis_url: str) -> None:
    """A 10 s ban marked while another process marks a 100 s one leaves the 100 s ban standing."""
    longer = limiter(redis_url)
    # The other process marks its ban after our look at the key and before our write.
    shorter = Meddled(redis_url, before={"clear": lambda: longer.cool_off(None, 100.0)})
    await limiter(shorter).cool_off(None, 10.0)
    await shorter.finish()
    with pytest.raises(IpBanned) as caught:
        await limiter(redis_url, max_wait=0.0).acquire(COST)
    assert caught.value.retry_after is not None and caught.value.retry_after > 90


async def test_another_process_stays_banned_while_a_ban_is_extended(redis_url: str) -> None:
    """Lengthening a running ban never lets it lapse: a process looking meanwhile is refused."""
    await limiter(redis_url).cool_off(None, 10.0)
    seen: list[type[BaseException] | None] = []

    async def look() -> None:
        seen.append(await refusal(limiter(redis_url, max_wait=0.0).acquire(COST)))

    extender = Meddled(redis_url, before={"incr": look})
    await limiter(extender).cool_off(None, 100.0)
    await extender.finish()
    assert seen == [IpBanned]


async def test_a_sub_second_cool_off_ends_on_time_for_other_processes(redis_url: str) -> None:
    """A 0.3 s cool-off is kept to the millisecond, not rounded up to a whole second."""
    await limiter(redis_url).cool_off(["REQUEST_WEIGHT"], 0.3)
    await asyncio.sleep(0.5)
    assert await refusal(limiter(redis_url, max_wait=0.0).acquire(COST)) is None


async def test_a_cool_off_key_without_expiry_still_refuses_for_a_moment(redis_url: str) -> None:
    """A ban key some other writer left without a TTL is a ban still running: look again in 50 ms."""
    client = coredis.Redis.from_url(redis_url)
    await client.set("LIMITS:lotusx/race/ban", "1")
    with pytest.raises(IpBanned) as caught:
        await limiter(redis_url, max_wait=0.0).acquire(COST)
    assert caught.value.retry_after == pytest.approx(0.05)


async def test_a_zero_second_ban_from_the_venue_records_nothing(redis_url: str) -> None:
    """Retry-After: 0 on a 418 is over as soon as it is read: no error, and no other process waits."""
    await limiter(redis_url).cool_off(None, 0.0)
    assert await refusal(limiter(redis_url, max_wait=0.0).acquire(COST)) is None


# ===== pull-ups to the venue's count =====


async def test_two_processes_pulling_up_to_one_report_count_it_once(redis_url: str) -> None:
    """Both processes learn the venue counted 5: the shared count becomes 5, not 10."""
    clock = FakeClock(T0)
    first = limiter(redis_url, clock)
    # The other process pulls up after our read and before our write.
    second = Meddled(redis_url, after={"get": lambda: first.sync(Usage("REQUEST_WEIGHT", 5))})
    await limiter(second, clock).sync(Usage("REQUEST_WEIGHT", 5))
    await second.finish()
    assert await first.used(WEIGHT) == 5


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # MONITOR, as above
async def test_the_usage_headers_of_one_response_are_pulled_up_in_one_round_trip(redis_url: str) -> None:
    """A response reporting more weight and more orders than we counted costs one script call, and both hold."""
    lim = Limiter([WEIGHT, ORDERS], redis_url, key="race", clock=FakeClock(T0), guard=0.0)
    headers = {"X-MBX-USED-WEIGHT-1M": "7", "X-MBX-ORDER-COUNT-10S": "2"}
    service = RateLimit(lim, usage=(UsedHeader("X-MBX-USED-WEIGHT-", "REQUEST_WEIGHT"),
                                    UsedHeader("X-MBX-ORDER-COUNT-", "ORDERS")))(
        ScriptedService([Response(status=200, headers=headers)]))
    await lim.acquire({"REQUEST_WEIGHT": 1})  # connected, scripts loaded
    await lim.sync(Usage("REQUEST_WEIGHT", 2))
    assert await sent(redis_url, service(ORDER)) == ["EVALSHA", "EVALSHA"]  # the charge, then the pull-ups
    assert (await lim.used(WEIGHT), await lim.used(ORDERS)) == (7, 2)


async def test_a_pull_up_of_a_window_nobody_charged_yet_expires_with_it(redis_url: str) -> None:
    """The count a report creates gets the window's expiry (61 s here), instead of living forever."""
    clock = FakeClock(T0)
    lim = limiter(redis_url, clock)
    await lim.sync(Usage("REQUEST_WEIGHT", 3))
    key = f"lotusx/race/w/REQUEST_WEIGHT/60/{int(T0 // 60)}"
    assert await lim.storage.get(key) == 3
    assert time.time() + 55 < await lim.storage.get_expiry(key) <= time.time() + 61

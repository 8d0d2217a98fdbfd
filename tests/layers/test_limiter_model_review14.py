"""Model-based property tests: random programs against the Limiter, checked against a reference model.

The model is the limiter's promise written out plainly. A pool is fixed windows ``[k * per,
(k + 1) * per)``; a request sent at ``t`` is charged to every window within ``guard`` of ``t``
(the venue's clock may be up to ``guard`` off ours). A venue report pulls those windows up to
what the venue counted, never down. A cool-off holds back its pools until it ends.

A program runs on a :class:`DrivenClock`: time moves only when the program says, and every
task runs until it is done or asleep before the program goes on, so the same program gives the
same interleaving on ``memory://`` and on Redis. Checked after every step:

1. in every window of a venue whose clock is up to ``guard`` off ours, the units sent never
   exceed the limit minus what the venue reported others had used;
2. no acquire returns during a cool-off;
3. an acquire is served within ``max_wait`` or refused with a typed ``RateLimited`` only when
   something it needs stays blocked beyond ``max_wait``; nobody sleeps while the model has room
   for them; by the end every acquire has finished;
4. counts never go negative and equal the model's;
5. the same program on Redis (two limiters on one server: two processes), with the Lua scripts
   and without, gives the same trace. Redis programs have no cool-offs: Redis expires a
   cool-off in real seconds, which the driven clock cannot move.

Requests go through the limiter's calls and through ``RateLimit`` (usage headers, 429, 418).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits.aio.storage import RedisStorage
from redis_server import RedisServer

from lotusx.kernel.errors import IpBanned, RateLimited
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.limiter import MAX_COOL_OFF, Counters, Limiter, Pool, Usage
from lotusx.layers.ratelimit import RateLimit, UsedHeader
from lotusx.testing import ScriptedService

T0 = 1_700_000_040.0  # a whole multiple of every window below
FAMILIES = {"W": (Pool("W", 6, 2),), "O": (Pool("O", 3, 1), Pool("O", 5, 4)), "D": (Pool("D", 4, 3),)}
MAX_COST = {name: min(p.limit for p in pools) for name, pools in FAMILIES.items()}
BAN_SECONDS = 3.0
TOLERANCE = 1e-5  # the limiter wakes 1 µs after a boundary; float sums at epoch times drift by ulps
Trace = list[tuple[Any, ...]]


class DrivenClock:
    """Virtual time moved only by :meth:`advance`; it wakes sleepers one at a time, in deadline order."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.start = start
        self.sleepers: dict[asyncio.Task[Any], tuple[float, int, asyncio.Future[None]]] = {}
        self.changed = asyncio.Event()
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - self.start

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleepers[task] = (self.now + max(seconds, 0.0), next(self._seq), future)
        self.changed.set()
        try:
            await future
        finally:
            self.sleepers.pop(task, None)

    async def quiesce(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Let every task run until it is done or asleep on this clock (and pending callbacks run)."""
        for _ in range(3):
            await asyncio.sleep(0)
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            self.changed.clear()
            busy = [t for t in tasks if not t.done() and t not in self.sleepers]
            if not busy:
                break
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"tasks neither finished nor slept: {busy}"
            waiter = asyncio.ensure_future(self.changed.wait())
            await asyncio.wait([*busy, waiter], timeout=left, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        for _ in range(3):
            await asyncio.sleep(0)

    async def advance(self, seconds: float, tasks: list[asyncio.Task[Any]]) -> None:
        target = self.now + seconds
        while True:
            due = [(when, seq, task) for task, (when, seq, _) in self.sleepers.items() if when <= target]
            if not due:
                break
            when, _, task = min(due, key=lambda entry: entry[:2])
            self.now = max(self.now, when)
            self.sleepers[task][2].set_result(None)
            self.sleepers.pop(task)
            await self.quiesce(tasks)
        self.now = target
        await self.quiesce(tasks)


@dataclass
class Model:
    """What the limiter promises, and a venue (clock ``skew`` off ours) counting what it sent."""

    pools: tuple[Pool, ...]
    guard: float
    max_wait: float
    skew: float
    counts: Counter[tuple[str, int, int]] = field(default_factory=Counter)
    cool: dict[str, float] = field(default_factory=dict)
    ban: float = 0.0
    ours: Counter[tuple[str, int, int]] = field(default_factory=Counter)  # the venue's count of what we sent
    others: Counter[tuple[str, int, int]] = field(default_factory=Counter)  # other clients on the IP
    known: Counter[tuple[str, int, int]] = field(default_factory=Counter)  # others' units the venue reported

    def windows(self, name: str) -> list[Pool]:
        return [pool for pool in self.pools if pool.name == name]

    def span(self, pool: Pool, t: float) -> range:
        per = pool.per_seconds
        return range(int((t - self.guard) // per), int((t + self.guard) // per) + 1)

    def venue_window(self, pool: Pool, t: float) -> tuple[str, int, int]:
        return pool.name, pool.per_seconds, int((t + self.skew) // pool.per_seconds)

    def obstacles(self, costs: Mapping[str, int], t: float) -> list[tuple[str, float]]:
        """What stops ``costs`` at ``t``: (pool or ``*`` for a ban, when it ends at the earliest)."""
        found = [("*", self.ban)] if self.ban > t else []
        for name, cost in costs.items():
            if self.cool.get(name, 0.0) > t:
                found.append((name, self.cool[name]))
            for pool in self.windows(name):
                for k in self.span(pool, t):
                    if self.counts[name, pool.per_seconds, k] + cost > pool.limit:
                        found.append((name, (k + 1) * pool.per_seconds + self.guard))
        return found

    def sent(self, costs: Mapping[str, int], t: float) -> None:
        """Property 1: what we sent fits every venue window with what others were reported to use."""
        blocked = self.obstacles(costs, t)
        assert not blocked, f"sent at {t - T0:.6f} while blocked by {blocked}: {self.counts}"
        for name, cost in costs.items():
            for pool in self.windows(name):
                for k in self.span(pool, t):
                    self.counts[name, pool.per_seconds, k] += cost
                venue = self.venue_window(pool, t)
                self.ours[venue] += cost
                assert self.ours[venue] + self.known[venue] <= pool.limit, (venue, self.ours, self.known)

    def pull_up(self, name: str, per: int | None, used: int, t: float) -> None:
        for pool in self.windows(name):
            if per is None or pool.per_seconds == per:
                for k in self.span(pool, t):
                    key = (name, pool.per_seconds, k)
                    self.counts[key] = max(self.counts[key], min(used, pool.limit))

    def cool_off(self, names: list[str] | None, seconds: float | None, default: float | None, t: float) -> None:
        chosen = [p.name for p in self.pools] if names is None else [n for n in names if self.windows(n)]
        if not chosen:
            return
        if seconds is None or not 0 <= seconds < math.inf:
            seconds = default
        if seconds is None:
            seconds = min((t // p.per_seconds + 1) * p.per_seconds + self.guard - t
                          for n in chosen for p in self.windows(n))
        until = t + min(seconds, MAX_COOL_OFF)
        if names is None:
            self.ban = max(self.ban, until)
        for name in [] if names is None else chosen:
            self.cool[name] = max(self.cool.get(name, 0.0), until)


# ===== programs =====

NAMES = st.sampled_from(sorted(FAMILIES))
OFFSETS = st.sampled_from([0.0, -1 / 64, 1 / 64, -1 / 1024, 1 / 1024, 0.25, -0.25, 0.25 + 1 / 1024, 0.5])
SECONDS = st.one_of(st.none(), st.sampled_from([0.0, float("nan"), -1.0, float("inf")]),
                    st.integers(1, 256).map(lambda n: n / 64))


@st.composite
def programs(draw: st.DrawFn, redis: bool) -> tuple[Any, ...]:
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    pools = tuple(pool for name in sorted(names) for pool in FAMILIES[name])
    guard = draw(st.sampled_from([0.0, 0.25]))
    max_wait = draw(st.sampled_from([0.0, 1.5, 5.0]))
    skew = draw(st.sampled_from([-guard, 0.0, guard]))
    costs = st.dictionaries(st.sampled_from(sorted(names)), st.integers(1, 6), min_size=1, max_size=3).map(
        lambda c: {name: min(cost, MAX_COST[name]) for name, cost in c.items()})
    # Endpoints hand the limiter the same read-only mapping every call: it keeps a plan per mapping.
    endpoints = draw(st.lists(costs.map(MappingProxyType), min_size=1, max_size=3))
    limiter = st.integers(0, 1)
    modes = st.sampled_from(["sync"] if redis else ["sync", "nowait", "later"])
    steps = [
        st.tuples(st.just("acquire"), limiter, costs),
        st.tuples(st.just("acquire"), limiter, st.sampled_from(endpoints)),
        st.tuples(st.just("acquire"), limiter, st.sampled_from(endpoints)),
        st.tuples(st.just("advance"), st.integers(1, 160).map(lambda n: n / 64)),
        st.tuples(st.just("advance"), st.integers(1, 16).map(lambda n: n / 64)),
        st.tuples(st.just("edge"), st.sampled_from(pools), OFFSETS),
        st.tuples(st.just("cancel"), st.integers(0, 7)),
        st.tuples(st.just("call"), limiter, st.sampled_from(endpoints)),
        st.tuples(st.just("venue"), limiter, st.sampled_from(sorted(names)), st.integers(0, 4), modes),
        st.tuples(st.just("report"), limiter, st.sampled_from(pools), st.booleans(), st.integers(-3, 8), modes,
                  st.none() if redis else st.one_of(st.none(), st.integers(-8, 200).map(lambda n: n / 64)),
                  st.sampled_from([0.0, 1 / 1024, 1 / 64, 0.25, 1.0, 3.0])),
    ]
    if not redis:  # a cool-off in Redis lasts real seconds, which a driven clock cannot move
        throttle = st.tuples(st.just("throttle"), limiter, st.booleans(), SECONDS,
                             st.one_of(st.none(), st.sampled_from([*sorted(names), "ELSE"])),
                             st.one_of(st.just({}), costs))
        steps += [throttle, throttle]
    program = draw(st.lists(st.one_of(*steps), min_size=1, max_size=25))
    return pools, guard, max_wait, skew, program


# ===== running a program =====


class Unscripted:
    """limits' Redis storage behind the plain ``Counters`` calls: the limiter's path for storages without scripts."""

    def __init__(self, url: str) -> None:
        self.inner = RedisStorage(f"async+{url}", wrap_exceptions=True)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self.inner.incr(key, expiry, amount)

    async def get(self, key: str) -> int:
        return await self.inner.get(key)

    async def get_expiry(self, key: str) -> float:
        return await self.inner.get_expiry(key)

    async def clear(self, key: str) -> None:
        await self.inner.clear(key)


async def run(setup: tuple[Any, ...], storage: str | Callable[[], Counters]) -> Trace:
    """Run a program on two limiters of one key over ``storage`` (a URI, or a factory: one storage per limiter)."""
    pools, guard, max_wait, skew, program = setup
    clock = DrivenClock(T0)
    model = Model(pools, guard, max_wait, skew)
    key = uuid.uuid4().hex
    limiters = [Limiter(pools, storage if isinstance(storage, str) else storage(), key=key, clock=clock,
                        max_wait=max_wait, guard=guard) for _ in range(2)]
    tasks: list[asyncio.Task[Any]] = []
    starts: dict[asyncio.Task[Any], tuple[float, Mapping[str, int]]] = {}  # when each task began, what it charges
    trace: Trace = []

    def spawn(coro: Coroutine[Any, Any, None], costs: Mapping[str, int]) -> None:
        task = asyncio.ensure_future(coro)
        starts[task] = (clock.now, costs)
        tasks.append(task)

    def this_task() -> int:
        task = asyncio.current_task()
        assert task is not None
        return tasks.index(task)

    def refused(exc: RateLimited, costs: Mapping[str, int], started: float) -> None:
        """Property 3: refused only when something stays blocked beyond max_wait."""
        t = clock.now
        blocked = model.obstacles(costs, t)
        late = [(name, end) for name, end in blocked if end > started + max_wait - TOLERANCE]
        assert late, f"refused at {t - T0:.6f} (started {started - T0:.6f}) though {blocked} end in time"
        if isinstance(exc, IpBanned):
            assert model.ban > t
        trace.append(("refused", this_task(), type(exc).__name__, round(t - T0, 5)))

    def served(costs: Mapping[str, int], started: float) -> None:
        t = clock.now
        assert t - started <= max_wait + TOLERANCE, f"served after {t - started}s, max_wait {max_wait}"
        model.sent(costs, t)
        trace.append(("sent", this_task(), round(t - T0, 5)))

    async def acquire(lim: Limiter, costs: Mapping[str, int]) -> None:
        started = clock.now
        try:
            await lim.acquire(costs)
        except RateLimited as exc:
            refused(exc, costs, started)
        else:
            served(costs, started)

    async def call(lim: Limiter, costs: Mapping[str, int]) -> None:
        """A request through RateLimit; the venue answers with its count of every window, as Binance does."""
        started = clock.now

        def venue(_: Request) -> Response:
            served(costs, started)
            headers = {}
            for pool in pools:
                window = model.venue_window(pool, clock.now)
                model.known[window] = model.others[window]
                used = model.ours[window] + model.others[window]
                model.pull_up(pool.name, pool.per_seconds, used, clock.now)
                headers[f"X-{pool.name}-USED-{pool.per_seconds}S"] = str(used)
            return Response(status=200, headers=headers)

        usage = tuple(UsedHeader(f"X-{name}-USED-", name) for name in sorted({p.name for p in pools}))
        endpoint = Endpoint("x", "GET", "/x", costs=costs)
        try:
            await RateLimit(lim, usage=usage)(ScriptedService([venue]))(Request(method="GET", path="/x",
                                                                                endpoint=endpoint))
        except RateLimited as exc:
            refused(exc, costs, started)

    async def throttled(lim: Limiter, ban: bool, seconds: float | None, pool: str | None,
                        costs: Mapping[str, int]) -> None:
        started = clock.now
        error = IpBanned(retry_after=seconds) if ban else RateLimited(retry_after=seconds, pool=pool)

        def venue(_: Request) -> Response:
            served(costs, started)
            if ban:
                model.cool_off(None, seconds, BAN_SECONDS, clock.now)
            else:
                declared = {p.name for p in pools}
                names = [pool] if pool is not None and pool in declared else (
                    [n for n in costs if n in declared] or sorted(declared))
                model.cool_off(names, seconds, None, clock.now)
            raise error

        endpoint = Endpoint("x", "POST", "/x", costs=costs)
        layer = RateLimit(lim, ban_seconds=BAN_SECONDS)(ScriptedService([venue]))
        try:
            await layer(Request(method="POST", path="/x", endpoint=endpoint))
        except RateLimited as exc:
            if exc is not error:
                refused(exc, costs, started)

    def learn(lim: Limiter, mode: str, usage: Usage, read: float) -> Coroutine[Any, Any, None] | None:
        """Learn ``usage``, read at ``read`` (``sync`` learns it as read now)."""
        if mode == "sync":
            return lim.sync(usage)
        if mode == "nowait":
            assert lim.sync_nowait(usage, read)
        else:  # as RateLimit learns on memory://: after the caller has the answer, at the time it came
            lim.learn_soon(lim.sync_nowait, usage, read)
        return None

    for number, step in enumerate(program):
        kind = step[0]
        if kind == "acquire":
            spawn(acquire(limiters[step[1]], step[2]), step[2])
        elif kind == "call":
            spawn(call(limiters[step[1]], step[2]), step[2])
        elif kind == "throttle":
            spawn(throttled(limiters[step[1]], *step[2:]), step[5])
        elif kind == "advance":
            await clock.advance(step[1], tasks)
        elif kind == "edge":
            per = step[1].per_seconds
            target = (clock.now // per + 1) * per + step[2]
            while target <= clock.now:
                target += per
            await clock.advance(target - clock.now, tasks)
        elif kind == "cancel":
            asleep = [t for t in tasks if t in clock.sleepers]
            if asleep:
                victim = asleep[step[1] % len(asleep)]
                victim.cancel()
                trace.append(("cancelled", tasks.index(victim)))
        elif kind == "venue":  # others used units; a response tells us the venue's counts
            _, which, name, delta, mode = step
            for pool in model.windows(name):
                venue = model.venue_window(pool, clock.now)
                model.others[venue] += delta
                model.known[venue] = model.others[venue]
                used = model.ours[venue] + model.others[venue]
                model.pull_up(name, pool.per_seconds, used, clock.now)
                pending = learn(limiters[which], mode, Usage(name, used, per_seconds=pool.per_seconds), clock.now)
                if pending is not None:
                    await pending
        elif kind == "report":  # any reading at all: above or below ours, perhaps with a reset time
            _, which, pool, exact, used, mode, until, lag = step
            per = pool.per_seconds if exact else None
            reset = None if until is None else clock.now + until
            read = clock.now if mode == "sync" else clock.now - lag  # an answer that came a while ago
            model.pull_up(pool.name, per, used, read)
            if reset is not None and reset > clock.now:
                model.cool_off([pool.name], reset - clock.now, None, clock.now)
            pending = learn(limiters[which], mode, Usage(pool.name, used, per_seconds=per, until=reset), read)
            if pending is not None:
                await pending
        await clock.quiesce(tasks)
        await check(number, limiters, model, clock, tasks, starts, trace)

    # Property 3: nobody hangs. Long enough for any wait max_wait allows, and any cool-off to end.
    await clock.advance(max_wait + BAN_SECONDS + 2 * max(p.per_seconds for p in pools) + 5, tasks)
    assert all(task.done() for task in tasks)
    for task in tasks:
        if not task.cancelled():
            task.result()  # a failed model assertion inside a task surfaces here
    return trace


async def check(number: int, limiters: list[Limiter], model: Model, clock: DrivenClock,
                tasks: list[asyncio.Task[Any]], starts: dict[asyncio.Task[Any], tuple[float, Mapping[str, int]]],
                trace: Trace) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            task.result()
    now = clock.now
    # Property 3: nobody sleeps on room the model says is there.
    for task, (when, _, _) in clock.sleepers.items():
        _, costs = starts[task]
        if costs and not model.obstacles(costs, now):
            assert when <= now + TOLERANCE, f"task {tasks.index(task)} sleeps till {when - T0} with room at {now - T0}"
    # Property 4: every count is the model's, and none is negative.
    for lim in limiters:
        for pool in model.pools:
            used = await lim.used(pool)
            expected = model.counts[pool.name, pool.per_seconds, int(now // pool.per_seconds)]
            assert used == expected >= 0, f"step {number}: {pool} counts {used}, model {expected}"
    trace.append(("used", number, tuple(model.counts[p.name, p.per_seconds, int(now // p.per_seconds)]
                                        for p in model.pools)))


# ===== the properties =====


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setup=programs(redis=False))
def test_memory_limiter_keeps_every_promise_of_the_model(setup: tuple[Any, ...]) -> None:
    """Any program on memory:// keeps properties 1-4 at every step."""
    asyncio.run(run(setup, "memory://"))


@pytest.mark.redis
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(setup=programs(redis=True))
def test_redis_limiters_keep_the_model_and_agree_with_memory(setup: tuple[Any, ...], redis: RedisServer) -> None:
    """Two limiters on one Redis (two processes) keep properties 1-4 and trace exactly as on memory://.

    With Lua scripts, and without them (a storage that only counts), one process acting at a time.
    """
    on_memory = asyncio.run(run(setup, "memory://"))
    assert asyncio.run(run(setup, redis.url)) == on_memory
    assert asyncio.run(run(setup, lambda: Unscripted(redis.url))) == on_memory



@pytest.mark.redis
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAMES, min_size=1, max_size=3, unique=True), guard=st.sampled_from([0.0, 0.25]),
       at=st.sampled_from([0.0, 0.125, 0.875, 1.0, 1.875, 2.0]),
       racers=st.lists(st.tuples(st.integers(0, 1), st.dictionaries(NAMES, st.integers(1, 6), min_size=1)),
                       min_size=2, max_size=12),
       scripted=st.booleans())
def test_processes_racing_on_redis_never_overfill_a_window(names: list[str], guard: float, at: float,
                                                           racers: list[tuple[int, dict[str, int]]],
                                                           scripted: bool, redis: RedisServer) -> None:
    """Racers on two limiters of one Redis, all at once: no window passes its limit, counts hold what was sent.

    With scripts, nobody is refused while their cost still fits; without, a racer may lose the race (safe side).
    """
    pools = tuple(pool for name in sorted(names) for pool in FAMILIES[name])
    costs = [{n: min(c, MAX_COST[n]) for n, c in wanted.items() if n in names} or {names[0]: 1}
             for _, wanted in racers]

    async def race() -> None:
        clock = DrivenClock(T0 + at)
        key = uuid.uuid4().hex
        limiters = [Limiter(pools, redis.url if scripted else Unscripted(redis.url), key=key, clock=clock,
                            max_wait=0.0, guard=guard) for _ in range(2)]
        for lim in limiters:  # connected (and scripts loaded): the race is the charge
            await lim.used(pools[0])
        calls = [limiters[which].acquire(cost) for (which, _), cost in zip(racers, costs, strict=True)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        model = Model(pools, guard, 0.0, 0.0)
        for cost, outcome in zip(costs, outcomes, strict=True):
            if outcome is None:
                model.sent(cost, clock.now)  # refuses a send the windows had no room for
            else:
                assert isinstance(outcome, RateLimited), outcome
        for cost, outcome in zip(costs, outcomes, strict=True):
            if outcome is not None and scripted:
                assert model.obstacles(cost, clock.now), f"{cost} refused with room left: {model.counts}"
        for pool in pools:
            expected = model.counts[pool.name, pool.per_seconds, int(clock.now // pool.per_seconds)]
            assert await limiters[1].used(pool) == expected  # nothing left over from a give-back

    asyncio.run(race())

"""Rate-limit pools and the :class:`Limiter` that charges them, in memory or in Redis.

Window choice: **fixed windows aligned to the (injected) clock**, i.e. window ``k`` of a
pool is ``[k * per, (k + 1) * per)`` in epoch seconds. That is exactly how Binance counts
REQUEST_WEIGHT and ORDERS ("a 1 MINUTE interval starts every minute; a request submitted at
00:01:23.456 counts towards the 00:01:00 minute's limit",
https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/rate-limits), so we
can use the whole budget and never be looser than the venue. Clock skew and latency can put
a request into the venue's neighbouring window, so a request sent within ``guard`` seconds
of a boundary is charged to *both* windows: stricter, never looser.

We drive ``limits``' storage (``incr``/``get``, Redis) with our own window keys
instead of its strategies on purpose: ``MovingWindow``/``SlidingWindowCounter`` read
``time.time()`` inside the library (no injectable clock, so tests could not be
deterministic), and ``FixedWindow`` anchors each window at its first hit rather than at the
venue's clock boundaries (which can be looser than the venue by up to 2x). ``memory://``
gets :class:`~lotusx.layers.counters.LocalCounters` (why: see that module), shared with every
other ``memory://`` limiter of the same key on the event loop, as Redis shares a key's counts.

A venue that counts a *rolling* window of ``L`` per ``W`` is safely enforced by a pool of
``L // 2`` per ``W``: any rolling interval overlaps at most two fixed windows.

With Redis, what several processes race on (a request's charge to all its windows, a
cool-off's key, a pull-up to the venue's count) is one Lua script each
(:mod:`lotusx.layers.redis_scripts`); a storage that cannot run them gets the same steps as
separate calls (a charge that raced past a limit is given back), and a warning.

Storage failures (Redis down, a value Redis refuses, a Redis that does not answer within
``storage_timeout``, no free connection within it) are raised as ``ConnectError``: the request
was not sent, and the message names the storage with its password masked.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import limits
import msgspec
from limits.aio.storage import MemoryStorage, Storage
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string

from lotusx.kernel import errors as e
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.layers.counters import KeyState, LocalCounters, key_state
from lotusx.layers.redis_scripts import RedisScripts, TakeCall
from lotusx.log import get_logger
from lotusx.metrics import Metrics

_log = get_logger("lotusx.ratelimit")
_EPSILON = 1e-6  # wake just after a boundary, not a float hair before it
_RACE_BACKOFF = 0.001  # another process took the last units between our check and our hit
_LENGTHENED = 1.0  # seconds a running cool-off must grow by to be logged again: not the same one repeated
# What a failing storage raises: ``limits`` wraps its driver's errors (we open URIs with
# ``wrap_exceptions``); sockets of a caller's own storage raise OSError. The few its driver raises
# unwrapped are added per storage (``Limiter._storage_errors``).
_STORAGE_ERRORS: tuple[type[Exception], ...] = (StorageError, OSError)

MAX_COOL_OFF = 3 * 86_400.0
"""The longest cool-off the limiter keeps, in seconds: Binance's longest IP ban ("from 2 minutes
to 3 days", https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits). A
venue time beyond it is a garbled header, not a ban: honouring it would close the pools until
a restart (and overflow Redis' TTLs)."""


@dataclass(frozen=True)
class Pool:
    """A venue budget: at most ``limit`` units per ``per_seconds`` window.

    Pools may share a ``name`` with different windows (Binance ORDERS per 10 s and per day);
    a request's cost for that name charges every one of them. ``per_account``: the venue counts
    it per account (Binance's orders, Bybit's per-UID limits), not per IP, so limiters of one
    storage key share it only when they are given the same ``account``.
    """

    name: str
    limit: int
    per_seconds: int
    # Whom the venue counts it against, not which budget it is: ``used(Pool("ORDERS", 100, 10))`` finds it.
    per_account: bool = field(default=False, compare=False)

    @staticmethod
    def parse(name: str, text: str) -> Pool:
        """A pool from ``limits`` notation, e.g. ``Pool.parse("REQUEST_WEIGHT", "6000/minute")``."""
        try:
            item = limits.parse(text)
        except ValueError as exc:
            raise e.ConfigError(f"pool {name}: {exc}") from None
        return Pool(name, item.amount, item.get_expiry())

    def __str__(self) -> str:
        return f"{self.name} {self.limit}/{self.per_seconds}s"


def _news(running: float, until: float, now: float) -> bool:
    """Whether a cool-off until ``until`` is worth a warning beside the one ``running`` until then.

    Every call in flight when the venue bans or throttles comes back refused within milliseconds,
    each repeating the same cool-off: one warning says it. A new one, or one the venue lengthens
    (Binance escalates its bans), is news.
    """
    return running <= now or until > running + _LENGTHENED


class Usage(msgspec.Struct, frozen=True):
    """What a venue said it counted: ``used`` units in the current window of pool ``name``.

    ``per_seconds`` picks the window (``None``: every pool called ``name``); ``until`` is an
    epoch time the pool is exhausted until (the venue's reset time), if it said so. A msgspec
    Struct, not a dataclass: parsers build one per usage header of every response.
    """

    name: str
    used: int
    per_seconds: int | None = None
    until: float | None = None


class _Window:
    """Storage keys and limits of one pool; caches the current window's key string."""

    __slots__ = ("_idx", "_key", "base", "expiry", "guard", "hi", "limit", "lo", "per", "pool", "seen", "seen_idx")

    def __init__(self, pool: Pool, prefix: str, guard: float) -> None:
        self.pool = pool
        self.limit = pool.limit
        self.per = float(pool.per_seconds)
        self.guard = guard
        self.base = f"{prefix}/w/{pool.name}/{pool.per_seconds}"
        # A key must outlive its window plus both guard bands; the extra second covers
        # Redis' whole-second TTLs.
        self.expiry = math.ceil(pool.per_seconds + 2 * guard) + 1
        self._idx = -1
        self._key = ""
        # (lo, hi): the times at which a request falls in window ``_idx`` alone, clear of
        # both guard bands. Nearly every request does, and then its key is one comparison.
        self.lo = self.hi = 0.0
        # The highest count storage returned to us for window ``seen_idx``: counts only grow
        # within a window, so a venue report at or below it needs no storage round trip.
        self.seen_idx = -1
        self.seen = 0

    def key(self, idx: int) -> str:
        if idx != self._idx:
            self._idx, self._key = idx, f"{self.base}/{idx}"
            self.lo, self.hi = idx * self.per + self.guard, (idx + 1) * self.per - self.guard
        return self._key

    def span(self, now: float) -> tuple[int, int]:
        """The indices of the windows a request at ``now`` counts in: one, or two within ``guard`` of a boundary."""
        guard = self.guard
        return int((now - guard) // self.per), int((now + guard) // self.per)


class _Charges(list[tuple["_Window", int]]):
    """A request's ``(window, cost)`` pairs, and the plan they had when last clear of every guard band.

    Between ``lo`` and ``hi`` each window is one key, the same as last time: the plan and the
    counters' charges are reused as they are, instead of being rebuilt per request.
    """

    __slots__ = ("hi", "lo", "plan", "scripted", "takes")

    def __init__(self, pairs: Iterable[tuple[_Window, int]] = ()) -> None:
        super().__init__(pairs)
        self.lo = self.hi = 0.0
        self.plan: list[tuple[_Window, int, str, int]] = []
        self.takes: list[tuple[str, int, int, int]] = []
        # Redis: the cool-offs looked at, the takes and the script call built for them.
        self.scripted: tuple[list[tuple[str, str]], list[tuple[str, int, int, int]], TakeCall] | None = None


class Counters(Protocol):
    """The part of a ``limits`` async storage the limiter uses (any of them fits)."""

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int: ...

    async def get(self, key: str) -> int: ...

    async def get_expiry(self, key: str) -> float:
        """When ``key`` expires, in epoch seconds: a shared storage's on this host's clock, as ``limits`` gives them."""
        ...

    async def clear(self, key: str) -> None: ...


def _userinfo(uri: str) -> str:
    return uri.partition("://")[2].rpartition("@")[0]


def _redacted(uri: str) -> str:
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:  # e.g. an unclosed IPv6 bracket
        password = None
    if password is None:
        # None to urllib too when an unencoded '/', '#' or '?' ends the netloc inside the
        # password (a generated one pasted as is): mask all that could be credentials.
        userinfo = _userinfo(uri)
        return uri.replace(f"{userinfo}@", "***@", 1) if userinfo else uri
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return parts._replace(netloc=f"{name}:***@{host}").geturl()


def _scrubbed(text: str, uri: str) -> str:
    """``text`` (a storage's error message) without the password of ``uri``."""
    try:
        secret = urlsplit(uri).password
    except ValueError:
        secret = None
    secret = secret or _userinfo(uri)  # as in _redacted: a password urllib cannot find
    return text.replace(secret, "***") if secret else text


_MEMORY = frozenset({"memory://", "async+memory://"})


# The schemes ``limits`` opens with coredis, which waits for ever by default: for a connection,
# and for each answer (a hung Redis, or a port with no Redis behind it, holds every request).
_COREDIS_SCHEMES = frozenset({"redis", "rediss", "redis+unix", "redis+cluster", "redis+sentinel"})

STORAGE_CONNECTIONS = 32
"""How many connections a limiter holds to Redis at most, by default (``storage_connections``).

coredis sends a command on a connection and hands that connection back at once, before the
answer: a few connections carry a process's whole order path. Only a burst finding them all busy
(at start, each still connecting) needs more: without a bound, each call of it opened its own
(2000 acquires at once, 2000 connections: Redis' ``maxclients`` is 10 000 for every process
of every host together, and each is a handshake on the order path). 32 lets a burst of one
process's order path (tens of calls in flight) through without waiting; a call that finds
them all busy waits for one, up to three times ``storage_timeout`` (``redis_scripts.TRIES``)."""


def _query(uri: str) -> dict[str, list[str]] | None:
    """``uri``'s query parameters; None for an unparsable URI (limits refuses it with its own words)."""
    try:
        return parse_qs(urlsplit(uri).query)
    except ValueError:
        return None


def _connections(uri: str, default: int) -> int:
    """The bound on ``uri``'s connections: its query's ``max_connections``, else ``default``."""
    given = (_query(uri) or {}).get("max_connections")
    if not given:
        return default
    text = given[-1]
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise e.ConfigError(f"rate-limit storage {_redacted(uri)!r}: max_connections must be a whole number > 0, "
                            f"got {_scrubbed(text, uri)!r}")
    return int(text)


def _checking_hostname(uri: str) -> str:
    """``uri``, a ``rediss://`` one, with ``ssl_check_hostname=true`` unless it says otherwise.

    coredis checks that a trusted CA signed the server's certificate, not whom it is for: any
    certificate of that CA (with the system's CAs, any public web site's) would pass for our Redis.
    """
    query = _query(uri)
    if query is None or "ssl_check_hostname" in query:
        return uri
    # The separator from the raw query: _query keeps only parameters with values ("?flag" has one).
    separator = "&" if urlsplit(uri).query else "" if uri.endswith("?") else "?"
    return f"{uri}{separator}ssl_check_hostname=true"


def _open(uri: str | Counters, clock: Clock, state: KeyState, timeout: float, connections: int) -> Counters:
    if not isinstance(uri, str):
        if all(hasattr(uri, name) for name in ("incr", "get", "get_expiry", "clear")):
            return uri
        shown = "None (an environment variable not set?)" if uri is None else f"a {type(uri).__name__}"
        raise e.ConfigError(f"rate-limit storage is {shown}: pass a URI (memory://, or redis://host:6379 to share "
                            "limits between processes) or a limits async storage")
    if uri in _MEMORY:
        return LocalCounters(clock, state)
    uri = uri if uri.startswith("async+") else f"async+{uri}"
    scheme = uri[6:].split("://", 1)[0].lower()
    options: dict[str, Any] = {}
    if scheme in _COREDIS_SCHEMES:
        # A timeout given in the URI's query wins over these (coredis reads it last), but limits
        # reads no query of a cluster's or a sentinel's URI.
        options.update(connect_timeout=timeout, stream_timeout=timeout)
        connections = _connections(uri, connections)
    if scheme == "redis+cluster":
        options.update(RedisScripts.cluster_options(connections, timeout))
    if scheme == "redis+sentinel":
        # A replica answers behind its primary (replication is asynchronous), and the limiter reads
        # what it has just charged: every call goes to the primary, on one pool to bound. limits
        # gives the sentinels the URI's credentials only, and coredis would wait for ever on one.
        options.update(use_replicas=False, sentinel_kwargs={"connect_timeout": timeout, "stream_timeout": timeout})
    refused: e.ConfigError | None = None
    try:
        storage = storage_from_string(_checking_hostname(uri) if scheme == "rediss" else uri, wrap_exceptions=True,
                                      **options)
    except (ConfigurationError, ValueError, TypeError) as exc:
        # Raised past the except clause: limits' error, left as the __context__, holds the URI whole.
        refused = e.ConfigError(f"rate-limit storage {_redacted(uri)!r}: {_scrubbed(str(exc), uri)} "
                                "(use memory://, or redis://host:6379 to share limits between processes)")
    if refused is not None:
        raise refused from None
    if not isinstance(storage, Storage):  # pragma: no cover - the async+ prefix guarantees it
        raise e.ConfigError(f"rate-limit storage {_redacted(uri)!r} is not asynchronous")
    if scheme in _COREDIS_SCHEMES:
        RedisScripts.bound(storage, connections, timeout)
    return storage


class Limiter:
    """Charges requests' costs to pools in shared storage, waiting for capacity.

    ``storage`` is a ``limits`` URI: ``memory://`` (every limiter built on the same event loop
    with the same ``key`` shares the budget and the cool-offs) or ``redis://host:port`` (every
    process, thread and machine using the same ``key`` shares them), or an already open
    ``limits`` async storage.
    ``acquire`` waits at most ``max_wait`` seconds in total, then raises ``RateLimited``.
    A Redis storage gets ``storage_timeout`` seconds to answer each command, then the request
    fails with ``ConnectError``: a command is sent once (Redis may have run a script whose
    answer came too late, and a second try would charge the request twice), a connect (which
    sends none) is tried three times, ``storage_timeout`` each (on a cluster, it looks up where
    the slots are between tries; a slot that moved is followed, as the node refused the command);
    ``?stream_timeout=...&connect_timeout=...`` in the URI overrides it (not in a
    ``redis+cluster://`` nor a ``redis+sentinel://`` URI: ``limits`` does not read their query).
    It holds at most ``storage_connections`` connections to Redis (default
    :data:`STORAGE_CONNECTIONS`, 32; ``?max_connections=N`` in the URI wins), whichever the
    URI: ``redis://``, ``rediss://``, ``redis+unix://``, ``redis+cluster://`` or
    ``redis+sentinel://host:port/service``. A call finding them all busy waits for one up to
    three times ``storage_timeout`` (it has sent nothing yet), then fails with ``ConnectError``. Behind a
    sentinel, every call goes to the primary (a replica would answer with counts behind it), and
    the sentinels get ``storage_timeout`` too. On ``rediss://`` the server's certificate must be
    for the URI's host (``?ssl_check_hostname=false`` to accept any its CA signed); the CAs are
    the system's, or ``?ssl_ca_certs=/path/ca.pem``.
    """

    def __init__(self, pools: Iterable[Pool], storage: str | Counters = "memory://", key: str = "default", *,
                 clock: Clock = SYSTEM_CLOCK, max_wait: float = 30.0, guard: float = 0.25,
                 metrics: Metrics | None = None, exchange: str = "", storage_timeout: float = 2.0,
                 storage_connections: int = STORAGE_CONNECTIONS, account: str = "") -> None:
        self.pools = tuple(pools)
        self.account = account
        self.uri = storage if isinstance(storage, str) else f"<{type(storage).__name__}>"
        self.key = key
        self.clock = clock
        self.max_wait = max_wait
        self.guard = guard
        self.metrics = metrics
        self.exchange = exchange
        self.storage_timeout = storage_timeout
        self.storage_connections = storage_connections
        self._validate()
        # Cool-offs are kept here as epoch times; for memory:// they are the key's, shared
        # in-process like its counts. Other storages share them as keys (see ``_mark``).
        self._state = key_state(key) if isinstance(storage, str) and storage in _MEMORY else KeyState()
        self.storage = _open(storage, clock, self._state, storage_timeout, storage_connections)
        self._opened = isinstance(storage, str)  # its connections are ours to close; a given storage is the caller's
        # In-process counters: plain calls on the hot path, no awaits.
        self._local = self.storage if isinstance(self.storage, LocalCounters) else None
        # Memory storage lives in this process: cool-offs can stay local timestamps.
        self._shared = not isinstance(self.storage, MemoryStorage | LocalCounters)
        self._scripts = RedisScripts.of(self.storage)
        self._storage_errors = _STORAGE_ERRORS + RedisScripts.unwrapped_errors(self.storage)
        if self._shared and self._scripts is None:
            _log.warning("rate_limit.not_atomic", exchange=exchange, storage=_redacted(self.uri),
                         reason="cool-offs and venue pull-ups of several processes at once may undo one another")
        prefix = f"lotusx/{key}"
        self._ban_key = f"{prefix}/ban"
        # A pool the venue counts per account is this account's alone: other accounts on the
        # key (the same IP) have budgets of their own, and cool-offs of their own.
        scoped = {pool.name: f"{prefix}/account/{account}" if pool.per_account and account else prefix
                  for pool in self.pools}
        self._cool_keys = {name: f"{scope}/cool/{name}" for name, scope in scoped.items()}
        self.pool_names = frozenset(self._cool_keys)
        self._windows: dict[str, tuple[_Window, ...]] = {}
        for pool in self.pools:
            self._windows[pool.name] = (*self._windows.get(pool.name, ()), _Window(pool, scoped[pool.name], guard))
        if metrics is not None:
            # Computed when scraped, not set on every hit (a locked write per pool per request).
            for name in self._windows:
                metrics.track_pool(exchange, name, self)
        self.learning_failures = 0
        self._resolved: dict[int, tuple[Mapping[str, int], _Charges]] = {}

    async def aclose(self) -> None:
        """Close the connections of a storage opened from a URI (Redis); a storage passed in stays open.

        The limiter can still be used: the storage connects again when next asked.
        """
        if self._opened and RedisScripts.disconnect(self.storage):
            await asyncio.sleep(0)  # a closed transport lets its socket go in a callback: run it

    def _validate(self) -> None:
        if not self.pools:
            raise e.ConfigError("a Limiter needs at least one Pool")
        for name, seconds in (("max_wait", self.max_wait), ("guard", self.guard),
                              ("storage_timeout", self.storage_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):  # "5" read from the environment
                raise e.ConfigError(f"{name} must be a number of seconds, got a {type(seconds).__name__}")
        # Written so that NaN fails too: every comparison with it is false.
        if not (0 <= self.max_wait < math.inf and 0 <= self.guard < math.inf):
            raise e.ConfigError("max_wait and guard must be finite and >= 0")
        if not 0 < self.storage_timeout < math.inf:
            raise e.ConfigError(f"storage_timeout must be finite seconds > 0, got {self.storage_timeout!r}")
        connections = self.storage_connections
        if isinstance(connections, bool) or not isinstance(connections, int) or connections <= 0:
            raise e.ConfigError(f"storage_connections must be a whole number > 0, got {connections!r}")
        seen: set[tuple[str, int]] = set()
        for pool in self.pools:
            if pool.limit <= 0 or pool.per_seconds <= 0:
                raise e.ConfigError(f"pool {pool}: limit and per_seconds must be positive")
            if 2 * self.guard >= pool.per_seconds:
                raise e.ConfigError(f"pool {pool}: guard {self.guard}s must be under half the window")
            if (pool.name, pool.per_seconds) in seen:
                raise e.ConfigError(f"pool {pool} declared twice")
            seen.add((pool.name, pool.per_seconds))
        if len({(pool.name, pool.per_account) for pool in self.pools}) != len({pool.name for pool in self.pools}):
            raise e.ConfigError("the windows of a pool are all counted per account or all per IP (per_account)")

    # ===== acquire =====

    async def acquire(self, costs: Mapping[str, int]) -> None:
        """Charge ``costs`` (pool name -> units) to every pool, waiting for room.

        Empty ``costs`` charge nothing but still wait out an IP ban. Raises
        ``RateLimited(pool=...)`` (``IpBanned`` during a ban) when the wait would
        exceed ``max_wait``; ``ConfigError`` for a pool name that was never declared;
        ``ConnectError`` when the storage fails (nothing was sent).
        """
        if self._state.unlearned:
            self.settle()
        # No shortcut for a call that charges nothing: an IP ban holds back every call.
        charges = self._charges(costs)
        clock = self.clock
        if self._local is not None and self._attempt_local(self._local, charges, clock.time()) is None:
            return  # room at once, the common case: charged without a single await
        try:
            await self._acquire_slowly(charges, clock)
        except self._storage_errors as exc:
            raise self._storage_failure(exc) from None

    async def _acquire_slowly(self, charges: _Charges, clock: Clock) -> None:
        started = clock.monotonic()
        waited_on = ""
        while True:
            block = await self._attempt(charges, clock.time())
            if block is None:
                break
            name, wait, banned = block
            waited = clock.monotonic() - started
            if waited + wait > self.max_wait:
                self._count_local(name)
                raise self._refusal(name, wait, banned)
            waited_on = waited_on or name
            _log.debug("rate_limit.wait", exchange=self.exchange, pool=name, seconds=round(wait, 6))
            await clock.sleep(wait)
            if self._state.unlearned:  # answers that came in while we slept, before we look again
                self.settle()
        if waited_on and self.metrics is not None:
            self._count_local(waited_on)
            self.metrics.rate_limit_wait.labels(self.exchange, waited_on).observe(clock.monotonic() - started)

    def _charges(self, costs: Mapping[str, int]) -> _Charges:
        # Endpoints hand us the same read-only costs mapping every call: resolve it once.
        cached = self._resolved.get(id(costs))
        if cached is not None and cached[0] is costs:
            return cached[1]
        charges = self._resolve(costs)
        if not isinstance(costs, MappingProxyType):
            return charges  # a caller's dict may change under us
        if len(self._resolved) >= 1024:  # ad-hoc endpoints must not grow it without bound
            self._resolved.clear()
        self._resolved[id(costs)] = (costs, charges)
        return charges

    def _resolve(self, costs: Mapping[str, int]) -> _Charges:
        charges = _Charges()
        for name, cost in costs.items():
            windows = self._windows.get(name)
            if windows is None:
                raise e.ConfigError(f"cost for undeclared rate-limit pool {name!r}")
            for window in windows:
                if cost > window.limit:
                    raise e.ConfigError(f"cost {cost} exceeds pool {window.pool}: it could never be sent")
                if cost > 0:
                    charges.append((window, cost))
        return charges

    async def _attempt(self, charges: _Charges, now: float) -> tuple[str, float, bool] | None:
        """Charge every window or none; else (pool, seconds to wait, banned?)."""
        if self._local is not None:
            return self._attempt_local(self._local, charges, now)
        cooling = self._cooling_locally(charges, now)
        if cooling is not None:
            return cooling
        if self._scripts is not None:
            return await self._attempt_scripted(self._scripts, charges, now)
        plan = self._plan(charges, now)
        if self._shared:
            return await self._attempt_shared(charges, plan, now)
        storage = self.storage  # a caller's in-process limits storage
        for window, cost, key, idx in plan:
            if await storage.get(key) + cost > window.limit:
                return self._full(window, idx, now)
        return await self._hit_all(plan, [await storage.incr(key, w.expiry, cost) for w, cost, key, _ in plan])

    def _plan(self, charges: list[tuple[_Window, int]], now: float) -> list[tuple[_Window, int, str, int]]:
        """(window, cost, key, index) of every window a request sent at ``now`` is charged to."""
        plan: list[tuple[_Window, int, str, int]] = []
        for window, cost in charges:
            if window.lo < now < window.hi:  # strict: a float hair at a band's edge takes the long way
                plan.append((window, cost, window._key, window._idx))
                continue
            low, high = window.span(now)
            if high != low:
                plan.append((window, cost, window.key(low), low))
            plan.append((window, cost, window.key(high), high))  # cached last: the later window is next
        return plan

    def _reused_plan(self, charges: _Charges, now: float) -> tuple[list[tuple[_Window, int, str, int]],
                                                                   list[tuple[str, int, int, int]]]:
        if charges.lo < now < charges.hi:
            return charges.plan, charges.takes
        plan = self._plan(charges, now)
        takes = [(key, cost, window.limit, window.expiry) for window, cost, key, _ in plan]
        if len(plan) == len(charges):  # one key per window: valid until the first band ahead (no window: always)
            charges.lo = max((w.lo for w, _ in charges), default=-math.inf)
            charges.hi = min((w.hi for w, _ in charges), default=math.inf)
            charges.plan, charges.takes = plan, takes
        return plan, takes

    def _attempt_local(self, local: LocalCounters, charges: _Charges,
                       now: float) -> tuple[str, float, bool] | None:
        # memory://, the hot path: plain calls, no awaits, so nothing can race us to the last units.
        state = self._state
        if state.ban_until > now or state.cool_until:
            cooling = self._cooling_locally(charges, now)
            if cooling is not None:
                return cooling
        if charges.lo < now < charges.hi:  # _reused_plan's shortcut, without the call
            plan, takes = charges.plan, charges.takes
        else:
            plan, takes = self._reused_plan(charges, now)
        counts = local.take(takes, now)
        if isinstance(counts, int):
            window, _, _, idx = plan[counts]
            return self._full(window, idx, now)
        self._record(plan, counts)
        return None

    async def _attempt_scripted(self, scripts: RedisScripts, charges: _Charges,
                                now: float) -> tuple[str, float, bool] | None:
        # Redis: cool-offs, room and the charge in one script call, all or nothing.
        plan, takes = self._reused_plan(charges, now)
        scripted = charges.scripted
        if scripted is None or scripted[1] is not takes:  # built for another plan
            cools = self._cool_pairs(charges)
            scripted = charges.scripted = (cools, takes, scripts.take_call([key for _, key in cools], takes))
        cools, _, call = scripted
        verdict = await scripts.take(call)
        if verdict[0] == 1:
            # A key that still exists is a cool-off still running, whatever its TTL says (-1:
            # none), so we wait at least a little and look again.
            name, key = cools[verdict[1] - 1]
            return name, max(verdict[2] / 1000, 0.05), key == self._ban_key
        if verdict[0] == 2:
            window, _, _, idx = plan[verdict[1] - 1]
            return self._full(window, idx, now)
        self._record(plan, verdict[1:])
        return None

    async def _attempt_shared(self, charges: list[tuple[_Window, int]], plan: list[tuple[_Window, int, str, int]],
                              now: float) -> tuple[str, float, bool] | None:
        storage = self.storage
        cools = self._cool_pairs(charges)
        # One round trip for all reads, one for all hits, instead of one per key.
        counts = await asyncio.gather(*(storage.get(key) for _, _, key, _ in plan),
                                      *(storage.get(key) for _, key in cools))
        cooling = await self._cooling_shared(cools, counts[len(plan):])
        if cooling is not None:
            return cooling
        for (window, cost, _, idx), used in zip(plan, counts, strict=False):
            if used + cost > window.limit:
                return self._full(window, idx, now)
        return await self._hit_all(plan, await asyncio.gather(*(
            storage.incr(key, window.expiry, cost) for window, cost, key, _ in plan)))

    def _full(self, window: _Window, idx: int, now: float) -> tuple[str, float, bool]:
        return window.pool.name, (idx + 1) * window.per + self.guard - now + _EPSILON, False

    async def _hit_all(self, plan: list[tuple[_Window, int, str, int]],
                       counts: list[int]) -> tuple[str, float, bool] | None:
        # Each incr is atomic, so a window's committed total never passes its limit. Between
        # our check and our hits another process may take the last units: then our incr
        # comes back over the limit and we give back every unit we took. Until the give-back
        # lands the counters over-state usage, so others may wait needlessly (stricter,
        # never looser); a process dying in between leaks at most one window's charge.
        for (window, _, _, _), count in zip(plan, counts, strict=True):
            if count > window.limit:
                for w, cost, key, _ in plan:
                    await self.storage.incr(key, w.expiry, -cost)
                return window.pool.name, _RACE_BACKOFF, False
        self._record(plan, counts)
        return None

    @staticmethod
    def _record(plan: list[tuple[_Window, int, str, int]], counts: list[int]) -> None:
        # Index-paired, not zip(strict=True) (which parses its keyword on every call): every
        # caller passes one count per planned window.
        for index, (window, _, _, idx) in enumerate(plan):
            count = counts[index]
            if idx != window.seen_idx:
                window.seen_idx, window.seen = idx, count
            elif count > window.seen:
                window.seen = count

    def usage(self, name: str) -> float:
        """Used fraction of pool ``name``'s fullest current window; read by the gauge at scrape time."""
        now = self.clock.time()
        return max((w.seen / w.limit if w.seen_idx == int(now // w.per) else 0.0) for w in self._windows[name])

    async def used(self, pool: Pool) -> int:
        """Units charged to ``pool`` in its current window."""
        if self._state.unlearned:
            self.settle()
        for window in self._windows.get(pool.name, ()):
            if window.pool == pool:
                try:
                    return await self.storage.get(window.key(int(self.clock.time() // window.per)))
                except self._storage_errors as exc:
                    raise self._storage_failure(exc) from None
        raise e.ConfigError(f"pool {pool} is not declared on this limiter")

    # ===== cool-offs =====

    def _cooling_locally(self, charges: list[tuple[_Window, int]], now: float) -> tuple[str, float, bool] | None:
        state = self._state
        if state.ban_until > now:
            return "*", state.ban_until - now, True
        cool_until = state.cool_until
        if not cool_until:
            return None
        for window, _ in charges:
            until = cool_until.get(self._cool_keys[window.pool.name], 0.0)
            if until > now:
                return window.pool.name, until - now, False
        return None

    def _cool_pairs(self, charges: list[tuple[_Window, int]]) -> list[tuple[str, str]]:
        names = dict.fromkeys(window.pool.name for window, _ in charges)
        return [("*", self._ban_key), *((name, self._cool_keys[name]) for name in names)]

    async def _cooling_shared(self, cools: list[tuple[str, str]], flags: list[int]) -> tuple[str, float, bool] | None:
        for (name, key), flag in zip(cools, flags, strict=True):
            if flag > 0:
                # A key that still exists is a cool-off still running, whatever its rounded
                # TTL says, so we wait at least a little and look again.
                return name, max(await self._left(key), 0.05), key == self._ban_key
        return None

    async def cool_off(self, names: Iterable[str] | None, seconds: float | None, *,
                       default: float | None = None) -> None:
        """Stop charging pools ``names`` (``None``: every pool, an IP ban) for ``seconds``.

        ``seconds`` comes from the venue (Retry-After, a reset time): when it is ``None``,
        negative, NaN or infinite, ``default`` is used instead, and when that is ``None`` too
        the cool-off lasts until the end of the shortest current window among ``names``,
        when the venue's counter resets. No cool-off lasts longer than :data:`MAX_COOL_OFF`.

        It is the venue refusing a call, so it counts once in ``rate_limit_refusals`` and in
        ``rate_limited{source="venue"}`` for each pool it cools; the
        exhaustion a usage header reports (:meth:`sync`) does not: no call was refused, and the
        same refusal's headers would count it twice.
        """
        names = None if names is None else list(names)  # read twice below: a generator would be spent
        if self.metrics is not None:
            self.metrics.rate_limit_refusals.labels(self.exchange).inc()
            counted = ["*"] if names is None else [name for name in names if name in self._cool_keys]
            for name in counted:
                self.metrics.rate_limited.labels(self.exchange, name, "venue").inc()
        await self._cool_off(names, seconds, default)

    async def _cool_off(self, names: Iterable[str] | None, seconds: float | None, default: float | None) -> None:
        """:meth:`cool_off`, uncounted."""
        cooled = self._cool_locally(names, seconds, default)
        if cooled is None:
            return
        keys, until, now = cooled
        try:
            for key in keys:
                await self._mark(key, until, now)
        except self._storage_errors as exc:
            raise self._storage_failure(exc) from None

    def _cool_locally(self, names: Iterable[str] | None, seconds: float | None,
                      default: float | None) -> tuple[list[str], float, float] | None:
        """:meth:`cool_off` in this process; the storage keys to mark, until when, and now."""
        now = self.clock.time()
        chosen = list(self._cool_keys) if names is None else [n for n in names if n in self._cool_keys]
        if not chosen:
            return None
        if seconds is None or not 0 <= seconds < math.inf:
            seconds = default
        if seconds is None:
            seconds = min(
                (now // w.per + 1) * w.per + self.guard - now for name in chosen for w in self._windows[name])
        seconds = min(seconds, MAX_COOL_OFF)
        until = now + seconds
        # Local first: a storage failure below must not cost this process the cool-off.
        state = self._state
        if names is None:
            running, state.ban_until = state.ban_until, max(state.ban_until, until)
            if _news(running, until, now):
                _log.warning("rate_limit.ip_ban", exchange=self.exchange, seconds=round(seconds, 3))
        else:
            news = False
            for name in chosen:
                key = self._cool_keys[name]  # the key's state is shared by every account: keyed by scope too
                running = state.cool_until.get(key, 0.0)
                state.cool_until[key] = max(running, until)
                news = _news(running, until, now) or news
            if news:
                _log.warning("rate_limit.cool_off", exchange=self.exchange, pools=chosen, seconds=round(seconds, 3))
        return [self._ban_key] if names is None else [self._cool_keys[name] for name in chosen], until, now

    async def _mark(self, key: str, until: float, now: float) -> None:
        """Record a cool-off in shared storage as a key that expires when it ends."""
        if not self._shared:
            return
        if self._scripts is not None:
            # One step on the server: nobody sees the key missing, nor can a shorter cool-off
            # written at the same time cut ours (milliseconds: a 0.3 s Retry-After is not 1 s).
            milliseconds = math.ceil((until - now) * 1000)
            if milliseconds > 0:  # Retry-After: 0 is over already (and Redis refuses PX 0)
                await self._scripts.extend(key, milliseconds)
            return
        storage = self.storage
        if await storage.get(key) > 0 and await self._left(key) >= until - now:
            return  # a longer cool-off is already running: never shorten it
        # Clear and re-create so the new (longer) expiry applies. Not atomic: a concurrent
        # writer may replace ours with its shorter one, and readers in between see none.
        await storage.clear(key)
        await storage.incr(key, math.ceil(until - now), 1)

    async def _left(self, key: str) -> float:
        """Seconds until ``key`` expires in shared storage.

        Read on this host's clock, as the storage gives the expiry: ours may be the venue's
        (``ServerClock``), seconds apart from it, and a ban would be cut or stretched by that.
        """
        return await self.storage.get_expiry(key) - time.time()

    # ===== learning from the venue =====

    async def sync(self, *usages: Usage) -> None:
        """Pull local counts up to what the venue says it counted; never down.

        Pass every usage of one response at once: with Redis they are one storage call.
        Raises ``ConnectError`` when the storage fails.
        """
        now = self.clock.time()
        for usage in usages:
            if usage.until is not None and usage.until > now:
                await self._cool_off([usage.name], usage.until - now, None)
        # The venue's count includes other processes and tools on our IP.
        behind = [(window, idx, used) for usage in usages for window, idx, used in self._behind(usage, now)]
        if not behind:
            return
        pulls = [(window.key(idx), used, window.expiry) for window, idx, used in behind]
        try:
            if self._scripts is not None:
                # One step on the server: nothing lands between reading a count and raising it.
                counts = await self._scripts.raise_to(pulls)
            else:
                counts = [await self._pull_up(key, used, expiry) for key, used, expiry in pulls]
        except self._storage_errors as exc:
            raise self._storage_failure(exc) from None
        for (window, idx, _), (key, _, _), count in zip(behind, pulls, counts, strict=True):
            self._record([(window, 0, key, idx)], [count])

    async def _pull_up(self, key: str, used: int, expiry: int) -> int:
        # Not atomic: two processes pulling up at once both add the difference (an over-count,
        # the safe side), but a give-back landing in between or just after lowers it below
        # the venue's count.
        count = await self.storage.get(key)
        return count if count >= used else await self.storage.incr(key, expiry, used - count)

    def learn_soon(self, learn: Callable[..., object], *args: Any) -> None:
        """Call ``learn(*args)``, a plain call learning from an answer, soon: at the loop's next turn.

        Or earlier: this key's next :meth:`acquire` or :meth:`used` runs what is pending
        first, and a waiting acquire before each look again. So the caller has the venue's
        answer before the limiter learns from it, and still no charge is decided without what
        an earlier answer reported. A learning that reads the clock should be given the time
        the answer came (see :meth:`sync_nowait`'s ``now``): it may run after a boundary.
        """
        state = self._state
        state.unlearned.append((self, learn, args))
        # One callback at a time on this loop (an acquire may settle before it runs); one left
        # on a loop that closed before running it never will.
        loop = asyncio.get_running_loop()
        if state.settle_due is not loop:
            state.settle_due = loop
            loop.call_soon(self._settle_soon)

    def _settle_soon(self) -> None:
        self._state.settle_due = None
        self.settle()

    def settle(self) -> None:
        """Run what :meth:`learn_soon` left pending, in order.

        A learning that raises is a :meth:`learning_failed` of the limiter that queued it; the
        ones behind it still run, and the charge that settles them goes on.
        """
        state = self._state
        pending, state.unlearned = state.unlearned, []
        for owner, learn, args in pending:
            try:
                learn(*args)
            except Exception as exc:
                owner.learning_failed(exc)

    @property
    def learns_nowait(self) -> bool:
        """Whether :meth:`sync_nowait` settles every report (``memory://``: nothing to await)."""
        return self._local is not None

    def sync_nowait(self, usage: Usage, now: float | None = None) -> bool:
        """:meth:`sync` without an await where none is needed; ``False``: call :meth:`sync`.

        Every response carries usage headers, so this is on the hot path: with ``memory://``
        (always) or a report we already cover, the pull-up is a few plain calls. ``now``: the
        clock's time when the venue answered, for a report learned later (default: now), so
        it counts in the window it was read in.
        """
        if usage.until is not None:
            if self._local is None:
                return False  # the cool-off must be marked in the shared storage
            left = usage.until - self.clock.time()
            if left > 0:
                self._cool_locally([usage.name], left, None)
        if now is None:
            now = self.clock.time()
        behind = self._behind(usage, now)
        if not behind:
            return True
        local = self._local
        if local is None:
            return False
        for window, idx, used in behind:
            key = window.key(idx)
            missing = used - local.count(key, now)
            if missing > 0:
                self._record([(window, 0, key, idx)], [local.add(key, window.expiry, missing, now)])
        return True

    def _behind(self, usage: Usage, now: float) -> list[tuple[_Window, int, int]]:
        """(window, index, count to pull up to) of the windows ``usage`` reports more on than we have seen.

        A report read within ``guard`` of a boundary may be of either window (the venue's
        clock may be on either side of it), so both are pulled up, as acquire charges both.
        """
        behind = []
        reported, per = usage.used, usage.per_seconds
        for window in self._windows.get(usage.name, ()):
            if per is not None and window.pool.per_seconds != per:
                continue
            # The common report, checked before anything is computed for it (every response
            # brings one): one window, already counted at least this much, or full.
            if (window.lo < now < window.hi and window._idx == window.seen_idx
                    and (reported <= window.seen or window.limit <= window.seen)):
                continue
            # A window is full at its limit: more says nothing new, and Redis would refuse
            # a count beyond 64 bits.
            used = min(reported, window.limit)
            low, high = window.span(now)
            # Skip what we already counted at least as much as the venue did.
            if low != window.seen_idx or used > window.seen:
                behind.append((window, low, used))
            if high != low and (high != window.seen_idx or used > window.seen):
                behind.append((window, high, used))
        return behind

    # ===== helpers =====

    def _storage_failure(self, exc: Exception) -> e.ConnectError:
        cause = exc.storage_error if isinstance(exc, StorageError) else exc
        reason = _scrubbed(f"{type(cause).__name__}: {cause}", self.uri)
        return e.ConnectError(f"rate-limit storage {_redacted(self.uri)!r} failed: {reason}")

    def learning_failed(self, error: Exception) -> None:
        """Note that learning from a response failed; the caller still gets the response.

        Best-effort by design: the venue acted on the request, so its answer must reach the
        caller. Counted in :attr:`learning_failures` and ``rate_limit_learning_failures_total``.
        """
        self.learning_failures += 1
        if self.metrics is not None:
            self.metrics.rate_limit_learning_failures.labels(self.exchange).inc()
        _log.warning("rate_limit.learning_failed", exchange=self.exchange,
                     error=_scrubbed(f"{type(error).__name__}: {error}", self.uri))

    def _count_local(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.rate_limited.labels(self.exchange, name, "local").inc()

    def _refusal(self, name: str, wait: float, banned: bool) -> e.RateLimited:
        if banned:
            return e.IpBanned(f"IP ban in effect for {wait:.3f}s more (max_wait {self.max_wait}s)",
                              retry_after=wait, pool=None)
        return e.RateLimited(f"rate-limit pool {name} needs {wait:.3f}s (max_wait {self.max_wait}s)",
                             retry_after=wait, pool=name)

    def __repr__(self) -> str:
        pools = ", ".join(map(str, self.pools))
        return (f"Limiter(pools=[{pools}], storage={_redacted(self.uri)!r}, key={self.key!r}, "
                f"max_wait={self.max_wait}, guard={self.guard})")

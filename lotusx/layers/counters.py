"""``LocalCounters``: the limiter's in-process counters for ``memory://``.

``limits``' async ``MemoryStorage`` starts an expiry ``Task`` on nearly every ``incr`` (its
previous sweep has always finished by the next hit) and takes an ``asyncio.Lock`` per key:
a task, a lock and a full sweep of its keys per rate-limited request, measured at about a
quarter of the RateLimit layer's cost. The limiter's keys already name their window, so a
stale key is simply never read again; it only has to be dropped eventually, which happens
here when a new key is created. Counts live in one dict; expiry is wall-clock time, as in
``limits``: the sync calls take the caller's ``now`` (the limiter has just read its clock),
the async protocol reads the injected clock.

Limiters of one key share a budget here as they do in Redis: :func:`key_state` hands every
``memory://`` limiter of a key on one event loop the same :class:`KeyState` (counts and
cool-offs). One loop, because checking and charging counts is atomic only while nothing else
runs in between: true for the tasks of one loop, not for another thread's. Each limiter keeps
its own ``LocalCounters`` over the shared counts, so each reads them at its own clock.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Any

from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock


class KeyState:
    """What the ``memory://`` limiters of one key on one event loop share: counts, and cool-offs as epoch times.

    ``counts``/``expires`` are :class:`LocalCounters`' storage; ``ban_until`` holds every pool
    (an IP ban), ``cool_until`` one pool by its cool-off key (a pool counted per account has one
    per account); ``unlearned`` the answers not learned from yet (see
    :meth:`lotusx.layers.limiter.Limiter.learn_soon`).
    """

    __slots__ = ("__weakref__", "ban_until", "cool_until", "counts", "expires", "settle_due", "unlearned")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.expires: dict[str, float] = {}
        self.ban_until = 0.0
        self.cool_until: dict[str, float] = {}
        # (the limiter that queued it, the learning, its arguments)
        self.unlearned: list[tuple[Any, Callable[..., object], tuple[Any, ...]]] = []
        # The loop whose callback will run what is unlearned, if one is due.
        self.settle_due: asyncio.AbstractEventLoop | None = None


class _NoLoop:
    """The scope of limiters built outside a running event loop (a weak-referenceable key)."""


_NO_LOOP = _NoLoop()
# Per loop, then per key. Weak both ways: a key's state lives while a limiter holding it does,
# and no longer than its loop. So a new loop (a new ``asyncio.run``; each test, under
# pytest-asyncio) starts afresh, even while an old loop's limiters wait for the collector.
_STATES: weakref.WeakKeyDictionary[object, weakref.WeakValueDictionary[str, KeyState]] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()  # several threads may build limiters, each on its own loop


def key_state(key: str) -> KeyState:
    """The :class:`KeyState` of ``key`` shared by limiters built on the running event loop.

    Outside a running loop: shared by the limiters of ``key`` built outside one. New when
    no limiter holding it is alive.
    """
    try:
        scope: object = asyncio.get_running_loop()
    except RuntimeError:
        scope = _NO_LOOP
    with _STATES_LOCK:
        states = _STATES.get(scope)
        if states is None:
            states = _STATES[scope] = weakref.WeakValueDictionary()
        state = states.get(key)
        if state is None:
            state = states[key] = KeyState()
        return state


class LocalCounters:
    """Expiring integer counters in this process; the ``Counters`` protocol plus sync fast paths.

    ``state``: the :class:`KeyState` whose counts these are (default: counts of their own).
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK, state: KeyState | None = None) -> None:
        self.clock = clock
        self.state = state if state is not None else KeyState()
        self._counts = self.state.counts
        self._expires = self.state.expires

    def count(self, key: str, now: float) -> int:
        """The count of ``key`` at wall-clock time ``now`` (0 when absent or expired)."""
        value = self._counts.get(key)
        if value is None:
            return 0
        if self._expires[key] <= now:
            self._drop(key)
            return 0
        return value

    def add(self, key: str, expiry: float, amount: int, now: float) -> int:
        """Add ``amount`` to ``key`` at ``now``; a new key expires ``expiry`` seconds later. The new count."""
        value = self.count(key, now) + amount
        if key not in self._counts:
            self._sweep(now)
            self._expires[key] = now + expiry
        self._counts[key] = value
        return value

    def take(self, charges: list[tuple[str, int, int, int]], now: float) -> list[int] | int:
        """Add each ``(key, amount, limit, expiry)`` if every key stays within its limit.

        All or nothing: the new counts in order, or the index of the first charge that would
        pass its limit (then nothing was added). One call for a whole request's windows.
        """
        counts, expires = self._counts, self._expires
        values: list[int] = []
        fresh = False  # a key to create: the second pass then sweeps and sets expiries
        for key, amount, limit, _ in charges:
            value = counts.get(key)
            if value is None or expires[key] <= now:
                fresh = True
                value = amount
            else:
                value += amount
            if value > limit:
                return len(values)  # the index of this charge: nothing was added
            values.append(value)
        # Index-paired, not zip(strict=True): values was built one per charge just above.
        if fresh:
            for index, (key, _, _, expiry) in enumerate(charges):
                if key in counts and expires[key] <= now:
                    self._drop(key)
                if key not in counts:
                    self._sweep(now)
                    expires[key] = now + expiry
                counts[key] = values[index]
        else:
            for index, (key, _, _, _) in enumerate(charges):
                counts[key] = values[index]
        return values

    def _sweep(self, now: float) -> None:
        for key in [k for k, until in self._expires.items() if until <= now]:
            self._drop(key)

    def _drop(self, key: str) -> None:
        del self._counts[key], self._expires[key]

    # The async ``Counters`` protocol, for callers that treat every storage alike.

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Async form of :meth:`add`, at the clock's time."""
        return self.add(key, expiry, amount, self.clock.time())

    async def get(self, key: str) -> int:
        """Async form of :meth:`count`, at the clock's time."""
        return self.count(key, self.clock.time())

    async def get_expiry(self, key: str) -> float:
        """Epoch time at which ``key`` expires (now, when it is absent)."""
        now = self.clock.time()
        return self._expires[key] if self.count(key, now) else now

    async def clear(self, key: str) -> None:
        """Forget ``key``."""
        if key in self._counts:
            self._drop(key)

    def __repr__(self) -> str:
        return f"LocalCounters({len(self._counts)} keys)"

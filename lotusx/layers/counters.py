"""``LocalCounters``: the limiter's in-process counters for ``memory://``.

``limits``' async ``MemoryStorage`` starts an expiry ``Task`` on nearly every ``incr`` (its
previous sweep has always finished by the next hit) and takes an ``asyncio.Lock`` per key:
a task, a lock and a full sweep of its keys per rate-limited request, measured at about a
quarter of the RateLimit layer's cost. The limiter's keys already name their window, so a
stale key is simply never read again; it only has to be dropped eventually, which happens
here when a new key is created. Counts live in one dict; expiry is wall-clock time, as in
``limits``: the sync calls take the caller's ``now`` (the limiter has just read its clock),
the async protocol reads the injected clock.
"""

from __future__ import annotations

from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock


class LocalCounters:
    """Expiring integer counters in this process; the ``Counters`` protocol plus sync fast paths."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._counts: dict[str, int] = {}
        self._expires: dict[str, float] = {}

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
        counts = self._counts
        values = []
        for index, (key, amount, limit, _) in enumerate(charges):
            value = counts.get(key)
            if value is not None and self._expires[key] <= now:
                self._drop(key)
                value = None
            value = amount if value is None else value + amount
            if value > limit:
                return index
            values.append(value)
        for (key, _, _, expiry), value in zip(charges, values, strict=True):
            if key not in counts:
                self._sweep(now)
                self._expires[key] = now + expiry
            counts[key] = value
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

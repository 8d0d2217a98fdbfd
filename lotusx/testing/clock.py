"""A virtual clock for layers that sleep, time out or read the time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time


class FakeClock:
    """Virtual time. Nothing really sleeps.

    With ``auto_advance=True`` (default) ``await sleep(s)`` moves time forward by ``s`` at
    once and returns after one event-loop turn, which suits a single task under test.
    With ``auto_advance=False`` sleepers wait until a test calls :meth:`advance`, which
    suits several tasks racing (heartbeats, watchdogs): ``await clock.advance(5)`` wakes,
    in deadline order, every sleeper due within the next five seconds.

    ``slept`` lists every requested sleep, in order.
    """

    def __init__(self, start: float = 1_700_000_000.0, *, auto_advance: bool = True) -> None:
        self._now = start
        self._start = start
        self.auto_advance = auto_advance
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        """Virtual wall-clock seconds since the epoch."""
        return self._now

    def monotonic(self) -> float:
        """Virtual monotonic seconds (starts at 0)."""
        return self._now - self._start

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of virtual time."""
        seconds = max(0.0, seconds)
        self.slept.append(seconds)
        if self.auto_advance:
            self._now += seconds
            self._wake_due()
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking due sleepers in order and letting each one run."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            for _ in range(5):  # let the woken task run to its next await
                await asyncio.sleep(0)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return sum(1 for *_, f in self._sleepers if not f.done())

    def __repr__(self) -> str:
        return f"FakeClock(t={self._now:.3f})"


class RecordingClock:
    """Real time that remembers every sleep asked of it; ``speedup`` shortens the real sleeps.

    For integration tests over real sockets: ``RecordingClock(speedup=100)`` lets a layer honour
    a ``Retry-After: 1`` in 10 ms while ``slept`` still shows the 1 s it asked for.
    """

    def __init__(self, speedup: float = 1.0) -> None:
        self.speedup = speedup
        self.slept: list[float] = []

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Record ``seconds``, then really sleep ``seconds / speedup``."""
        self.slept.append(seconds)
        await asyncio.sleep(seconds / self.speedup)

    def __repr__(self) -> str:
        return f"RecordingClock(speedup={self.speedup})"

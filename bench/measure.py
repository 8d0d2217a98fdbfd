"""Measuring: CPU pinning, the server subprocess, per-call samples and their summary."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

MARK = "BENCH> "
CLIENT_CORE = 0
SERVER_CORE = 1


def two_cores() -> bool:
    """Whether client and server can each have a core of their own."""
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def pin(core: int | None) -> None:
    """Pin this process to ``core`` (no-op when ``None`` or unsupported)."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def rss_bytes() -> int:
    """Resident set size of this process right now (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


class Server:
    """``python -m bench.server <kind>`` in its own process, pinned to ``core`` when given.

    The caller passes the core: a child inherits its parent's affinity, so deciding here from
    this process's own mask would see only the client's core once the client is pinned, and
    leave the server sharing it. Once the server has answered, its mask is checked.
    """

    def __init__(self, kind: str, core: int | None = None) -> None:
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.server", kind, *(["--core", str(core)] if core is not None else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)})
        assert self.process.stdout is not None
        self.info: dict[str, Any] = orjson.loads(self._answer())
        if core is not None and os.sched_getaffinity(self.process.pid) != {core}:
            self.close()
            raise RuntimeError(f"bench server is not pinned to core {core}")

    def cpu(self) -> float:
        """The CPU seconds of the server's event-loop thread so far (Linux /proc; 0.0 elsewhere).

        Read around a timed section, it says whether the server paced the client: a server
        core near 100 % busy means the row measures the server, not the client. schedstat
        counts nanoseconds; /proc/<pid>/stat's clock ticks (10 ms) are too coarse for a round.
        Only the main thread: it serves every request, and summing the threads would go back
        whenever an executor thread exits.
        """
        try:
            return int(Path(f"/proc/{self.process.pid}/schedstat").read_text().split()[0]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def command(self, text: str) -> str:
        """Send one command line and return the server's one-line answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self) -> str:
        # The sim logs to stdout too; answers are the lines that carry MARK.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(MARK):
                return line[len(MARK):].strip()
        self.close()
        raise RuntimeError("bench server exited without answering")

    def close(self) -> None:
        """Close its stdin (it exits on EOF) and wait; kill it if it hangs."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@contextmanager
def server(kind: str, core: int | None = None) -> Iterator[Server]:
    """A :class:`Server` (pinned to ``core`` when given) for the duration of a ``with`` block."""
    running = Server(kind, core)
    try:
        yield running
    finally:
        running.close()


@dataclass
class Result:
    """One benchmark row: a client's figures for one case."""

    case: str
    client: str
    count: int
    median_us: float
    p99_us: float
    rate: float
    """Calls or messages per second (wall clock)."""
    cpu_us: float
    """Client CPU (process time) per call or message."""
    ratio: float | None = None
    """This client's rate over the floor's rate in the same run (>1: faster than the floor)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The JSON form."""
        return {"case": self.case, "client": self.client, "count": self.count, "median_us": self.median_us,
                "p99_us": self.p99_us, "rate": self.rate, "cpu_us": self.cpu_us, "ratio": self.ratio,
                **self.extra}


def summarize(case: str, client: str, samples: list[float], wall: float, cpu: float, count: int) -> Result:
    """A :class:`Result` from per-call seconds, total wall and CPU seconds, and the call count."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Result(case, client, count, statistics.median(ordered) * 1e6, p99 * 1e6, count / wall,
                  cpu / count * 1e6)


class Rounds:
    """Samples of one (case, client) gathered round by round, pooled into one :class:`Result`.

    Each round's own figures are kept too (``extra["rounds"]``): a ratio to the floor taken
    round by round, the floor measured minutes apart or seconds apart, shows how much of a
    pooled ratio is the code and how much the machine drifting under it.
    """

    def __init__(self, case: str, client: str) -> None:
        self.case, self.client = case, client
        self.samples: list[float] = []
        self.wall = self.cpu = self.server_cpu = 0.0
        self.rounds: list[dict[str, float]] = []

    def add(self, samples: list[float], wall: float, cpu: float, server_cpu: float = 0.0) -> None:
        """One round's per-call seconds, its wall and CPU seconds, and the server's CPU seconds."""
        self.samples += samples
        self.wall += wall
        self.cpu += cpu
        self.server_cpu += server_cpu
        one = summarize(self.case, self.client, samples, wall, cpu, len(samples))
        self.rounds.append({"median_us": one.median_us, "p99_us": one.p99_us, "rate": one.rate})

    def result(self) -> Result:
        """Every round pooled; the rounds' own figures in ``extra["rounds"]``."""
        pooled = summarize(self.case, self.client, self.samples, self.wall, self.cpu, len(self.samples))
        pooled.extra["rounds"] = self.rounds
        pooled.extra["server_busy"] = self.server_cpu / self.wall
        return pooled


def round_ratios(ours: Result, base: Result, figure: str) -> list[float]:
    """``ours``'s ``figure`` over ``base``'s, round by round (rounds run side by side); [] if unknown."""
    mine, theirs = ours.extra.get("rounds", []), base.extra.get("rounds", [])
    if len(mine) != len(theirs):
        return []
    return [a[figure] / b[figure] for a, b in zip(mine, theirs, strict=True)]


async def timed_calls(call: Callable[[int], Awaitable[object]], count: int, workers: int = 1
                      ) -> tuple[list[float], float, float]:
    """Run ``call(i)`` ``count`` times over ``workers`` concurrent loops: (per-call s, wall s, CPU s)."""
    import asyncio

    samples: list[float] = []
    per_worker = count // workers

    async def worker(offset: int) -> None:
        clock = time.perf_counter
        for i in range(offset, offset + per_worker):
            started = clock()
            await call(i)
            samples.append(clock() - started)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(w * per_worker) for w in range(workers)))
    return samples, time.perf_counter() - wall0, time.process_time() - cpu0

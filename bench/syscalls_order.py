"""Where a ``place_order``'s wall time goes at 16 in flight: syscalls, CPU, loop turns, per order.

callgrind (``bench/callgrind_order.py``) counts user-space instructions only; this counts what
it cannot see. Each client runs in a process of its own against the canned server (``python -m
bench.server canned``, another process): ``lotusx`` (full stack), ``layerless`` (without Retry,
RateLimit, ClockSync and Trace, as the canned suite builds it) and ``floor``. After 200 warm-up
orders, N orders run with 16 in flight, twice::

    python -m bench.syscalls_order 2000            # every client, 3 runs, a table
    python -m bench.syscalls_order 2000 --client lotusx --runs 1

- **timed**: wall time, user and system CPU (``resource.getrusage``), event-loop turns (calls of
  the selector's ``select``) and the ready events they returned; only this process is counted;
- **traced**: the same section under ``strace -f`` (attached to this process's threads after
  the warm-up, so not to the server), every syscall between two markers (``stat`` of a path that
  does not exist) counted by name. strace slows the process, so its section is not timed.

``--together`` runs the three in one process instead, rounds interleaved, as the canned suite
does, and prints only their CPU per order: the same code timed next to the others' heaps.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import structlog

from bench.callgrind_order import WARMUP, orders
from bench.measure import server
from bench.rest import open_client

CLIENTS = ("lotusx", "layerless", "floor")
WORKERS = 16
BEGIN, END = "/lotusx-bench-section-begin", "/lotusx-bench-section-end"
STRACE = "/usr/bin/strace"


def mark(path: str) -> None:
    """A syscall strace shows with ``path`` in it: the section's edge."""
    with contextlib.suppress(FileNotFoundError):
        os.stat(path)


class Collections:
    """Counts the cyclic garbage collector's runs by generation, and the time they take."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.seconds = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.runs[info["generation"]] += 1

    def __enter__(self) -> Collections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


class Turns:
    """Counts the loop's turns (one ``select`` each), the events they return, the callbacks
    scheduled (``call_soon``: a task's every step, a future's every done-callback) and the
    timers (``call_at``, which ``call_later`` and ``asyncio.timeout`` go through)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.selector: Any = loop._selector  # type: ignore[attr-defined]  # bench only: never in lotusx
        self.turns = self.events = self.callbacks = self.timers = 0
        self.select = self.selector.select

    def __enter__(self) -> Turns:
        def select(timeout: float | None = None) -> Any:
            ready = self.select(timeout)
            self.turns += 1
            self.events += len(ready)
            return ready

        call_soon = self.loop.call_soon

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.callbacks += 1
            return call_soon(*args, **kwargs)

        call_at = self.loop.call_at

        def timer(*args: Any, **kwargs: Any) -> Any:
            self.timers += 1
            return call_at(*args, **kwargs)

        self.selector.select = select
        self.loop.call_soon = counted  # type: ignore[method-assign,assignment]  # tasks look it up on the instance
        self.loop.call_at = timer  # type: ignore[method-assign,assignment]  # call_later and asyncio.timeout use it
        return self

    def __exit__(self, *exc: object) -> None:
        del self.selector.select, self.loop.call_soon, self.loop.call_at


def tracer(out: Path) -> subprocess.Popen[bytes]:
    """strace on every thread of this process (the server, another process, is left out)."""
    tids = [f"-p{tid}" for tid in os.listdir("/proc/self/task")]
    process = subprocess.Popen([STRACE, "-f", "-qq", "-o", str(out), *tids], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while "TracerPid:\t0" in Path("/proc/self/status").read_text():
        if time.monotonic() > deadline:
            raise RuntimeError("strace did not attach")
        time.sleep(0.01)
    time.sleep(0.2)
    return process


def syscalls(trace: Path) -> collections.Counter[str]:
    """Syscalls by name between the two markers (strace -f lines: ``pid name(args) = result``)."""
    counts: collections.Counter[str] = collections.Counter()
    inside = False
    for line in trace.read_text().splitlines():
        if BEGIN in line:
            inside = True
            continue
        if END in line:
            break
        if inside:
            rest = line.split(None, 1)[1] if line[:1].isdigit() else line
            if rest.startswith("<... "):  # the end of a call strace showed as unfinished
                continue
            counts[rest.split("(", 1)[0]] += 1
    return counts


def one(name: str, n: int) -> dict[str, Any]:
    """``name``'s figures per order, timed and traced (see the module docstring)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        cache_logger_on_first_use=True)
    from bench.__main__ import LAYERLESS

    loop = asyncio.new_event_loop()
    with server("canned") as canned:
        drop = LAYERLESS if name == "layerless" else ()
        client: Any = loop.run_until_complete(open_client("floor" if name == "floor" else "lotusx", canned.info, drop))
        try:
            loop.run_until_complete(orders(client, 0, WARMUP, WORKERS))
            before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            with Turns(loop) as turns, Collections() as collected:
                loop.run_until_complete(orders(client, WARMUP, n, WORKERS))
            wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "trace"
                strace = tracer(out)
                mark(BEGIN)
                loop.run_until_complete(orders(client, WARMUP + n, n, WORKERS))
                mark(END)
                strace.terminate()
                strace.wait(timeout=30)
                counts = syscalls(out)
        finally:
            loop.run_until_complete(client.close())
            loop.close()
    return {"client": name, "n": n, "rate": n / wall, "wall_us": wall / n * 1e6,
            "user_us": (after.ru_utime - before.ru_utime) / n * 1e6,
            "sys_us": (after.ru_stime - before.ru_stime) / n * 1e6,
            "turns": turns.turns / n, "events": turns.events / n, "callbacks": turns.callbacks / n,
            "timers": turns.timers / n,
            "gc_us": collected.seconds / n * 1e6, "gc_runs": [runs / n for runs in collected.runs],
            "page_faults": (after.ru_minflt - before.ru_minflt) / n,
            "syscalls": {k: v / n for k, v in counts.most_common()}}


def together(n: int, runs: int) -> str:
    """All three clients in this one process, as the canned suite holds them, rounds interleaved
    (every other one reversed): CPU µs per order (user + system) each round, and the pooled ratio."""
    from bench.__main__ import LAYERLESS

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        cache_logger_on_first_use=True)
    loop = asyncio.new_event_loop()
    cpu: dict[str, list[float]] = {name: [] for name in CLIENTS}
    with server("canned") as canned:
        clients: dict[str, Any] = {}
        try:
            for name in CLIENTS:
                drop = LAYERLESS if name == "layerless" else ()
                clients[name] = loop.run_until_complete(
                    open_client("floor" if name == "floor" else "lotusx", canned.info, drop))
                loop.run_until_complete(orders(clients[name], 0, WARMUP, WORKERS))
            first = WARMUP
            for round_ in range(runs):
                for name in CLIENTS[::-1 if round_ % 2 else 1]:
                    started = time.process_time()
                    loop.run_until_complete(orders(clients[name], first, n, WORKERS))
                    cpu[name].append((time.process_time() - started) / n * 1e6)
                    first += n
        finally:
            for client in clients.values():
                loop.run_until_complete(client.close())
            loop.close()
    floor = sum(cpu["floor"])
    return "\n".join(f"{name}: CPU µs per order {' '.join(f'{x:.0f}' for x in cpu[name])}; "
                     f"floor / this {floor / sum(cpu[name]):.2f}" for name in CLIENTS)


def table(rows: list[dict[str, Any]]) -> str:
    """One line per client and run: the figures per order (syscalls: those at 0.05 a call or more)."""
    names = sorted({k for row in rows for k in row["syscalls"]},
                   key=lambda k: -max(row["syscalls"].get(k, 0) for row in rows))
    names = [k for k in names if max(row["syscalls"].get(k, 0) for row in rows) >= 0.05]
    head = ["client", "rate/s", "wall µs", "user µs", "sys µs", "gc µs", "gc runs/1k (0/1/2)", "faults", "turns",
            "events", "callbacks", "timers", "syscalls", *names]
    lines = [" | ".join(head)]
    for row in rows:
        sc = row["syscalls"]
        cells = [row["client"], f"{row['rate']:.0f}"]
        cells += [f"{row[k]:.1f}" for k in ("wall_us", "user_us", "sys_us", "gc_us")]
        cells.append("/".join(f"{r * 1000:.1f}" for r in row["gc_runs"]))
        cells += [f"{row[k]:.2f}" for k in ("page_faults", "turns", "events", "callbacks", "timers")]
        cells += [f"{sum(sc.values()):.2f}", *(f"{sc.get(k, 0):.2f}" for k in names)]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.syscalls_order")
    parser.add_argument("n", type=int, nargs="?", default=2000, help="orders per section (a multiple of 16)")
    parser.add_argument("--client", choices=CLIENTS, help="run this client here and print its JSON")
    parser.add_argument("--runs", type=int, default=3, help="rounds of every client, each in a new process")
    parser.add_argument("--together", action="store_true",
                        help="CPU only, the three clients in this one process (as the canned suite runs them)")
    args = parser.parse_args()
    n = args.n // WORKERS * WORKERS
    if args.together:
        print(together(n, 2 * args.runs))
        return
    if args.client:
        print(orjson.dumps(one(args.client, n)).decode(), flush=True)
        return
    rows = []
    for _ in range(args.runs):
        for name in CLIENTS:
            done = subprocess.run([sys.executable, "-m", "bench.syscalls_order", str(n), "--client", name],
                                  check=True, capture_output=True, text=True)
            rows.append(orjson.loads(done.stdout.strip().splitlines()[-1]))
    print(table(rows))


if __name__ == "__main__":
    main()

"""bench.syscalls_order's counting: syscalls between its markers, and the loop's turns, callbacks and timers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.syscalls_order import BEGIN, END, Turns, syscalls


def test_only_the_syscalls_between_the_markers_are_counted(tmp_path: Path) -> None:
    """Calls before the begin marker and after the end marker are left out; a resumed call counts once."""
    trace = tmp_path / "trace"
    trace.write_text("\n".join([
        '101 sendto(7, "GET", 3, 0, NULL, 0) = 3',
        f'101 newfstatat(AT_FDCWD, "{BEGIN}", 0x7ffd, 0) = -1 ENOENT',
        '101 sendto(7, "POST", 4, 0, NULL, 0) = 4',
        "101 epoll_wait(3,  <unfinished ...>",
        "102 getpid() = 101",
        "101 <... epoll_wait resumed>[], 2, 0) = 1",
        '101 recvfrom(7, "HTTP", 65536, 0, NULL, NULL) = 4',
        f'101 newfstatat(AT_FDCWD, "{END}", 0x7ffd, 0) = -1 ENOENT',
        '101 sendto(7, "GET", 3, 0, NULL, 0) = 3',
    ]))
    assert syscalls(trace) == {"sendto": 1, "epoll_wait": 1, "getpid": 1, "recvfrom": 1}


def test_turns_count_the_loops_selects_callbacks_and_timers() -> None:
    """A sleep's timer, its wake-up and the task's steps are counted; the loop is as it was after."""
    loop = asyncio.new_event_loop()
    try:
        with Turns(loop) as turns:
            loop.run_until_complete(asyncio.sleep(0.001))
        assert turns.timers == 1
        assert turns.turns >= 1
        assert turns.callbacks >= 2  # the task's first step, and its wake-up
        assert "call_soon" not in vars(loop) and "call_at" not in vars(loop)
    finally:
        loop.close()

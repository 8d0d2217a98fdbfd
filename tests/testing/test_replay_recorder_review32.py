"""RecordWs keeps one file open for its life: flushed per line, closed with the session."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from lotusx.testing import FakeClock, FakeWs, RecordWs

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc")


def handles_on(path: Path) -> int:
    """How many descriptors of this process are open on ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:  # the descriptor listdir itself used, closed since
            pass
    return count


async def record(path: Path, *inbound: str | bytes) -> None:
    session = RecordWs(FakeWs(inbound), path, clock=FakeClock())
    await session.connect()
    for _ in inbound:
        await session.next()
    await session.close()


async def test_a_recording_session_holds_its_file_open_between_frames(tmp_path: Path) -> None:
    """One open file for the session's life, not an open and a close per frame."""
    path = tmp_path / "ws.jsonl"
    session = RecordWs(FakeWs(["a", "b"]), path, clock=FakeClock())
    await session.connect()
    await session.next()
    await session.next()
    assert handles_on(path) == 1
    await session.close()


async def test_each_frame_is_on_disk_when_next_returns_it(tmp_path: Path) -> None:
    """Flushed per line: a crash loses at most the line being written."""
    path = tmp_path / "ws.jsonl"
    session = RecordWs(FakeWs(["a"]), path, clock=FakeClock())
    await session.connect()
    await session.next()
    assert path.read_bytes().splitlines()[1:] == [b'{"t":0.0,"kind":"text","data":"a","connect":true}']
    await session.close()


async def test_closing_the_session_closes_its_file(tmp_path: Path) -> None:
    """No file handle outlives the session."""
    path = tmp_path / "ws.jsonl"
    await record(path, "a")
    assert handles_on(path) == 0


async def test_a_session_reconnected_after_close_records_on(tmp_path: Path) -> None:
    """connect() after close() appends to the same file again, under the one header."""
    path, inner = tmp_path / "ws.jsonl", FakeWs(["a", "b"])
    session = RecordWs(inner, path, clock=FakeClock())
    for _ in range(2):
        await session.connect()
        await session.next()
        await session.close()
    assert [orjson.loads(line)["data"] for line in path.read_bytes().splitlines()[1:]] == ["a", "b"]
    assert handles_on(path) == 0


async def test_two_sessions_on_one_file_write_one_header(tmp_path: Path) -> None:
    """A connector's sockets (one per shard) may share a file: one header, every frame."""
    path = tmp_path / "ws.jsonl"
    first = RecordWs(FakeWs(["a"]), path, clock=FakeClock())
    second = RecordWs(FakeWs(["b"]), path, clock=FakeClock())
    await first.connect()
    await second.connect()
    await first.next()
    await second.next()
    await first.close()
    await second.close()
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert rows[0] == {"format": "lotusx-ws", "version": 1}
    assert [row["data"] for row in rows[1:]] == ["a", "b"]

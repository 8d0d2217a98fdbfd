"""A recording of several connections replays as several: the reconnect it recorded happens again."""

from __future__ import annotations

from pathlib import Path

import pytest

from lotusx import Disconnected, WsFrame
from lotusx.testing import FakeClock, FakeWs, RecordWs, ReplayWs


async def record_session(path: Path, *inbound: str) -> None:
    session = RecordWs(FakeWs(inbound), path, clock=FakeClock())
    await session.connect()
    for _ in inbound:
        await session.next()
    await session.close()


async def test_the_next_connection_replays_after_the_reconnect(tmp_path: Path) -> None:
    """Two recorded connections: the first's frames, Disconnected, then (connected again) the second's."""
    path = tmp_path / "ws.jsonl"
    await record_session(path, "a", "b")
    await record_session(path, "c")
    replayed = ReplayWs(path)
    await replayed.connect()
    assert [await replayed.next(), await replayed.next()] == [WsFrame.text("a"), WsFrame.text("b")]
    with pytest.raises(Disconnected):
        await replayed.next()
    await replayed.connect()
    assert await replayed.next() == WsFrame.text("c")


async def test_one_recorder_reconnected_records_two_connections(tmp_path: Path) -> None:
    """A RecordWs connected again after its close starts a new connection in the file, at offset 0."""
    path, clock = tmp_path / "ws.jsonl", FakeClock()
    session = RecordWs(FakeWs(["a", "b"]), path, clock=clock)
    await session.connect()
    await session.next()
    await session.close()
    await clock.sleep(5.0)
    await session.connect()
    await session.next()
    await session.close()
    replayed = ReplayWs(path, paced=True, clock=FakeClock())
    await replayed.connect()
    assert await replayed.next() == WsFrame.text("a")
    with pytest.raises(Disconnected):
        await replayed.next()
    await replayed.connect()
    assert await replayed.next() == WsFrame.text("b")
    assert replayed.clock.slept == []  # type: ignore[attr-defined]

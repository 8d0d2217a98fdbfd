"""RecordWs leaves no registered secret in a binary frame, compressed or not."""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from lotusx import WsFrame, register_secret
from lotusx.testing import ReplayWs
from lotusx.ws import Deflate
from tests.testing.test_replay_recorder_review32 import record

KEY = "R3cKeyAbcdef0123456789"
ECHO = f'{{"op":"auth","success":true,"apiKey":"{KEY}"}}'.encode()


def recorded_frames(path: Path) -> list[bytes]:
    return [base64.b64decode(row["data"]) for row in map(orjson.loads, path.read_bytes().splitlines()[1:])]


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress,
                                      lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)],
                         ids=["gzip", "zlib", "raw"])
async def test_a_key_inside_a_compressed_frame_is_not_recorded(
        tmp_path: Path, compress: Callable[[bytes], bytes]) -> None:
    """A compressed frame echoing the key is written masked, compressed the same way, so a replay still inflates it."""
    register_secret(KEY)
    path = tmp_path / "ws.jsonl"
    await record(path, compress(ECHO))
    [frame] = recorded_frames(path)
    assert KEY.encode() not in frame
    assert Deflate()(frame) == ECHO.replace(KEY.encode(), b"[REDACTED]")


async def test_a_key_in_an_uncompressed_binary_frame_is_masked(tmp_path: Path) -> None:
    """A binary frame that is not compressed is masked as it stands."""
    register_secret(KEY)
    path = tmp_path / "ws.jsonl"
    await record(path, ECHO)
    assert recorded_frames(path) == [ECHO.replace(KEY.encode(), b"[REDACTED]")]


async def test_a_compressed_frame_without_a_secret_is_recorded_byte_for_byte(tmp_path: Path) -> None:
    """Market data stays exactly as the venue compressed it."""
    register_secret(KEY)
    path = tmp_path / "ws.jsonl"
    frame = gzip.compress(b'{"e":"trade","p":"0.10"}', mtime=0)
    await record(path, frame)
    assert recorded_frames(path) == [frame]
    replayed = ReplayWs(path)
    await replayed.connect()
    assert await replayed.next() == WsFrame.binary(frame)

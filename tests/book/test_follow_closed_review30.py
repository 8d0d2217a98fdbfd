"""follow_books when its stream and its snapshots' client close together (a connector's `async with` ending)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lotusx import ConfigError
from lotusx.book import DiffSync, follow_books
from lotusx.book.follow import Snapshot


async def ended() -> AsyncIterator[Any]:
    """A stream already closed: its first read ends the iteration."""
    return
    yield


async def test_a_snapshot_refused_by_a_closed_client_does_not_outlive_the_closed_stream() -> None:
    """The stream ended and the snapshot failed in the same turn: the follower ends normally, no error."""
    async def snapshot(symbol: str) -> Snapshot:
        raise ConfigError("GET /api/v3/depth: this client is closed")

    books = [book async for book in follow_books([DiffSync("X")], ended(), event=lambda m: None, snapshot=snapshot,
                                                   reconnected=lambda m: False, resynced=lambda s, r: None)]
    assert books == []


async def test_a_snapshot_error_while_the_stream_lives_still_ends_the_follower() -> None:
    """The same error with the stream still open is raised: a book never waits silently."""
    async def live() -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield

    async def snapshot(symbol: str) -> Snapshot:
        raise ConfigError("GET /api/v3/depth: this client is closed")

    with pytest.raises(ConfigError, match="closed"):
        async for _ in follow_books([DiffSync("X")], live(), event=lambda m: None, snapshot=snapshot,
                                    reconnected=lambda m: False, resynced=lambda s, r: None):
            pass

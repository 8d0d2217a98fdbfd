"""close_all never trades a cancellation for another error: the caller's timeout or TaskGroup must see it."""

from __future__ import annotations

import asyncio

import pytest

from lotusx.venue import close_all


async def test_a_cancel_after_a_failed_close_is_what_comes_out() -> None:
    """One close fails, a later one is cancelled: CancelledError is raised, every close was awaited."""
    done: list[str] = []

    async def failing() -> None:
        done.append("failing")
        raise OSError("socket already gone")

    async def cancelled() -> None:
        done.append("cancelled")
        raise asyncio.CancelledError

    async def last() -> None:
        done.append("last")

    with pytest.raises(asyncio.CancelledError):
        await close_all(failing, cancelled, last)
    assert done == ["failing", "cancelled", "last"]


async def test_the_first_error_comes_out_when_nothing_was_cancelled() -> None:
    """Without a cancel, the first failure is raised after every close ran."""
    async def failing(text: str) -> None:
        raise OSError(text)

    with pytest.raises(OSError, match="first"):
        await close_all(lambda: failing("first"), lambda: failing("second"))

"""FakeWs ends a read waiting on it when it is closed, as AiohttpWs does."""

from __future__ import annotations

import asyncio

import pytest

from lotusx import Disconnected
from lotusx.testing import FakeWs


async def test_close_ends_a_pending_next_with_disconnected() -> None:
    """A next() waiting on a quiet session raises Disconnected once another task closes it, never hangs."""
    fake = FakeWs()
    await fake.connect()
    reading = asyncio.create_task(fake.next())
    await asyncio.sleep(0)
    await fake.close()
    with pytest.raises(Disconnected):
        await asyncio.wait_for(reading, 1)


async def test_a_reconnected_session_reads_what_is_fed_after_a_close_nobody_waited_out() -> None:
    """A read cancelled before its close woke it leaves nothing behind: after connect() the fed frame comes next."""
    fake = FakeWs()
    await fake.connect()
    reading = asyncio.create_task(fake.next())
    await asyncio.sleep(0)
    await fake.close()
    reading.cancel()
    await fake.connect()
    fake.feed("after")
    assert (await asyncio.wait_for(fake.next(), 1)).data == "after"

"""Delivery under FAIL: only an overflow skips what is queued; any other failure comes after it."""

from __future__ import annotations

import asyncio

import pytest

from lotusx.kernel.errors import AuthenticationError
from lotusx.testing import FakeClock
from lotusx.ws.delivery import Delivery, Gap, Overflow


async def test_a_read_gets_what_is_queued_before_a_fatal_error() -> None:
    """Under FAIL a fatal error that is not an overflow reaches a read after the queued messages, as under BLOCK."""
    clock = FakeClock()
    delivery = Delivery(4, Overflow.FAIL, clock=clock)
    await delivery.put(1)
    await delivery.put(Gap("server_close", clock.time()))
    delivery.fail(AuthenticationError("login rejected"))
    assert await delivery.get() == 1
    assert await delivery.get() == Gap("server_close", clock.time())
    with pytest.raises(AuthenticationError):
        await delivery.get()


async def test_a_handler_gets_what_is_queued_before_a_fatal_error() -> None:
    """Under FAIL a fatal error that is not an overflow ends a push after the queued messages are handed over."""
    delivery, got = Delivery(4, Overflow.FAIL), []
    await delivery.put(1)
    delivery.fail(AuthenticationError("login rejected"))
    delivery.push(got.append)
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(delivery.ended(), 1)
    assert got == [1]

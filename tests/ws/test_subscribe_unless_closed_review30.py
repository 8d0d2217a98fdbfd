"""subscribe_unless_closed: a close() by the stream's owner ends a waiting subscribe quietly; nothing else does."""

from __future__ import annotations

import asyncio

import pytest

from lotusx.kernel.errors import SubscriptionRejected
from lotusx.ws import subscribe_unless_closed
from tests.ws.test_reconnect import VenueWs, make, subscribes, until

pytestmark = pytest.mark.timeout(30)


async def test_a_close_while_waiting_for_the_ack_returns_and_the_stream_ends() -> None:
    """Closed before the venue's ack, it returns; the `async for` after it finishes with nothing read."""
    venue = VenueWs(silent=True)
    ws = make(venue, ack_timeout=600, subscribe_timeout=600)
    ws.start()
    await until(lambda: venue.connected)
    subscriber = asyncio.create_task(subscribe_unless_closed(ws, ["a"]))
    await until(lambda: subscribes(venue) == [["a"]])
    await ws.close()
    await asyncio.wait_for(subscriber, 1)
    assert [message async for message in ws] == []


async def test_on_a_closed_stream_it_returns_at_once() -> None:
    """Called after close(), it returns instead of raising: the watch simply has nothing to read."""
    async with make(VenueWs()) as ws:
        pass
    await asyncio.wait_for(subscribe_unless_closed(ws, ["a"]), 1)
    assert ws.closed


async def test_a_refusal_by_the_venue_still_raises() -> None:
    """A stream the venue refuses raises SubscriptionRejected, the stream open."""
    async with make(VenueWs(reject={"a"})) as ws:
        with pytest.raises(SubscriptionRejected):
            await asyncio.wait_for(subscribe_unless_closed(ws, ["a"]), 5)
        assert not ws.closed

"""ReconnectWs.live(): returns once a connection is set up (login and streams acked), else raises why not."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import AuthenticationError, StreamError
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Resumed
from tests.ws.test_reconnect import VenueWs, dialect, make, next_of, quiesce, subscribes, until


def answer(venue: VenueWs, request_id: int) -> None:
    venue.feed(orjson.dumps({"result": None, "id": request_id}).decode())


class TestLive:
    async def test_live_waits_for_the_login_ack(self) -> None:
        """live() on a private stream returns only once the venue acknowledged the login, and queues nothing."""
        venue = VenueWs(silent=True)
        async with make(venue, dialect=dialect(private=True), ack_timeout=600) as ws:
            live = asyncio.create_task(ws.live())
            await until(lambda: len(venue.sent) == 1)
            await quiesce()
            assert not live.done()
            answer(venue, 0)
            await asyncio.wait_for(live, 2)
            assert ws.stats.queued == 0

    async def test_live_waits_for_the_acks_of_the_streams_subscribed_so_far(self) -> None:
        """A stream subscribed while the connection logs in is sent after the login: live() waits for its ack too."""
        venue = VenueWs(silent=True)
        async with make(venue, dialect=dialect(private=True), ack_timeout=600) as ws:
            subscribing = asyncio.create_task(ws.subscribe(["orders"]))
            live = asyncio.create_task(ws.live())
            await until(lambda: len(venue.sent) == 1)
            answer(venue, 0)
            await until(lambda: subscribes(venue) == [["orders"]])
            await quiesce()
            assert not live.done()
            answer(venue, orjson.loads(venue.sent[-1])["id"])
            await asyncio.wait_for(live, 2)
            await asyncio.wait_for(subscribing, 2)

    async def test_live_returns_at_once_on_a_live_stream(self) -> None:
        """Once subscribed on a live connection, live() returns without waiting."""
        async with make(VenueWs()) as ws:
            await ws.subscribe(["a"])
            await asyncio.wait_for(ws.live(), 0.5)

    async def test_live_waits_while_the_connection_is_down(self) -> None:
        """After a Gap, live() returns only once the next connection is resubscribed."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(silent=True)
        async with make(first, second, clock=clock, ack_timeout=600) as ws:
            await ws.subscribe(["a"])
            first.feed(WsFrame.close(1001))
            assert isinstance(await next_of(ws), Gap)
            live = asyncio.create_task(ws.live())
            await clock.advance(1)
            await until(lambda: subscribes(second) == [["a"]])
            await quiesce()
            assert not live.done()
            answer(second, orjson.loads(second.sent[-1])["id"])
            await asyncio.wait_for(live, 2)
            assert isinstance(await next_of(ws), Resumed)

    async def test_live_raises_when_the_stream_is_closed_first(self) -> None:
        """A close while live() waits (the login unanswered) raises StreamError, as subscribe() does."""
        venue = VenueWs(silent=True)
        ws = make(venue, dialect=dialect(private=True), ack_timeout=600)
        async with ws:
            live = asyncio.create_task(ws.live())
            await until(lambda: len(venue.sent) == 1)
        with pytest.raises(StreamError):
            await asyncio.wait_for(live, 2)

    async def test_live_on_a_closed_stream_raises(self) -> None:
        """live() called after close() raises StreamError at once."""
        ws = make(VenueWs())
        async with ws:
            await ws.subscribe(["a"])
        with pytest.raises(StreamError):
            await asyncio.wait_for(ws.live(), 0.5)

    async def test_live_raises_the_refused_login(self) -> None:
        """A refused login ends the stream: live() raises its AuthenticationError."""
        async with make(VenueWs(reject_login=True), dialect=dialect(private=True)) as ws:
            with pytest.raises(AuthenticationError):
                await asyncio.wait_for(ws.live(), 2)

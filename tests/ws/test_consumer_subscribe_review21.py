"""A consumer that subscribes from inside its own loop while a BLOCK queue is full is answered, not stalled."""

from __future__ import annotations

import asyncio

import pytest

from lotusx.kernel.errors import QueueOverflow, Timeout
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Resumed
from lotusx.ws.delivery import Delivery, Overflow
from tests.ws.test_reconnect import VenueWs, data, make, next_of, quiesce, subscribes, until

pytestmark = pytest.mark.timeout(30)


class TestSubscribeFromTheConsumer:
    async def test_a_subscribe_behind_a_full_queue_is_confirmed_before_the_consumer_reads(self) -> None:
        """The venue's ack behind more messages than the queue holds confirms a subscribe the consumer awaits."""
        clock, venue = FakeClock(auto_advance=False), VenueWs()
        async with make(venue, clock=clock, queue_size=4) as ws:
            await ws.subscribe(["a"])
            venue.feed(*(data("a", n) for n in range(7)))
            await until(lambda: ws.stats.queued == 4)
            await quiesce()
            subscribing = asyncio.create_task(ws.subscribe(["b"]))  # acked behind 3 messages with no room
            await until(subscribing.done)
            await subscribing
            assert subscribes(venue) == [["a"], ["b"]]
            assert [(await next_of(ws))["u"] for _ in range(7)] == list(range(7))

    async def test_a_subscribe_across_a_reconnect_behind_a_full_queue_is_confirmed(self) -> None:
        """The socket closes behind the backlog: its Gap, the new socket and its ack come through all the same."""
        clock, first, second = FakeClock(auto_advance=False), VenueWs(), VenueWs()
        async with make(first, second, clock=clock, queue_size=4) as ws:
            await ws.subscribe(["a"])
            first.feed(*(data("a", n) for n in range(6)), WsFrame.close(1001))
            await until(lambda: ws.stats.queued == 4)
            await quiesce()
            subscribing = asyncio.create_task(ws.subscribe(["b"]))
            await until(lambda: clock.sleepers > 0 and not first.connected)  # the back-off before reconnecting
            await clock.advance(1)
            await until(subscribing.done)
            await subscribing
            assert subscribes(second) == [["a", "b"]]
            got = [await next_of(ws) for _ in range(8)]
            assert [m["u"] for m in got[:6]] == list(range(6))
            assert [type(m) for m in got[6:]] == [Gap, Resumed]

    async def test_reading_on_stops_at_twice_the_queue_size(self) -> None:
        """An ack behind more than twice queue_size messages: the queue stops growing and the subscribe times out."""
        clock, venue = FakeClock(auto_advance=False), VenueWs()
        async with make(venue, clock=clock, queue_size=4, subscribe_timeout=5) as ws:
            await ws.subscribe(["a"])
            venue.feed(*(data("a", n) for n in range(20)))
            await until(lambda: ws.stats.queued == 4)
            subscribing = asyncio.create_task(ws.subscribe(["b"]))
            await until(lambda: ws.stats.queued == 8 and clock.sleepers >= 2)
            await quiesce()
            assert ws.stats.queued == 8
            await clock.advance(5)
            with pytest.raises(Timeout):
                await subscribing


class TestReadingOnKeepsThePolicies:
    async def test_a_waiting_producer_appends_once_told_to_read_on(self) -> None:
        """A BLOCK producer waiting for room appends past maxsize when read_on turns true and recheck() wakes it."""
        delivery, due = Delivery(2, Overflow.BLOCK), [False]
        await delivery.put(1)
        await delivery.put(2)
        producer = asyncio.create_task(delivery.put(3, lambda: due[0]))
        await quiesce()
        assert not producer.done()
        due[0] = True
        delivery.recheck()
        await asyncio.wait_for(producer, 1)
        assert [await delivery.get() for _ in range(3)] == [1, 2, 3]

    async def test_drop_oldest_still_drops(self) -> None:
        """Under DROP_OLDEST a full queue of data drops its oldest message, reading on or not."""
        delivery = Delivery(2, Overflow.DROP_OLDEST)
        for n in range(3):
            await delivery.put(n, lambda: True)
        assert len(delivery) == 2
        assert isinstance(await delivery.get(), Gap)
        assert await delivery.get() == 2

    async def test_fail_still_fails(self) -> None:
        """Under FAIL a full queue fails the stream, reading on or not."""
        delivery = Delivery(2, Overflow.FAIL)
        for n in range(3):
            await delivery.put(n, lambda: True)
        with pytest.raises(QueueOverflow):
            await delivery.get()

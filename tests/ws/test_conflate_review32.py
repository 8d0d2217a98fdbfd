"""``conflate``: a slow consumer gets the newest item per key, never a backlog."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncGenerator
from contextlib import aclosing

import pytest

from lotusx.ws import conflate


class Item:
    """A keyed value (weak-referenceable, to count what is still held)."""

    def __init__(self, key: str, value: int) -> None:
        self.key, self.value = key, value

    def __repr__(self) -> str:
        return f"Item({self.key!r}, {self.value})"


class Venue:
    """A source the test feeds: its items are taken as fast as the consumer's reader reads."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Item | BaseException | None] = asyncio.Queue()
        self.taken = 0
        self.closed = False

    async def items(self) -> AsyncGenerator[Item, None]:
        try:
            while True:
                item = await self.queue.get()
                self.taken += 1
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
                del item  # held only by the consumer's side from here
        finally:
            self.closed = True

    async def send(self, *items: Item | BaseException | None) -> None:
        """Put ``items`` and wait (a bounded number of loop turns) until the reader took them all."""
        goal = self.taken + len(items)
        for item in items:
            self.queue.put_nowait(item)
        for _ in range(1000):
            if self.taken >= goal:
                await asyncio.sleep(0)  # let the reader file the last one
                return
            await asyncio.sleep(0)
        raise AssertionError("the reader did not take the items")


def by_key(item: Item) -> str:
    return item.key


async def started(venue: Venue) -> AsyncGenerator[Item, None]:
    """A conflated stream of ``venue`` whose reader runs (started by a first read, of a warm-up item)."""
    latest = conflate(venue.items(), key=by_key)
    first = asyncio.ensure_future(anext(latest))
    await venue.send(Item("warm-up", 0))
    assert (await first).key == "warm-up"
    return latest


async def test_a_consumer_that_looked_away_gets_the_newest_item_not_the_next() -> None:
    """After reading one, a consumer that did not read while 50 more came gets the 50th."""
    venue = Venue()
    async with aclosing(await started(venue)) as latest:
        await venue.send(Item("BTC", 0))
        assert (await anext(latest)).value == 0
        await venue.send(*(Item("BTC", n) for n in range(1, 51)))
        assert (await anext(latest)).value == 50


async def test_keys_come_in_the_order_they_first_changed() -> None:
    """Each key changed since last read comes once, with its newest item, oldest change first."""
    venue = Venue()
    async with aclosing(await started(venue)) as latest:
        await venue.send(Item("BTC", 1), Item("ETH", 1), Item("BTC", 2))
        assert [(i.key, i.value) for i in (await anext(latest), await anext(latest))] == [("BTC", 2), ("ETH", 1)]


async def test_a_waiting_consumer_gets_the_next_item_as_it_comes() -> None:
    """A consumer already waiting is woken by the next item."""
    venue = Venue()
    async with aclosing(conflate(venue.items(), key=by_key)) as latest:
        waiting = asyncio.ensure_future(anext(latest))
        await venue.send(Item("BTC", 7))
        assert (await asyncio.wait_for(waiting, 1)).value == 7


async def test_memory_holds_one_item_per_key() -> None:
    """Thousands of items for 3 keys, none read: at most one per key is still held."""
    venue = Venue()
    alive: weakref.WeakSet[Item] = weakref.WeakSet()
    async with aclosing(await started(venue)) as latest:
        for n in range(1, 1001):
            items = [Item(key, n) for key in ("BTC", "ETH", "SOL")]
            alive.update(items)
            await venue.send(*items)
            del items
        gc.collect()
        assert len(alive) <= 3
        assert sorted((i.key, i.value) for i in (await anext(latest), await anext(latest), await anext(latest))) == [
            ("BTC", 1000), ("ETH", 1000), ("SOL", 1000)]


async def test_an_error_of_the_source_comes_before_items_not_yet_read() -> None:
    """The source's failure is raised at the next read: no stale item hides it."""
    venue = Venue()
    async with aclosing(await started(venue)) as latest:
        await venue.send(Item("BTC", 1), RuntimeError("venue gone"))
        with pytest.raises(RuntimeError, match="venue gone"):
            await anext(latest)


async def test_the_end_of_the_source_comes_after_the_items_not_yet_read() -> None:
    """A source that ended (closed) leaves its newest items to be read, then the end."""
    venue = Venue()
    async with aclosing(await started(venue)) as latest:
        await venue.send(Item("BTC", 1), Item("BTC", 2), None)
        assert [i.value async for i in latest] == [2]


async def test_closing_the_consumer_stops_the_reader_and_closes_the_source() -> None:
    """aclose leaves no task behind and the source closed."""
    venue = Venue()
    latest = await started(venue)
    await venue.send(Item("BTC", 1))
    assert (await anext(latest)).value == 1
    await latest.aclose()
    assert venue.closed
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_cancelled_consumer_stops_the_reader_and_closes_the_source() -> None:
    """A consumer task cancelled while it waits leaves no reader and the source closed."""
    venue = Venue()

    async def consume() -> None:
        async with aclosing(conflate(venue.items(), key=by_key)) as latest:
            async for _ in latest:
                pass

    consumer = asyncio.ensure_future(consume())
    await venue.send(Item("BTC", 1))
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert venue.closed
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_source_that_raises_cancelled_error_does_not_leave_the_consumer_waiting() -> None:
    """A CancelledError out of the source (not a cancel of the reader) reaches the consumer, as it would unconflated."""
    venue = Venue()
    async with aclosing(await started(venue)) as latest:
        waiting = asyncio.ensure_future(anext(latest))
        await venue.send(asyncio.CancelledError())
        done, _ = await asyncio.wait({waiting}, timeout=1)
        assert done, "the consumer still waits"
        assert waiting.cancelled()

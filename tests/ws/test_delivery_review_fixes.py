"""Delivery under DROP_OLDEST: data messages are dropped, Gap and Resumed markers never are."""

from __future__ import annotations

import asyncio
import random

from lotusx.testing import FakeClock
from lotusx.ws.delivery import Delivery, Gap, Overflow, Resumed


async def drain(delivery: Delivery) -> list[object]:
    items = []
    while len(delivery):
        items.append(await delivery.get())
    return items


async def test_overflow_keeps_the_resumed_marker() -> None:
    """A Gap then its Resumed at the head survive an overflow; the lost data is marked after them."""
    clock = FakeClock()
    delivery = Delivery(3, Overflow.DROP_OLDEST, clock=clock)
    for item in (Gap("server_close", 1.0), Resumed(2.0), {"u": 1}, {"u": 2}):
        await asyncio.wait_for(delivery.put(item), 1)
    assert await drain(delivery) == [Gap("server_close", 1.0), Resumed(2.0), Gap("overflow", clock.time())]
    assert delivery.dropped == 2


async def test_overflow_keeps_another_shards_gap() -> None:
    """A second shard's Gap behind the head Gap is kept; the oldest data message goes instead."""
    delivery = Delivery(3, Overflow.DROP_OLDEST, clock=FakeClock())
    for item in (Gap("server_close", 1.0, shard=0), Gap("server_close", 1.0, shard=1), 1, 2):
        await asyncio.wait_for(delivery.put(item), 1)
    assert await drain(delivery) == [Gap("server_close", 1.0, shard=0), Gap("server_close", 1.0, shard=1), 2]
    assert delivery.dropped == 1


async def test_a_message_into_markers_ending_with_a_gap_is_dropped() -> None:
    """With only markers queued and a Gap last, a new message is dropped at once: that Gap precedes it."""
    delivery = Delivery(2, Overflow.DROP_OLDEST, clock=FakeClock())
    await delivery.put(Resumed(1.0))
    await delivery.put(Gap("server_close", 2.0))
    await asyncio.wait_for(delivery.put("message"), 1)
    assert await drain(delivery) == [Resumed(1.0), Gap("server_close", 2.0)]
    assert delivery.dropped == 1


async def test_a_message_into_markers_ending_with_resumed_waits_for_room() -> None:
    """With only markers queued and a Resumed last, nothing can go: the producer waits for the consumer."""
    delivery = Delivery(2, Overflow.DROP_OLDEST, clock=FakeClock())
    await delivery.put(Gap("server_close", 1.0))
    await delivery.put(Resumed(2.0))
    producer = asyncio.create_task(delivery.put("message"))
    await asyncio.sleep(0.01)
    assert not producer.done() and len(delivery) == 2
    assert await delivery.get() == Gap("server_close", 1.0)
    await asyncio.wait_for(producer, 1)
    assert await drain(delivery) == [Resumed(2.0), "message"]
    assert delivery.dropped == 0


async def test_a_marker_into_a_queue_full_of_markers_waits_for_room() -> None:
    """A new marker never pushes out an older one: the producer waits for the consumer."""
    delivery = Delivery(2, Overflow.DROP_OLDEST, clock=FakeClock())
    await delivery.put(Gap("server_close", 1.0, shard=0))
    await delivery.put(Gap("server_close", 1.0, shard=1))
    producer = asyncio.create_task(delivery.put(Resumed(2.0, shard=0)))
    await asyncio.sleep(0.01)
    assert not producer.done()
    await delivery.get()
    await asyncio.wait_for(producer, 1)
    assert await drain(delivery) == [Gap("server_close", 1.0, shard=1), Resumed(2.0, shard=0)]


async def test_a_closed_queue_releases_a_producer_waiting_behind_markers() -> None:
    """Closing wakes a producer that waits on a queue full of markers."""
    delivery = Delivery(2, Overflow.DROP_OLDEST, clock=FakeClock())
    await delivery.put(Gap("server_close", 1.0))
    await delivery.put(Resumed(2.0))
    producer = asyncio.create_task(delivery.put("message"))
    await asyncio.sleep(0.01)
    delivery.close()
    await asyncio.wait_for(producer, 1)
    assert len(delivery) == 2


async def test_a_mixed_flood_keeps_every_marker_marks_every_loss_and_stays_bounded() -> None:
    """Random data and markers into a slow consumer: every marker arrives, a Gap precedes every loss."""
    rng = random.Random(7)
    delivery = Delivery(4, Overflow.DROP_OLDEST, clock=FakeClock())
    sent_markers: list[object] = []
    sent_data: list[int] = []
    received: list[object] = []
    for n in range(3_000):
        item: object = n
        if rng.random() < 0.2:
            item = Gap("server_close", float(n), n % 3) if rng.random() < 0.5 else Resumed(float(n), n % 3)
            sent_markers.append(item)
        else:
            sent_data.append(n)
        producer = asyncio.ensure_future(delivery.put(item))
        await asyncio.sleep(0)
        while not producer.done():  # only a queue of markers makes it wait: read one
            received.append(await delivery.get())
            await asyncio.sleep(0)
        assert len(delivery) <= 4
        if rng.random() < 0.3:
            received.append(await delivery.get())
    received += await drain(delivery)
    markers = [item for item in received
               if isinstance(item, Resumed) or (isinstance(item, Gap) and item.reason != "overflow")]
    assert markers == sent_markers
    position = {n: index for index, n in enumerate(sent_data)}
    previous, gap_since = -1, False
    for item in received:
        if isinstance(item, Gap):
            gap_since = True
        elif isinstance(item, int):
            assert position[item] == previous + 1 or gap_since, f"lost before {item} without a Gap"
            previous, gap_since = position[item], False
    assert 0 < delivery.dropped < len(sent_data)

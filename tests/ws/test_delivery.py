"""Delivery: a bounded queue whose overflow policy is declared, counted and bounded."""

import asyncio

import pytest

from lotusx.kernel.errors import AuthenticationError, ConfigError, QueueOverflow
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock
from lotusx.ws.delivery import HANDOFF, PUSH_BURST, Delivery, Gap, Overflow


async def drain(delivery: Delivery) -> list[object]:
    items = []
    while len(delivery):
        items.append(await delivery.get())
    return items


class TestDelivery:
    async def test_fifo(self) -> None:
        """Items come out in the order they went in."""
        delivery = Delivery(4)
        for n in range(3):
            await delivery.put(n)
        assert await drain(delivery) == [0, 1, 2]

    async def test_two_waiting_consumers_are_each_served(self) -> None:
        """Messages offered while two consumers wait reach both of them, none left waiting."""
        delivery = Delivery(4)
        consumers = [asyncio.create_task(delivery.get()) for _ in range(2)]
        await asyncio.sleep(0)
        delivery.offer("a")
        delivery.offer("b")
        assert sorted(await asyncio.wait_for(asyncio.gather(*consumers), 1)) == ["a", "b"]

    async def test_block_back_pressures_the_producer(self) -> None:
        """Under BLOCK a put into a full queue waits until the consumer takes one."""
        delivery = Delivery(2, Overflow.BLOCK)
        await delivery.put(1)
        await delivery.put(2)
        producer = asyncio.create_task(delivery.put(3))
        await asyncio.sleep(0)
        assert not producer.done()
        assert await delivery.get() == 1
        await asyncio.wait_for(producer, 1)
        assert await drain(delivery) == [2, 3]

    async def test_drop_oldest_stays_bounded_under_a_stalled_consumer(self) -> None:
        """10k messages into a 100-slot DROP_OLDEST queue nobody reads: size stays 100, drops counted."""
        metrics = Metrics()
        delivery = Delivery(100, Overflow.DROP_OLDEST, metrics=metrics, exchange="x", clock=FakeClock())
        for n in range(10_000):
            await delivery.put(n)
            assert len(delivery) <= 100
        items = await drain(delivery)
        assert len(items) == 100
        assert isinstance(items[0], Gap)
        assert items[0].reason == "overflow"
        assert items[1:] == list(range(9_901, 10_000))
        assert delivery.dropped == 9_901
        assert metrics.registry.get_sample_value(
            "lotusx_ws_dropped_messages_total", {"exchange": "x", "reason": "overflow"}) == 9_901
        assert metrics.registry.get_sample_value("lotusx_ws_queue_depth", {"exchange": "x"}) == 0

    async def test_gap_marks_where_messages_went_missing(self) -> None:
        """After an overflow the consumer reads a Gap, then the newest messages."""
        clock = FakeClock()
        delivery = Delivery(3, Overflow.DROP_OLDEST, clock=clock)
        for n in range(4):
            await delivery.put(n)
        assert await drain(delivery) == [Gap("overflow", clock.time()), 2, 3]

    async def test_fail_raises_queue_overflow_to_the_consumer(self) -> None:
        """Under FAIL the consumer's next read raises QueueOverflow."""
        delivery = Delivery(2, Overflow.FAIL)
        for n in range(3):
            await delivery.put(n)
        assert len(delivery) == 2
        with pytest.raises(QueueOverflow):
            await delivery.get()

    async def test_fail_with_an_error_after_draining(self) -> None:
        """A fatal error reaches the consumer after the messages already queued."""
        delivery = Delivery(4)
        await delivery.put(1)
        delivery.fail(AuthenticationError("login rejected"))
        assert await delivery.get() == 1
        with pytest.raises(AuthenticationError):
            await delivery.get()

    async def test_a_failure_queues_nothing_more_so_the_error_is_not_kept_waiting(self) -> None:
        """After a failure (one shard's), other producers queue nothing: the error comes right after what was queued."""
        delivery = Delivery(3)
        for n in range(3):
            delivery.offer(n)
        blocked = asyncio.create_task(delivery.put(3))  # another shard, held by back-pressure
        await asyncio.sleep(0)
        delivery.fail(AuthenticationError("login rejected"))
        await asyncio.wait_for(blocked, 1)
        assert delivery.offer(4) == 0
        assert [await delivery.get() for _ in range(3)] == [0, 1, 2]
        with pytest.raises(AuthenticationError):
            await delivery.get()

    async def test_close_ends_iteration_and_releases_producers(self) -> None:
        """Closing wakes a waiting consumer with StopAsyncIteration and a blocked producer."""
        delivery = Delivery(2)
        consumer = asyncio.create_task(delivery.get())
        await asyncio.sleep(0)
        delivery.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(consumer, 1)
        await asyncio.wait_for(delivery.put(1), 1)
        assert len(delivery) == 0

    def test_needs_room_for_a_gap(self) -> None:
        """A queue smaller than 2 cannot hold a Gap and a message."""
        with pytest.raises(ConfigError):
            Delivery(1)


class TestPush:
    async def test_queued_items_go_to_the_handler_first_then_new_ones(self) -> None:
        """push() hands what is queued to the handler in order, then each item as it comes; nothing stays queued."""
        delivery, got = Delivery(4), []
        await delivery.put(0)
        await delivery.put(1)
        delivery.push(got.append)
        assert delivery.offer(2) == 1
        await delivery.put(3)
        assert got == [0, 1, 2, 3]
        assert len(delivery) == 0

    async def test_the_reader_is_told_to_yield_once_per_burst(self) -> None:
        """In push mode offer() reports HANDOFF once every PUSH_BURST items, 1 otherwise."""
        delivery = Delivery(4)
        delivery.push(lambda item: None)
        answers = [delivery.offer(n) for n in range(2 * PUSH_BURST)]
        assert [n for n, answer in enumerate(answers) if answer == HANDOFF] == [PUSH_BURST - 1, 2 * PUSH_BURST - 1]
        assert set(answers) == {1, HANDOFF}

    async def test_a_failing_handler_ends_the_stream_and_ended_raises_its_error(self) -> None:
        """An exception from the handler closes the delivery; ended() raises that exception, later items are refused."""
        delivery = Delivery(4)

        def handler(item: object) -> None:
            if item == 1:
                raise ValueError("consumer bug")

        delivery.push(handler)
        assert delivery.offer(0) == 1
        assert delivery.offer(1) == 0
        assert delivery.offer(2) == 0
        with pytest.raises(ValueError, match="consumer bug"):
            await asyncio.wait_for(delivery.ended(), 1)
        assert len(delivery) == 0

    async def test_ended_returns_on_close_and_raises_a_failure(self) -> None:
        """ended() returns once the stream is closed, and raises the stream's failure if it failed."""
        closed, failed = Delivery(4), Delivery(4)
        waiter = asyncio.create_task(closed.ended())
        await asyncio.sleep(0)
        assert not waiter.done()
        closed.close()
        await asyncio.wait_for(waiter, 1)
        failed.fail(AuthenticationError("refused"))
        with pytest.raises(AuthenticationError):
            await asyncio.wait_for(failed.ended(), 1)

    async def test_push_none_queues_again(self) -> None:
        """After push(None) items queue for get() as before."""
        delivery, got = Delivery(4), []
        delivery.push(got.append)
        delivery.push(None)
        delivery.offer("a")
        assert got == []
        assert await delivery.get() == "a"

    async def test_get_and_a_second_handler_are_refused_while_pushing(self) -> None:
        """While a handler takes the items, get() and another push() raise ConfigError."""
        delivery = Delivery(4)
        delivery.push(lambda item: None)
        with pytest.raises(ConfigError):
            await delivery.get()
        with pytest.raises(ConfigError):
            delivery.push(lambda item: None)

    async def test_a_producer_waiting_for_room_pushes_after_the_queued_items(self) -> None:
        """A put() blocked on a full queue when push() begins is handed over after what was queued, in order."""
        delivery, got = Delivery(2, Overflow.BLOCK), []
        await delivery.put(1)
        await delivery.put(2)
        producer = asyncio.create_task(delivery.put(3))
        await asyncio.sleep(0)
        assert not producer.done()
        delivery.push(got.append)
        await asyncio.wait_for(producer, 1)
        assert got == [1, 2, 3]
        assert len(delivery) == 0

    async def test_after_a_fail_overflow_nothing_queued_is_pushed(self) -> None:
        """Under FAIL an overflow ends the stream for push as for a read: no queued item, then QueueOverflow."""
        delivery, got = Delivery(2, Overflow.FAIL), []
        for n in range(3):
            await delivery.put(n)
        delivery.push(got.append)
        with pytest.raises(QueueOverflow):
            await asyncio.wait_for(delivery.ended(), 1)
        assert got == []

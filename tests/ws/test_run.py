"""ReconnectWs.run(handler): the stream's messages pushed to a plain function on the reader's turn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lotusx.kernel.errors import ConfigError, StreamError
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock
from lotusx.ws import Gap, ReconnectWs, Resumed
from lotusx.ws.delivery import PUSH_BURST
from tests.ws.test_reconnect import VenueWs, data, make, next_of, quiesce, subscribes, until


async def start(ws: ReconnectWs, handler: Any) -> asyncio.Task[None]:
    runner = asyncio.create_task(ws.run(handler))
    await asyncio.sleep(0)
    return runner


class TestRun:
    async def test_every_message_reaches_the_handler_in_order(self) -> None:
        """300 frames fed at once reach the handler in order, none queued."""
        venue, got = VenueWs(), []
        async with make(venue) as ws:
            await ws.subscribe(["a"])
            runner = await start(ws, got.append)
            venue.feed(*(data("a", n) for n in range(300)))
            await until(lambda: len(got) == 300, turns=2_000)
            assert [message["u"] for message in got] == list(range(300))
            assert ws.stats.queued == 0
            runner.cancel()

    async def test_a_reconnect_pushes_gap_then_resumed(self) -> None:
        """Markers are pushed like messages: Gap on the loss, Resumed once resubscribed, then the data."""
        clock = FakeClock(auto_advance=False)
        first, second, got = VenueWs(), VenueWs(), []
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a"])
            runner = await start(ws, got.append)
            first.feed(WsFrame.close(1001))
            await until(lambda: len(got) == 1)
            await clock.advance(1)
            await until(lambda: subscribes(second) == [["a"]])
            second.feed(data("a", 7))
            await until(lambda: len(got) == 3)
            assert [type(item) for item in got[:2]] == [Gap, Resumed]
            assert got[2] == {"stream": "a", "u": 7}
            runner.cancel()

    async def test_what_was_queued_before_run_comes_first(self) -> None:
        """Messages that queued before run() began are pushed first, then the new ones."""
        venue, got = VenueWs(), []
        async with make(venue) as ws:
            await ws.subscribe(["a"])
            venue.feed(data("a", 1), data("a", 2))
            await until(lambda: ws.stats.queued == 2)
            runner = await start(ws, got.append)
            venue.feed(data("a", 3))
            await until(lambda: len(got) == 3)
            assert [message["u"] for message in got] == [1, 2, 3]
            runner.cancel()

    async def test_run_returns_when_the_stream_is_closed(self) -> None:
        """Closing the stream ends run() without an error."""
        venue = VenueWs()
        async with make(venue) as ws:
            runner = await start(ws, lambda message: None)
            await ws.close()
            await asyncio.wait_for(runner, 1)

    async def test_an_exception_in_the_handler_ends_the_stream_and_is_raised(self) -> None:
        """The handler's own exception ends the stream and comes out of run(); nothing after it is handled."""
        venue, got = VenueWs(), []

        def handler(message: Any) -> None:
            if message["u"] == 2:
                raise KeyError("bug")
            got.append(message["u"])

        async with make(venue) as ws:
            await ws.subscribe(["a"])
            runner = await start(ws, handler)
            venue.feed(*(data("a", n) for n in range(5)))
            with pytest.raises(KeyError, match="bug"):
                await asyncio.wait_for(runner, 2)
            await quiesce()
            assert got == [0, 1]

    async def test_cancelling_run_queues_later_messages_for_async_for(self) -> None:
        """After run() is cancelled the stream queues again, and async for reads on."""
        venue, got = VenueWs(), []
        async with make(venue) as ws:
            await ws.subscribe(["a"])
            runner = await start(ws, got.append)
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            venue.feed(data("a", 9))
            assert await next_of(ws) == {"stream": "a", "u": 9}
            assert got == []

    async def test_async_for_is_refused_while_run_pushes(self) -> None:
        """Reading the stream while run() pushes it raises ConfigError, and so does a second run()."""
        async with make(VenueWs()) as ws:
            runner = await start(ws, lambda message: None)
            with pytest.raises(ConfigError):
                await next_of(ws)
            with pytest.raises(ConfigError):
                await ws.run(lambda message: None)
            runner.cancel()

    async def test_a_long_burst_lets_other_tasks_run(self) -> None:
        """Pushing 4 x PUSH_BURST buffered frames, the reader lets others run after each PUSH_BURST, not per frame."""
        venue, got, turns = VenueWs(), [], []

        async def ticker() -> None:
            while True:
                turns.append(len(got))
                await asyncio.sleep(0)

        async with make(venue) as ws:
            await ws.subscribe(["a"])
            runner = await start(ws, got.append)
            venue.feed(*(data("a", n) for n in range(4 * PUSH_BURST)))
            other = asyncio.create_task(ticker())
            await until(lambda: len(got) == 4 * PUSH_BURST, turns=2_000)
            bursts = {n * PUSH_BURST for n in range(5)}
            assert bursts - {0} <= set(turns) <= bursts  # between bursts, and only there
            other.cancel()
            runner.cancel()

    async def test_a_handler_error_closes_the_stream_and_a_later_read_raises_stream_error(self) -> None:
        """After the handler raised, the sockets are closed and a read raises StreamError from that exception."""
        venue = VenueWs()

        def handler(message: Any) -> None:
            raise KeyError("bug")

        async with make(venue) as ws:
            await ws.subscribe(["a"])
            runner = await start(ws, handler)
            venue.feed(data("a", 0))
            with pytest.raises(KeyError):
                await asyncio.wait_for(runner, 2)
            assert ws.stats.connections == 0
            with pytest.raises(StreamError) as raised:
                await next_of(ws)
            assert isinstance(raised.value.__cause__, KeyError)

    async def test_a_cancelled_error_from_the_handler_ends_the_stream_instead_of_the_reader(self) -> None:
        """A handler's own CancelledError ends run() with a StreamError, not a silently dead reader and a hang."""
        venue = VenueWs()

        def handler(message: Any) -> None:
            raise asyncio.CancelledError

        async with make(venue) as ws:
            await ws.subscribe(["a"])
            runner = await start(ws, handler)
            venue.feed(data("a", 0))
            with pytest.raises(StreamError) as raised:
                await asyncio.wait_for(runner, 2)
            assert isinstance(raised.value.__cause__, asyncio.CancelledError)

    async def test_a_read_already_waiting_when_run_begins_is_refused(self) -> None:
        """An async for waiting for its next message when run() starts raises ConfigError, not starves."""
        async with make(VenueWs()) as ws:
            await ws.subscribe(["a"])
            reader = asyncio.create_task(ws.__anext__())
            await quiesce()
            runner = await start(ws, lambda message: None)
            with pytest.raises(ConfigError):
                await asyncio.wait_for(reader, 1)
            runner.cancel()

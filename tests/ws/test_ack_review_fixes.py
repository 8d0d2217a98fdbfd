"""Acks, request ids and outbound rate on the subscription path: each answer confirms only its own request."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import RateLimited, StreamError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Heartbeat, Resumed
from tests.ws.test_reconnect import VenueWs, make, next_of, subscribes, unsubscribes, until

pytestmark = pytest.mark.timeout(30)


def ack(request_id: int) -> str:
    return orjson.dumps({"result": None, "id": request_id}).decode()


def sent_ids(venue: VenueWs, method: str = "SUBSCRIBE") -> list[int]:
    return [m["id"] for m in map(orjson.loads, venue.sent) if m.get("method") == method]


class TestStaleAck:
    async def test_late_ack_of_an_earlier_subscribe_does_not_confirm_a_new_one(self) -> None:
        """The ack of a subscribe unsubscribed before its answer leaves the stream's next subscribe waiting."""
        venue = VenueWs(silent=True)
        async with make(venue, ack_timeout=600, subscribe_timeout=600) as ws:
            await until(lambda: venue.connected)
            first = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: len(sent_ids(venue)) == 1)
            await ws.unsubscribe(["a"])
            with pytest.raises(StreamError):
                await first
            second = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: len(sent_ids(venue)) == 2)
            venue.feed(ack(sent_ids(venue)[0]))
            await asyncio.sleep(0.05)
            assert not second.done()  # only the answer to its own request confirms it
            venue.feed(ack(sent_ids(venue)[1]))
            await asyncio.wait_for(second, 1)


class TestLateSendFailure:
    async def test_old_send_failing_after_the_resubscribe_keeps_the_stream_sent(self) -> None:
        """A subscribe held in an outbound layer past a reconnect, failing late, does not unmark the resubscribe."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        gate = Gate()
        async with make(first, second, clock=clock, outbound=gate) as ws:
            await until(lambda: first.connected)
            subscriber = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: gate.holding)
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert subscribes(second) == [["a"]]
            gate.release()  # the held message now meets the first, closed socket: Disconnected
            await asyncio.wait_for(subscriber, 1)
            await ws.unsubscribe(["a"])
            assert unsubscribes(second) == [["a"]]  # the venue is told: it carries "a" on `second`

    async def test_old_send_refused_after_the_resubscribe_keeps_the_other_holders_stream(self) -> None:
        """A held subscribe refused late (RateLimited) after a reconnect resent its stream keeps the other hold."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        gate = Gate(RateLimited("rate-limit pool WS_MESSAGES exhausted"))
        async with make(first, second, clock=clock, outbound=gate) as ws:
            await until(lambda: first.connected)
            refused = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: gate.holding)
            other = asyncio.create_task(ws.subscribe(["a"]))
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            await asyncio.wait_for(other, 1)  # confirmed on `second`
            gate.release()
            with pytest.raises(RateLimited):
                await asyncio.wait_for(refused, 1)
            assert ws.stats.streams == 1  # "a" is still held by `other`, and still on the venue


class Gate:
    """An outbound layer holding the first subscribe until ``release()`` (a RateLimit queue), then raising ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.holding = False
        self.error = error
        self._open = asyncio.Event()

    def release(self) -> None:
        self._open.set()

    def __call__(self, service: Service) -> Service:
        async def wrapped(request: Request) -> Response:
            if b"SUBSCRIBE" in (request.body or b"") and not self.holding:
                self.holding = True
                await self._open.wait()
                if self.error is not None:
                    raise self.error
            return await service(request)
        return wrapped


class TestPingsAreCounted:
    async def test_protocol_ping_passes_the_outbound_layers(self) -> None:
        """A protocol ping goes through the outbound stack (a venue counts ping frames against its message rate)."""
        clock = FakeClock(auto_advance=False)
        venue = VenueWs(answer_pings=True)
        seen: list[Request] = []

        def record(service: Service) -> Service:
            async def wrapped(request: Request) -> Response:
                seen.append(request)
                return await service(request)
            return wrapped

        hb = Heartbeat(interval=20, pong_timeout=5, idle_timeout=600)
        async with make(venue, clock=clock, heartbeat=hb, outbound=record) as ws:
            await ws.subscribe(["a"])
            await until(lambda: clock.sleepers == 1)
            await clock.advance(20)
            await until(lambda: len(venue.pings) == 1)
            assert [r.method for r in seen] == ["SEND", "PING"]

    async def test_a_ping_held_in_the_outbound_layers_gets_its_pong_timeout_from_when_it_left(self) -> None:
        """A ping held in the outbound layers (a rate limit) past pong_timeout, then answered, keeps its link."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()

        def queued(service: Service) -> Service:
            async def wrapped(request: Request) -> Response:
                if request.ext.get("ping"):
                    await clock.sleep(8)  # behind other messages waiting for the rate limit
                return await service(request)
            return wrapped

        hb = Heartbeat(interval=20, pong_timeout=5, idle_timeout=600)
        async with make(first, second, clock=clock, heartbeat=hb, outbound=queued) as ws:
            await until(lambda: clock.sleepers == 1)
            await clock.advance(20)
            await clock.advance(8)  # the ping leaves now
            assert len(first.pings) == 1
            first.feed(WsFrame.pong())  # answered a round trip later
            await clock.advance(1)
            assert ws.stats.reconnects == 0 and not second.connected

"""Subscription churn: subscribe and unsubscribe racing reconnects, rotations, shards, refusals and close()."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import RateLimited, StreamError, SubscriptionRejected
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Lost, Resumed
from lotusx.ws.subscriptions import Registry
from tests.ws.test_reconnect import (
    VenueWs,
    data,
    dialect,
    make,
    next_of,
    quiesce,
    subscribes,
    unsubscribes,
    until,
)

pytestmark = pytest.mark.timeout(30)


def ack_last(venue: VenueWs) -> None:
    """The venue confirms the last subscribe it was sent."""
    request = next(m for m in map(orjson.loads, reversed(venue.sent)) if m.get("method") == "SUBSCRIBE")
    venue.feed(orjson.dumps({"result": None, "id": request["id"]}).decode())


class TestRefusedStreamInABatch:
    async def test_the_caller_is_told_the_refused_stream_and_the_others_flow(self) -> None:
        """A request refused for one bad stream: SubscriptionRejected names it, the good ones are subscribed."""
        venue = VenueWs(reject={"bad"})
        async with make(venue) as ws:
            with pytest.raises(SubscriptionRejected, match="'bad'"):
                await ws.subscribe(["a", "bad", "c"])
            assert ws.stats.streams == 2
            venue.feed(data("a", 1), data("c", 1))
            assert [(await next_of(ws))["stream"] for _ in range(2)] == ["a", "c"]

    async def test_a_refused_request_is_halved_until_the_bad_stream_stands_alone(self) -> None:
        """The search is bounded: halves of each refused request, and the bad one alone is refused for good."""
        venue = VenueWs(reject={"bad"})
        async with make(venue) as ws:
            with pytest.raises(SubscriptionRejected):
                await ws.subscribe(["a", "bad", "c"])
            await quiesce()
            assert subscribes(venue) == [["a", "bad", "c"], ["a"], ["bad", "c"], ["bad"], ["c"]]

    async def test_a_stream_refused_on_resubscription_is_named_not_its_neighbour(self) -> None:
        """After a reconnect the venue refusing one of two acked streams loses that one; its neighbour resumes."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(reject={"b"})
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a", "b"])
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            lost = await next_of(ws)
            assert isinstance(lost, Lost) and lost.stream == "b"
            assert isinstance(await next_of(ws), Resumed)
            second.feed(data("a", 1))
            assert await next_of(ws) == {"stream": "a", "u": 1}


class TestChurnDuringAReconnect:
    async def test_a_stream_unsubscribed_while_down_is_not_resubscribed(self) -> None:
        """Unsubscribed during the back-off: the next connection subscribes only what is still held."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a", "b"])
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await ws.unsubscribe(["a"])
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert subscribes(second) == [["b"]]
            assert unsubscribes(first) == unsubscribes(second) == []

    async def test_a_stream_subscribed_while_down_is_subscribed_by_the_next_connection(self) -> None:
        """subscribe() during the back-off returns once the new connection has it acked."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a"])
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            late = asyncio.create_task(ws.subscribe(["b"]))
            await quiesce()
            await clock.advance(1)
            await asyncio.wait_for(late, 2)
            assert sorted(s for request in subscribes(second) for s in request) == ["a", "b"]

    async def test_a_stream_unsubscribed_while_its_resubscription_waits_for_the_ack_is_unsubscribed(self) -> None:
        """Unsubscribed after the new connection sent it: the venue is told there, and Resumed still comes."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(silent=True)
        async with make(first, second, clock=clock, ack_timeout=600) as ws:
            await ws.subscribe(["a", "b"])
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            await until(lambda: subscribes(second) == [["a", "b"]])
            await ws.unsubscribe(["a"])
            assert unsubscribes(second) == [["a"]]
            ack_last(second)
            assert isinstance(await next_of(ws), Resumed)
            assert ws.stats.streams == 1


class TestChurnDuringARotation:
    async def test_subscribed_and_unsubscribed_during_a_rotation(self) -> None:
        """While the new link subscribes, a new stream joins it and a dropped one is left out."""
        old, new = VenueWs(), VenueWs(silent=True)
        async with make(old, new, ack_timeout=600) as ws:
            await ws.subscribe(["a", "b"])
            old.feed('{"e":"serverShutdown"}')
            await until(lambda: subscribes(new) == [["a", "b"]])
            late = asyncio.create_task(ws.subscribe(["c"]))
            await ws.unsubscribe(["b"])
            assert unsubscribes(new) == [["b"]]
            ack_last(new)
            await until(lambda: subscribes(new) == [["a", "b"], ["c"]])
            ack_last(new)
            await asyncio.wait_for(late, 2)
            await until(lambda: not old.connected)
            assert ws.stats.streams == 2
            assert ws.stats.rotations == 1


class TestShards:
    async def test_an_emptied_shard_keeps_its_connection_and_takes_the_next_stream(self) -> None:
        """Unsubscribing all of shard 1 leaves its socket up; the next stream goes back on it, no new socket."""
        venues = [VenueWs(), VenueWs()]
        async with make(*venues, dialect=dialect(max_streams=2)) as ws:
            await ws.subscribe(["a", "b", "c"])
            await ws.unsubscribe(["c"])
            assert unsubscribes(venues[1]) == [["c"]]
            assert ws.stats.connections == 2
            await ws.subscribe(["d"])
            assert subscribes(venues[1]) == [["c"], ["d"]]

    async def test_a_reconnect_of_one_shard_marks_only_that_shard(self) -> None:
        """The Gap and Resumed of a dropped shard 1 carry shard=1; shard 0 keeps delivering meanwhile."""
        clock = FakeClock(auto_advance=False)
        venues = [VenueWs(), VenueWs(), VenueWs()]
        async with make(*venues, clock=clock, dialect=dialect(max_streams=1)) as ws:
            await ws.subscribe(["a", "b"])
            venues[1].feed(WsFrame.close(1001))
            gap = await next_of(ws)
            assert (type(gap), gap.shard) == (Gap, 1)
            venues[0].feed(data("a", 1))
            assert await next_of(ws) == {"stream": "a", "u": 1}
            await clock.advance(1)
            resumed = await next_of(ws)
            assert (type(resumed), resumed.shard) == (Resumed, 1)
            assert subscribes(venues[2]) == [["b"]]


class TestClose:
    async def test_close_while_a_subscribe_waits_for_its_ack(self) -> None:
        """The waiting subscribe() raises StreamError, and nothing ReconnectWs started is left running."""
        before = asyncio.all_tasks()
        venue = VenueWs(silent=True)
        ws = make(venue, ack_timeout=600, subscribe_timeout=600)
        async with ws:
            waiting = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: subscribes(venue) == [["a"]])
        with pytest.raises(StreamError):
            await asyncio.wait_for(waiting, 2)
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before == set()

    async def test_close_during_a_rotation(self) -> None:
        """close() while the new link is still subscribing closes both sockets and leaves no task."""
        before = asyncio.all_tasks()
        old, new = VenueWs(), VenueWs(silent=True)
        async with make(old, new, ack_timeout=600) as ws:
            await ws.subscribe(["a"])
            old.feed('{"e":"serverShutdown"}')
            await until(lambda: subscribes(new) == [["a"]])
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before == set()
        assert not old.connected and not new.connected

    async def test_close_during_the_back_off(self) -> None:
        """close() while a shard waits to reconnect, with a subscribe pending on it: no hang, no task left."""
        before = asyncio.all_tasks()
        clock = FakeClock(auto_advance=False)
        first = VenueWs()
        async with make(first, clock=clock, subscribe_timeout=600) as ws:
            await ws.subscribe(["a"])
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            waiting = asyncio.create_task(ws.subscribe(["b"]))
            await quiesce()
        with pytest.raises(StreamError):
            await asyncio.wait_for(waiting, 2)
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before == set()


class RefuseSecondSubscribe:
    """An outbound layer refusing the second subscribe it sees, as a message-rate limit would."""

    def __init__(self) -> None:
        self.subscribes = 0

    def __call__(self, service: Service) -> Service:
        async def refusing(request: Request) -> Response:
            if b"SUBSCRIBE" in (request.body or b"") and b"UNSUBSCRIBE" not in (request.body or b""):
                self.subscribes += 1
                if self.subscribes == 2:
                    raise RateLimited("WS_MESSAGES full", pool="WS_MESSAGES")
            return await service(request)
        return refusing


class TestHalvingFailures:
    async def test_a_half_that_cannot_be_sent_reconnects_instead_of_stranding_it(self) -> None:
        """The first half refused by an outbound layer: the link ends, the next one subscribes the good streams."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(reject={"bad"}), VenueWs(reject={"bad"})
        async with make(first, second, clock=clock, outbound=RefuseSecondSubscribe(), subscribe_timeout=600) as ws:
            asking = asyncio.create_task(ws.subscribe(["a", "bad", "c"]))
            gap = await next_of(ws)
            assert (type(gap), gap.reason) == (Gap, "error")
            await clock.advance(1)
            with pytest.raises(SubscriptionRejected, match="'bad'"):
                await asyncio.wait_for(asking, 2)
            assert ws.stats.streams == 2
            assert isinstance(await next_of(ws), Resumed)


def test_split_leaves_a_lone_refused_stream_to_its_rejection() -> None:
    """Registry.split unsends what is left of a refused request of several streams, not a request of one."""

    async def check() -> None:
        registry = Registry()
        registry.acquire(["a", "b", "c"])
        pair, lone = registry.request(["a", "b"]), registry.request(["c"])
        assert registry.split(pair) == ["a", "b"]
        assert registry.unsent(-1) == ["a", "b"]
        assert registry.resolve(pair, False) == []  # its answer no longer speaks for them
        assert registry.split(lone) == []
        assert registry.resolve(lone, False) == ["c"]
        registry.acquire(["bad"])
        again = registry.request(["a", "bad"])
        registry.release(["bad"])
        assert registry.split(again) == ["a"]  # the refusal may have been bad's

    asyncio.run(check())


class HoldHalves:
    """An outbound layer holding every subscribe after the first, as a slow message-rate limit would."""

    def __init__(self) -> None:
        self.subscribes = 0
        self.held = asyncio.Event()

    def __call__(self, service: Service) -> Service:
        async def holding(request: Request) -> Response:
            if b'"SUBSCRIBE"' in (request.body or b""):
                self.subscribes += 1
                if self.subscribes > 1:
                    self.held.set()
                    await asyncio.Event().wait()
            return await service(request)
        return holding


async def test_close_while_a_refused_request_is_being_halved() -> None:
    """close() with a half waiting to be sent: the subscribe() raises, no task of the halving is left."""
    before = asyncio.all_tasks()
    hold = HoldHalves()
    async with make(VenueWs(reject={"bad"}), outbound=hold) as ws:
        asking = asyncio.create_task(ws.subscribe(["a", "bad"]))
        await asyncio.wait_for(hold.held.wait(), 2)
    with pytest.raises(StreamError):
        await asyncio.wait_for(asking, 2)
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_a_repeat_long_after_a_rotation_is_delivered() -> None:
    """Dedup outlives a rotation by dedup_size messages only: a later repeat is the venue's own, and delivered."""
    old, new = VenueWs(), VenueWs()
    async with make(old, new, dedup_size=2) as ws:
        await ws.subscribe(["a"])
        old.feed(data("a", 1))
        assert (await next_of(ws))["u"] == 1
        old.feed('{"e":"serverShutdown"}')
        await until(lambda: subscribes(new) == [["a"]] and not old.connected)
        new.feed(data("a", 2), data("a", 2), data("a", 3), data("a", 4), data("a", 2))
        assert [(await next_of(ws))["u"] for _ in range(4)] == [2, 3, 4, 2]  # the second 2 is still checked

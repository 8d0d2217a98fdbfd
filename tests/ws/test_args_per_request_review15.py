"""A venue's cap per (un)subscribe request is not a cap per connection.

``max_args`` (Bybit spot: "up to 10 args for each subscription request") cuts the streams of
one connection into several requests, each acked on its own; only ``max_streams`` and
``max_chars`` (Bybit public: 21,000 characters of args per connection) open more connections.
"""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
import pytest

from lotusx.kernel.errors import SubscriptionRejected
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Heartbeat, Resumed, WsDialect
from lotusx.ws.shard import batches, place
from tests.ws.test_reconnect import VenueWs, data, dialect, make, next_of, subscribes, unsubscribes, until

pytestmark = pytest.mark.timeout(30)

FIVE = ["a", "b", "c", "d", "e"]


def two_a_request(lifetime: float | None = None) -> WsDialect:
    """The test venue's dialect, taking at most two streams per request."""
    return dataclasses.replace(dialect(lifetime=lifetime), max_args=2)


class Hold:
    """An outbound layer that keeps the first subscribe naming each of ``names``, in turn, waiting until released."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)
        self.gates: list[asyncio.Event] = []

    def __call__(self, service: Service) -> Service:
        async def wrapped(request: Request) -> Response:
            params = orjson.loads(request.body or b"{}").get("params", [])
            if self.names and self.names[0] in params:
                self.names.pop(0)
                gate = asyncio.Event()
                self.gates.append(gate)
                await gate.wait()
            return await service(request)
        return wrapped


class TestRequests:
    async def test_streams_go_in_requests_of_at_most_max_args_on_one_connection(self) -> None:
        """Five streams under max_args=2 are three requests on the one connection, all confirmed."""
        venue = VenueWs()
        async with make(venue, dialect=two_a_request()) as ws:
            await ws.subscribe(FIVE)
            assert subscribes(venue) == [["a", "b"], ["c", "d"], ["e"]]
            assert (ws.stats.connections, ws.stats.streams) == (1, 5)

    async def test_a_refused_request_fails_only_its_bad_stream(self) -> None:
        """The venue refusing the request holding "c" fails c alone (d is asked for again); the others flow."""
        venue = VenueWs(reject={"c"})
        async with make(venue, dialect=two_a_request()) as ws:
            with pytest.raises(SubscriptionRejected, match="'c'"):
                await ws.subscribe(FIVE)
            assert ws.stats.streams == 4
            venue.feed(data("e", 1))
            assert await next_of(ws) == {"stream": "e", "u": 1}

    async def test_unsubscribe_goes_in_requests_of_at_most_max_args(self) -> None:
        """Unsubscribing five streams under max_args=2 sends three requests."""
        venue = VenueWs()
        async with make(venue, dialect=two_a_request()) as ws:
            await ws.subscribe(FIVE)
            await ws.unsubscribe(FIVE)
            assert unsubscribes(venue) == [["a", "b"], ["c", "d"], ["e"]]

    async def test_resubscribe_after_a_reconnect_goes_in_requests_of_at_most_max_args(self) -> None:
        """After a dropped connection the next one resubscribes every stream, two per request."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock, dialect=two_a_request()) as ws:
            await ws.subscribe(FIVE)
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert subscribes(second) == [["a", "b"], ["c", "d"], ["e"]]

    async def test_rotation_resubscribes_in_requests_of_at_most_max_args(self) -> None:
        """The connection opened before the lifetime ends subscribes every stream, two per request."""
        clock = FakeClock(auto_advance=False)
        old, new = VenueWs(), VenueWs()
        async with make(old, new, clock=clock, heartbeat=Heartbeat(interval=None, idle_timeout=10_000),
                        rotate_before=10, dialect=two_a_request(lifetime=100)) as ws:
            await ws.subscribe(FIVE)
            await until(lambda: 90.0 in clock.slept and clock.sleepers == 2)  # idle watch, rotation timer
            await clock.advance(90)
            await until(lambda: len(subscribes(new)) == 3)
            assert subscribes(new) == [["a", "b"], ["c", "d"], ["e"]]

    async def test_requests_left_when_a_rotation_replaces_the_connection_go_on_the_new_one(self) -> None:
        """A subscribe still sending its requests when the connection is replaced leaves the rest to the new one."""
        clock = FakeClock(auto_advance=False)
        old, new = VenueWs(), VenueWs()
        hold = Hold("c", "a")  # the old connection's second request, then the new connection's first
        async with make(old, new, clock=clock, heartbeat=Heartbeat(interval=None, idle_timeout=10_000),
                        rotate_before=10, dialect=two_a_request(lifetime=100), outbound=hold) as ws:
            await until(lambda: 90.0 in clock.slept and clock.sleepers == 2)  # idle watch, rotation timer
            task = asyncio.create_task(ws.subscribe(FIVE))
            await until(lambda: len(hold.gates) == 1)
            await clock.advance(90)  # the rotation: its new connection's first request is held too
            await until(lambda: len(hold.gates) == 2)
            hold.gates[0].set()  # the old connection's request goes out; the rest is not for it
            await until(lambda: len(subscribes(old)) == 2)
            hold.gates[1].set()
            await asyncio.wait_for(task, 5)
            await until(lambda: ws.stats.rotations == 1)
            assert subscribes(new) == [["a", "b"], ["c", "d"], ["e"]]


class TestConnections:
    async def test_max_args_alone_opens_no_second_connection(self) -> None:
        """Under a cap per request and none per connection, every stream shares one connection."""
        venue = VenueWs()
        async with make(venue, dialect=dataclasses.replace(dialect(), max_args=1)) as ws:
            await ws.subscribe(FIVE)
            assert (ws.stats.connections, venue.connects, len(subscribes(venue))) == (1, 1, 5)

    async def test_streams_past_the_character_budget_go_on_a_second_connection(self) -> None:
        """Under max_chars a connection takes streams until their names would pass it; the rest go on another."""
        first, second = VenueWs(), VenueWs()
        # Each one-letter stream counts 4 (its quotes and comma): three fit in 12, the fourth does not.
        async with make(first, second, dialect=dataclasses.replace(dialect(), max_args=2, max_chars=12)) as ws:
            await ws.subscribe(FIVE)
            assert subscribes(first) == [["a", "b"], ["c"]]
            assert subscribes(second) == [["d", "e"]]
            assert ws.stats.connections == 2


class TestPlacing:
    def test_character_budget_fills_shards_in_order(self) -> None:
        """Streams fill each shard up to max_chars, then open the next."""
        assert place(["aa", "bb", "cc"], [1], None, sizes=[5], max_chars=10) == {0: ["aa"], 1: ["bb", "cc"]}

    def test_a_stream_larger_than_the_budget_takes_an_empty_shard_alone(self) -> None:
        """A name past the budget is still placed (the venue will say no), never looped over."""
        assert place(["toolong", "b"], [], None, max_chars=4) == {0: ["toolong"], 1: ["b"]}

    def test_batches_cut_requests(self) -> None:
        """batches() cuts streams into requests of max_args, or one request without a cap."""
        assert (batches(FIVE, 2), batches(FIVE, None), batches([], 2)) == (
            [["a", "b"], ["c", "d"], ["e"]], [FIVE], [])

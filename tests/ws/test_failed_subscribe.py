"""A subscribe() whose message never leaves raises and leaves nothing behind: no hold, no place, no resend."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import RateLimited, Timeout
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, stack
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Heartbeat, Resumed
from tests.ws.test_reconnect import VenueWs, dialect, make, next_of, quiesce, subscribes, unsubscribes, until
from tests.ws.test_supervisor_review_fixes import yielding

pytestmark = pytest.mark.timeout(30)


class TestRefusedSend:
    async def test_refused_subscribe_is_not_sent_by_the_next_connection(self) -> None:
        """A subscribe() the outbound layer refuses (RateLimited) is not resubscribed after a reconnect."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        refuse = Refuse({"a"})
        async with make(first, second, clock=clock, outbound=refuse) as ws:
            await until(lambda: first.connected)
            with pytest.raises(RateLimited):
                await ws.subscribe(["a"])
            refuse.streams.clear()  # the budget is back: a resubscription would go out now
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert (subscribes(second), ws.stats.streams) == ([], 0)

    async def test_refused_subscribe_frees_its_place_on_the_connection(self) -> None:
        """Under max_streams=1, a refused stream does not take the connection's place: the next one goes there."""
        venues = [VenueWs(), VenueWs()]
        async with make(*venues, dialect=dialect(max_streams=1), outbound=Refuse({"a"})) as ws:
            await until(lambda: venues[0].connected)
            with pytest.raises(RateLimited):
                await ws.subscribe(["a"])
            await asyncio.wait_for(ws.subscribe(["b"]), 1)
            assert (subscribes(venues[0]), venues[1].connects) == ([["b"]], 0)

    async def test_retry_after_a_refusal_is_sent_and_confirmed(self) -> None:
        """subscribe() again after a refusal sends the stream and returns once acked, not waiting on the failed one."""
        venue = VenueWs()
        refuse = Refuse({"a"})
        async with make(venue, outbound=refuse, subscribe_timeout=600) as ws:
            await until(lambda: venue.connected)
            with pytest.raises(RateLimited):
                await ws.subscribe(["a"])
            refuse.streams.clear()
            await asyncio.wait_for(ws.subscribe(["a"]), 1)
            assert subscribes(venue) == [["a"]]

    async def test_retry_after_a_refusal_holds_the_stream_once(self) -> None:
        """After a refusal and a successful retry, one unsubscribe() drops the stream at the venue."""
        venue = VenueWs()
        refuse = Refuse({"a"})
        async with make(venue, outbound=refuse) as ws:
            await until(lambda: venue.connected)
            with pytest.raises(RateLimited):
                await ws.subscribe(["a"])
            refuse.streams.clear()
            await asyncio.wait_for(ws.subscribe(["a"]), 1)
            await ws.unsubscribe(["a"])
            assert (unsubscribes(venue), ws.stats.streams) == ([["a"]], 0)

    async def test_unsubscribe_of_a_refused_stream_is_harmless(self) -> None:
        """unsubscribe() of a stream whose subscribe() was refused raises nothing, sends nothing, keeps the others."""
        venue = VenueWs()
        async with make(venue, outbound=Refuse({"a"})) as ws:
            await until(lambda: venue.connected)
            await ws.subscribe(["b"])
            with pytest.raises(RateLimited):
                await ws.subscribe(["a"])
            await ws.unsubscribe(["a"])
            assert (unsubscribes(venue), ws.stats.streams) == ([], 1)

    async def test_refusal_on_one_connection_unsubscribes_what_went_out_on_another(self) -> None:
        """subscribe(["a", "b"]) over two connections, refused for "b": "a" is unsubscribed again, nothing is held."""
        venues = [VenueWs(), VenueWs()]
        async with make(*venues, dialect=dialect(max_streams=1), outbound=Refuse({"b"})) as ws:
            await ws.subscribe(["x", "y"])  # both connections up, then empty again
            await ws.unsubscribe(["x", "y"])
            await quiesce()  # the second connection is done subscribing: it takes new streams itself
            with pytest.raises(RateLimited):
                await asyncio.wait_for(ws.subscribe(["a", "b"]), 1)
            assert (subscribes(venues[0])[1:], unsubscribes(venues[0])[1:]) == ([["a"]], [["a"]])
            assert (subscribes(venues[1])[1:], ws.stats.streams) == ([], 0)

    async def test_concurrent_subscriber_of_a_refused_stream_fails_at_once(self) -> None:
        """A subscribe() sharing a stream whose send is refused raises the same error now, not a Timeout later."""
        venue = VenueWs()
        async with make(venue, outbound=stack(yielding, Refuse({"a"})), subscribe_timeout=600) as ws:
            await until(lambda: venue.connected)
            results = await asyncio.wait_for(
                asyncio.gather(ws.subscribe(["a"]), ws.subscribe(["a"]), return_exceptions=True), 1)
            assert ([type(r) for r in results], ws.stats.streams) == ([RateLimited, RateLimited], 0)


class TestCancelledSend:
    async def test_subscribe_cancelled_while_sending_is_not_sent_by_the_next_connection(self) -> None:
        """A subscribe() cancelled while an outbound layer holds its message leaves nothing to resubscribe."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        hold = HoldFirstSubscribe()
        async with make(first, second, clock=clock, outbound=hold) as ws:
            await until(lambda: first.connected)
            subscriber = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: hold.holding)
            subscriber.cancel()
            await asyncio.wait({subscriber}, timeout=1)
            assert subscriber.cancelled()
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert (subscribes(second), ws.stats.streams) == ([], 0)


class TestAfterTheSend:
    async def test_subscribe_cancelled_while_waiting_for_the_ack_is_unsubscribed(self) -> None:
        """A subscribe() cancelled after its message went out holds nothing: the venue is told to unsubscribe."""
        venue = VenueWs(silent=True)
        async with make(venue, ack_timeout=600, subscribe_timeout=600) as ws:
            await until(lambda: venue.connected)
            subscriber = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: subscribes(venue) == [["a"]])
            subscriber.cancel()
            await asyncio.wait({subscriber}, timeout=1)
            assert subscriber.cancelled()
            assert (unsubscribes(venue), ws.stats.streams) == ([["a"]], 0)

    async def test_unconfirmed_subscribe_keeps_its_hold_after_a_timeout(self) -> None:
        """A subscribe() that times out waiting for its ack stays held: the next connection resubscribes it."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(silent=True), VenueWs()
        hb = Heartbeat(interval=None, idle_timeout=10_000)
        async with make(first, second, clock=clock, heartbeat=hb, ack_timeout=600, subscribe_timeout=5) as ws:
            await until(lambda: first.connected)
            subscriber = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: clock.sleepers == 2)  # idle watch, subscribe_timeout
            await clock.advance(5)
            with pytest.raises(Timeout):
                await asyncio.wait_for(subscriber, 1)
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert (subscribes(second), ws.stats.streams) == ([["a"]], 1)


# -- fakes -----------------------------------------------------------------------------------


def _subscribed(request: Request) -> list[str]:
    message = orjson.loads(request.body or b"{}")
    return list(message.get("params", ())) if message.get("method") == "SUBSCRIBE" else []


class Refuse:
    """An outbound layer that refuses a subscribe naming one of ``streams``, as a RateLimit over its budget does."""

    def __init__(self, streams: set[str]) -> None:
        self.streams = streams

    def __call__(self, service: Service) -> Service:
        async def wrapped(request: Request) -> Response:
            if self.streams & set(_subscribed(request)):
                raise RateLimited("rate-limit pool WS_MESSAGES exhausted")
            return await service(request)
        return wrapped


class HoldFirstSubscribe:
    """An outbound layer that keeps the first subscribe waiting until it is cancelled (a RateLimit queue)."""

    def __init__(self) -> None:
        self.holding = False
        self._held = False

    def __call__(self, service: Service) -> Service:
        async def wrapped(request: Request) -> Response:
            if _subscribed(request) and not self._held:
                self._held = self.holding = True
                await asyncio.Event().wait()
            return await service(request)
        return wrapped

"""ReconnectWs supervision under races and failures: it closes, cancels, fails and resubscribes as promised."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from lotusx.kernel.errors import (
    AuthenticationError,
    ConfigError,
    Disconnected,
    RateLimited,
    StreamError,
    SubscriptionRejected,
)
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock, FakeWs
from lotusx.ws import Gap, Heartbeat, Lost, Overflow, ReconnectWs, Resumed
from tests.ws.test_reconnect import VenueWs, data, dialect, make, next_of, quiesce, subscribes, unsubscribes, until

pytestmark = pytest.mark.timeout(30)


class TestClose:
    async def test_close_while_a_dead_link_is_torn_down_returns(self) -> None:
        """close() at any moment of a lost connection's teardown returns instead of hanging."""
        for turns in range(8):
            first = VenueWs()
            ws = make(first, VenueWs(), VenueWs())
            ws.start()
            await ws.subscribe(["a"])
            first.feed(WsFrame.close(1001))
            await quiesce(turns)
            closer = asyncio.create_task(ws.close())
            await asyncio.wait({closer}, timeout=1)
            assert closer.done(), f"close() hung when called {turns} turns after the server closed"

    async def test_cancelled_close_raises_cancelled_error(self) -> None:
        """A close() cancelled by its caller (a timeout around `async with`) ends cancelled, not normally."""
        for turns in range(6):
            ws = make(VenueWs(), VenueWs(), dialect=dialect(max_streams=1))
            ws.start()
            await ws.subscribe(["a", "b"])
            closer = asyncio.create_task(ws.close())
            await quiesce(turns)
            if not closer.done():
                closer.cancel()
                await asyncio.wait({closer}, timeout=1)
                assert closer.cancelled(), f"close() swallowed the cancel after {turns} turns"
            await asyncio.wait_for(ws.close(), 1)  # a close() cancelled before it started stopped nothing

    async def test_cancelled_close_still_stops_every_shard(self) -> None:
        """Cancelling close() during the first shard's stop leaves no shard running."""
        before = asyncio.all_tasks()
        venues = [VenueWs(), VenueWs()]
        ws = make(*venues, dialect=dialect(max_streams=1))
        ws.start()
        await ws.subscribe(["a", "b"])
        closer = asyncio.create_task(ws.close())
        await asyncio.sleep(0)
        closer.cancel()
        await asyncio.wait({closer}, timeout=1)
        await until(lambda: asyncio.all_tasks() - before == set())
        assert not any(v.connected for v in venues)

    async def test_close_during_connect_closes_the_session(self) -> None:
        """A session whose connect() a close() interrupts is closed, not leaked."""
        hanging = HangingConnect()
        ws = ReconnectWs(lambda: hanging, clock=FakeClock(auto_advance=False))
        ws.start()
        await until(lambda: hanging.connects == 1)
        await asyncio.wait_for(ws.close(), 1)
        assert hanging.closed_with == 1000

    async def test_close_fails_a_pending_subscribe_with_stream_error(self) -> None:
        """A subscribe() still waiting for its ack raises StreamError when the stream is closed."""
        venue = VenueWs(silent=True)
        ws = make(venue, ack_timeout=600, subscribe_timeout=600)
        ws.start()
        await until(lambda: venue.connected)
        subscriber = asyncio.create_task(ws.subscribe(["a"]))
        await until(lambda: subscribes(venue) == [["a"]])
        await ws.close()
        with pytest.raises(StreamError):
            await asyncio.wait_for(subscriber, 1)

    async def test_subscribe_after_close_raises_stream_error(self) -> None:
        """subscribe() on a closed stream raises StreamError at once instead of waiting for a connection."""
        async with make(VenueWs()) as ws:
            pass
        with pytest.raises(StreamError, match="closed"):
            await asyncio.wait_for(ws.subscribe(["a"]), 1)
        assert ws.stats.streams == 0


class TestFatal:
    async def test_failed_ping_send_ends_the_link_with_a_gap(self) -> None:
        """An app ping whose send fails (the socket is gone) ends the link: Gap, then a reconnect."""
        clock = FakeClock(auto_advance=False)
        first, second = DeadOnPing(), VenueWs()
        hb = Heartbeat(interval=20, pong_timeout=5, idle_timeout=600)
        async with make(first, second, clock=clock, heartbeat=hb, dialect=dialect(app_ping=True)) as ws:
            await ws.subscribe(["a"])
            await until(lambda: clock.sleepers == 1)
            await clock.advance(20)
            assert (await next_of(ws)).reason == "disconnected"
            await clock.advance(1)
            await until(lambda: subscribes(second) == [["a"]])

    async def test_a_ping_refused_by_our_own_rate_limit_is_skipped_and_keeps_the_link(self) -> None:
        """An app ping an outbound RateLimit refuses never left: no pong is awaited, no Gap, no reconnect."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        hb = Heartbeat(interval=20, pong_timeout=5, idle_timeout=600)
        async with make(first, second, clock=clock, heartbeat=hb, outbound=throttled_pings,
                        dialect=dialect(app_ping=True)) as ws:
            await ws.subscribe(["a"])
            await until(lambda: clock.sleepers == 1)
            await clock.advance(20)  # refused
            await clock.advance(10)  # past pong_timeout
            await until(lambda: clock.sleepers == 1)
            assert ws.stats.reconnects == 0 and not second.connected

    async def test_bug_in_the_login_hook_ends_the_stream_with_stream_error(self) -> None:
        """A non-LotusX exception while connecting reaches the consumer as StreamError, and close() is quiet."""
        async def broken_login() -> str:
            raise KeyError("secret")

        ws = make(VenueWs(), dialect=dataclasses.replace(dialect(private=True), login=broken_login))
        ws.start()
        with pytest.raises(StreamError) as raised:
            await next_of(ws)
        assert isinstance(raised.value.__cause__, KeyError)
        await asyncio.wait_for(ws.close(), 1)

    async def test_config_error_from_the_session_ends_the_stream(self) -> None:
        """A ConfigError while connecting (a bad URL) ends the stream instead of being retried forever."""
        venue = MisconfiguredWs()
        async with make(venue, venue, clock=FakeClock()) as ws:
            with pytest.raises(ConfigError):
                await next_of(ws)
            assert venue.connects == 1

    async def test_pending_subscribe_fails_with_the_login_rejection(self) -> None:
        """A subscribe() waiting when the login is refused raises AuthenticationError, not a late Timeout."""
        venue = VenueWs(reject_login=True)
        async with make(venue, dialect=dialect(private=True), subscribe_timeout=600) as ws:
            with pytest.raises(AuthenticationError):
                await asyncio.wait_for(ws.subscribe(["orders"]), 1)

    async def test_rejected_resubscription_of_the_only_stream_ends_the_stream_with_subscription_rejected(self) -> None:
        """The only stream refused after a reconnect: its Lost, then SubscriptionRejected, not Resumed."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(reject={"a"})
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a"])
            first.feed(WsFrame.close(1001))
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Lost)
            with pytest.raises(SubscriptionRejected, match="'a'"):
                await next_of(ws)

    async def test_first_subscribe_rejected_while_connecting_fails_only_its_caller(self) -> None:
        """A new stream refused on a connection being opened fails its subscribe(); the stream goes on."""
        venue = VenueWs(reject={"nope"})
        async with make(venue) as ws:
            with pytest.raises(SubscriptionRejected):
                await asyncio.wait_for(ws.subscribe(["nope"]), 1)
            venue.feed(data("a", 1))
            assert await next_of(ws) == {"stream": "a", "u": 1}


class TestSubscribeWhileDown:
    async def test_subscribe_during_backoff_is_sent_on_the_next_connection(self) -> None:
        """A subscribe() while the shard backs off waits, and is confirmed by the next connection."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock, subscribe_timeout=600) as ws:
            await ws.subscribe(["a"])
            first.feed(WsFrame.close(1001))
            assert isinstance(await next_of(ws), Gap)
            subscriber = asyncio.create_task(ws.subscribe(["b"]))
            await quiesce()
            await clock.advance(1)
            await asyncio.wait_for(subscriber, 1)
            assert sorted(s for group in subscribes(second) for s in group) == ["a", "b"]

    async def test_unsubscribe_during_backoff_is_quiet(self) -> None:
        """unsubscribe() while the shard backs off raises nothing, and the next connection skips the stream."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a", "b"])
            first.feed(WsFrame.close(1001))
            assert isinstance(await next_of(ws), Gap)
            await asyncio.wait_for(ws.unsubscribe(["b"]), 1)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert (subscribes(second), unsubscribes(second)) == ([["a"]], [])

    async def test_subscribe_sent_into_a_dead_socket_is_sent_again_by_the_next_connection(self) -> None:
        """A subscribe whose send finds the socket gone (Disconnected) is resent and confirmed after the reconnect."""
        clock = FakeClock(auto_advance=False)
        first, second = DeadOnSubscribe(), VenueWs()
        async with make(first, second, clock=clock, subscribe_timeout=600) as ws:
            await until(lambda: first.connected)
            first.dead = True
            subscriber = asyncio.create_task(ws.subscribe(["a"]))
            assert (await next_of(ws)).reason == "disconnected"
            await clock.advance(1)
            await asyncio.wait_for(subscriber, 1)
            assert subscribes(second) == [["a"]]

    async def test_unsubscribe_before_the_ack_fails_the_pending_subscribe_with_stream_error(self) -> None:
        """Unsubscribing a stream whose subscribe() awaits its ack raises StreamError there, never CancelledError."""
        venue = VenueWs(silent=True)
        async with make(venue, ack_timeout=600, subscribe_timeout=600) as ws:
            await until(lambda: venue.connected)
            subscriber = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: subscribes(venue) == [["a"]])
            await ws.unsubscribe(["a"])
            with pytest.raises(StreamError, match="unsubscribed"):
                await asyncio.wait_for(subscriber, 1)

    async def test_concurrent_subscribes_respect_max_streams(self) -> None:
        """Two subscribe() calls at once never put more than max_streams streams on one connection."""
        venues = [VenueWs(), VenueWs(), VenueWs(), VenueWs()]
        async with make(*venues, dialect=dialect(max_streams=2), outbound=yielding) as ws:
            await ws.subscribe(["x"])
            await asyncio.wait_for(asyncio.gather(ws.subscribe(["a", "b", "c"]), ws.subscribe(["d"])), 1)
            assert [sum(len(group) for group in subscribes(v)) for v in venues] == [2, 2, 1, 0]


class TestBackPressure:
    @staticmethod
    def blocking(venue: VenueWs, clock: FakeClock) -> ReconnectWs:
        """Two queued messages at most, the reader held beyond them; 30 s of silence is idle."""
        return make(venue, VenueWs(), clock=clock, queue_size=2, overflow=Overflow.BLOCK,
                    heartbeat=Heartbeat(interval=None, idle_timeout=30))

    async def test_reader_held_by_a_full_queue_is_not_declared_idle(self) -> None:
        """Under Overflow.BLOCK, a consumer slower than idle_timeout does not get a healthy socket dropped."""
        clock = FakeClock(auto_advance=False)
        venue = VenueWs()
        async with self.blocking(venue, clock) as ws:
            await ws.subscribe(["a"])
            venue.feed(*(data("a", n) for n in range(5)))
            await until(lambda: ws.stats.queued == 2)
            for _ in range(4):
                await clock.advance(10)
            assert ws.stats.reconnects == 0

    async def test_silence_after_the_queue_drains_is_still_idle(self) -> None:
        """Once the reader reads again, idle_timeout of silence still ends the connection."""
        clock = FakeClock(auto_advance=False)
        venue = VenueWs()
        async with self.blocking(venue, clock) as ws:
            await ws.subscribe(["a"])
            venue.feed(*(data("a", n) for n in range(3)))
            await until(lambda: ws.stats.queued == 2)
            await clock.advance(40)
            assert [(await next_of(ws))["u"] for _ in range(3)] == [0, 1, 2]
            await clock.advance(30)
            await clock.advance(30)
            assert (await next_of(ws)).reason == "idle"

    async def test_rotation_that_closes_a_held_reader_puts_a_gap(self) -> None:
        """A rotation closing a reader held by a full BLOCK queue loses what it held: a Gap and Resumed say so."""
        clock = FakeClock(auto_advance=False)
        old, new = VenueWs(), VenueWs()
        async with make(old, new, clock=clock, queue_size=2, overflow=Overflow.BLOCK, rotate_before=10,
                        heartbeat=Heartbeat(interval=None, idle_timeout=10_000), dialect=dialect(lifetime=100)) as ws:
            await ws.subscribe(["a"])
            old.feed(data("a", 1), data("a", 2), data("a", 3))  # 3 waits for room
            await until(lambda: ws.stats.queued == 2 and clock.sleepers == 2)  # idle watch, rotation timer
            await clock.advance(90)
            await until(lambda: subscribes(new) == [["a"]] and not old.connected)
            new.feed(data("a", 4))  # the new subscription starts after 3
            got = [await next_of(ws) for _ in range(5)]
            assert [type(m).__name__ for m in got] == ["dict", "dict", "Gap", "Resumed", "dict"]
            assert [got[0]["u"], got[1]["u"], got[4]["u"]] == [1, 2, 4]


# -- fakes -----------------------------------------------------------------------------------


class HangingConnect(FakeWs):
    """A session whose handshake never completes (a venue under load)."""

    async def connect(self) -> None:
        self.connects += 1
        await asyncio.Event().wait()


class MisconfiguredWs(FakeWs):
    """A session that can never connect: its configuration is wrong."""

    async def connect(self) -> None:
        self.connects += 1
        raise ConfigError("WebSocket url must start with ws:// or wss://")


class DeadOnSubscribe(VenueWs):
    """A venue whose socket is gone once ``dead`` is set: sends raise Disconnected."""

    dead = False

    async def send(self, data: str | bytes) -> None:
        if self.dead:
            self.feed(Disconnected("reset"))
            raise Disconnected("send on a dead socket", sent=False)
        await super().send(data)


class DeadOnPing(VenueWs):
    """A venue whose socket is gone when the app ping is sent: that send raises Disconnected."""

    async def send(self, data: str | bytes) -> None:
        if data == '{"op":"ping"}':
            raise Disconnected("send on a dead socket", sent=False)
        await super().send(data)


def throttled_pings(service: Service) -> Service:
    """An outbound layer that refuses app pings, as a RateLimit over its budget does."""
    async def wrapped(request: Request) -> Response:
        if request.body == b'{"op":"ping"}':
            raise RateLimited("rate-limit pool WS_MESSAGES exhausted")
        return await service(request)
    return wrapped


def yielding(service: Service) -> Service:
    """An outbound layer that awaits before sending, as RateLimit or a trace exporter may."""
    async def wrapped(request: Request) -> Response:
        await asyncio.sleep(0)
        return await service(request)
    return wrapped

"""ReconnectWs against scripted sessions and a virtual clock: the stream stays up and says when it had a gap."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import orjson
import pytest

from lotusx.kernel.errors import (
    AuthenticationError,
    InvalidSignature,
    IpBanned,
    RateLimited,
    SubscriptionRejected,
    Timeout,
)
from lotusx.kernel.ws import WsFrame
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, FakeWs
from lotusx.ws import Backoff, Gap, Heartbeat, Many, Overflow, ReconnectWs, Resumed, WsDialect, frames
from lotusx.ws.dialect import LoginAck


class TestSubscriptions:
    async def test_subscribe_waits_for_the_ack_and_messages_flow(self) -> None:
        """subscribe() sends one message, returns once acked, and the stream's messages arrive."""
        venue = VenueWs()
        async with make(venue) as ws:
            await ws.subscribe(["btcusdt@trade"])
            assert subscribes(venue) == [["btcusdt@trade"]]
            venue.feed(data("btcusdt@trade", 1))
            assert await next_of(ws) == {"stream": "btcusdt@trade", "u": 1}

    async def test_shared_stream_is_subscribed_once_and_released_last(self) -> None:
        """Two subscribers to one stream send one subscribe; the unsubscribe goes when the last leaves."""
        venue = VenueWs()
        async with make(venue) as ws:
            await ws.subscribe(["a"])
            await ws.subscribe(["a"])
            assert subscribes(venue) == [["a"]]
            await ws.unsubscribe(["a"])
            assert unsubscribes(venue) == []
            await ws.unsubscribe(["a"])
            assert unsubscribes(venue) == [["a"]]

    async def test_rejection_reaches_the_subscriber(self) -> None:
        """A stream the venue refuses raises SubscriptionRejected with the venue's text."""
        venue = VenueWs(reject={"nope"})
        async with make(venue) as ws:
            with pytest.raises(SubscriptionRejected, match="Invalid request"):
                await ws.subscribe(["nope"])
            assert ws.stats.streams == 0

    async def test_unanswered_subscribe_times_out(self) -> None:
        """No ack within subscribe_timeout raises Timeout instead of hanging."""
        clock = FakeClock(auto_advance=False)
        venue = VenueWs(silent=True)
        async with make(venue, clock=clock, subscribe_timeout=5, ack_timeout=600) as ws:
            task = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: clock.sleepers >= 2)
            await clock.advance(5)
            await clock.advance(5)
            with pytest.raises(Timeout):
                await asyncio.wait_for(task, 1)

    async def test_streams_beyond_the_cap_open_more_connections(self) -> None:
        """With max_streams=2, five streams use three connections, merged into one stream."""
        venues = [VenueWs(), VenueWs(), VenueWs()]
        async with make(*venues, dialect=dialect(max_streams=2)) as ws:
            await ws.subscribe(["a", "b", "c", "d", "e"])
            assert [subscribes(v) for v in venues] == [[["a", "b"]], [["c", "d"]], [["e"]]]
            assert ws.stats.connections == 3
            venues[2].feed(data("e", 1))
            venues[0].feed(data("a", 1))
            assert {(await next_of(ws))["stream"] for _ in range(2)} == {"a", "e"}


class TestReconnect:
    async def test_server_close_gives_gap_then_resubscribes(self) -> None:
        """A close frame ends the connection: a Gap goes into the stream, and the next connection resubscribes."""
        clock, metrics = FakeClock(auto_advance=False), Metrics()
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock, metrics=metrics) as ws:
            await ws.subscribe(["a"])
            first.feed(WsFrame.close(1001))
            gap = await next_of(ws)
            assert isinstance(gap, Gap)
            assert gap.reason == "server_close"
            await clock.advance(1)
            await until(lambda: subscribes(second) == [["a"]])
            assert isinstance(await next_of(ws), Resumed)
            second.feed(data("a", 7))
            assert await next_of(ws) == {"stream": "a", "u": 7}
            assert sample(metrics, "lotusx_ws_reconnects_total", reason="server_close") == 1
            assert sample(metrics, "lotusx_ws_resubscriptions_total") == 1
            assert ws.stats.reconnects == 1

    async def test_resumed_comes_only_once_the_resubscription_is_acked(self) -> None:
        """After a Gap, Resumed waits for the venue's ack on the new connection: then the stream is live."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(silent=True)
        async with make(first, second, clock=clock, ack_timeout=600) as ws:
            await ws.subscribe(["a"])
            first.feed(WsFrame.close(1001))
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            await until(lambda: subscribes(second) == [["a"]])
            await quiesce()
            assert ws.stats.queued == 0  # subscribed but not confirmed: not live yet
            second.feed(orjson.dumps({"result": None, "id": orjson.loads(second.sent[-1])["id"]}).decode())
            resumed = await next_of(ws)
            assert isinstance(resumed, Resumed)
            assert resumed.shard == 0

    async def test_reconnect_on_request_gaps_resubscribes_and_resumes(self) -> None:
        """reconnect(reason) drops the live socket: a Gap with that reason, a new subscribed socket, Resumed."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a"])
            ws.reconnect("listen_key_expired")
            assert (await next_of(ws)).reason == "listen_key_expired"
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert (subscribes(second), first.connected) == ([["a"]], False)

    async def test_lost_connection_reconnects(self) -> None:
        """A dropped socket (Disconnected) is a reconnect with reason disconnected."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock) as ws:
            first.feed(ConnectionResetLike())
            assert (await next_of(ws)).reason == "disconnected"
            await clock.advance(1)
            await until(lambda: second.connected)

    async def test_repeated_connect_failures_back_off_growing_and_capped(self) -> None:
        """Failing connects sleep 0.5, 1, 2, 4, 8, 8 (full jitter pinned at 1, cap 8): no reconnect storm."""
        clock = FakeClock(auto_advance=False)
        venue = VenueWs(fail_connect=6)
        async with make(venue, venue, venue, venue, venue, venue, venue, clock=clock,
                        backoff=Backoff(base=0.5, cap=8, random=lambda: 1.0)):
            for _ in range(6):
                await until(lambda: clock.sleepers > 0)
                await clock.advance(8)
            await until(lambda: venue.connected)
            assert clock.slept[:6] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
            assert venue.connects == 7

    async def test_backoff_resets_after_a_healthy_period(self) -> None:
        """A connection that stayed up past healthy_after starts the back-off over."""
        clock = FakeClock(auto_advance=False)
        venues = [VenueWs(fail_connect=3), VenueWs()]
        factory_order = [venues[0]] * 4 + [venues[1]]
        async with make(*factory_order, clock=clock, heartbeat=Heartbeat(interval=None, idle_timeout=10_000),
                        backoff=Backoff(base=1, cap=64, healthy_after=60, random=lambda: 1.0)):
            for _ in range(3):
                await until(lambda: clock.sleepers > 0)
                await clock.advance(64)
            await until(lambda: venues[0].connected)
            await clock.advance(100)
            venues[0].feed(WsFrame.close(1000))
            await until(lambda: len(clock.slept) >= 5 and clock.slept[-1] == 1.0)
            assert [s for s in clock.slept if s in (1.0, 2.0, 4.0)][:4] == [1.0, 2.0, 4.0, 1.0]

    async def test_login_comes_before_resubscribe(self) -> None:
        """A private stream logs in first on every connection, then resubscribes."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock, dialect=dialect(private=True)) as ws:
            await ws.subscribe(["orders"])
            first.feed(WsFrame.close(1011))
            await next_of(ws)
            await clock.advance(1)
            await until(lambda: len(second.sent) == 2)
            assert [orjson.loads(m)["method"] for m in first.sent] == ["LOGIN", "SUBSCRIBE"]
            assert [orjson.loads(m)["method"] for m in second.sent] == ["LOGIN", "SUBSCRIBE"]

    async def test_rejected_login_fails_the_stream(self) -> None:
        """A refused login is an AuthenticationError for the consumer, not a reconnect loop."""
        venue = VenueWs(reject_login=True)
        async with make(venue, dialect=dialect(private=True)) as ws:
            with pytest.raises(AuthenticationError):
                await next_of(ws)
            assert venue.connects == 1

    async def test_a_login_refusal_classified_as_transient_reconnects(self) -> None:
        """A login_ack that returns a non-fatal error (a throttle) makes the shard log in again on a new socket."""
        clock = FakeClock(auto_advance=False)
        refusing, accepting = VenueWs(reject_login=True), VenueWs()

        def login_ack(message: Any) -> LoginAck | None:
            if isinstance(message, dict) and message.get("id") == 0:
                return RateLimited("login throttled") if "error" in message else (True, None)
            return None

        private = dataclasses.replace(dialect(private=True), login_ack=login_ack)
        async with make(refusing, accepting, clock=clock, dialect=private) as ws:
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            assert [orjson.loads(m)["method"] for m in accepting.sent] == ["LOGIN"]

    async def test_a_throttled_login_waits_the_venues_retry_after_before_the_next_socket(self) -> None:
        """A login refused as RateLimited(retry_after=120) reconnects after 120 s, not after the 1 s back-off."""
        clock = FakeClock(auto_advance=False)
        refusing, accepting = VenueWs(reject_login=True), VenueWs()

        def login_ack(message: Any) -> LoginAck | None:
            if isinstance(message, dict) and message.get("id") == 0:
                return IpBanned("banned", retry_after=120.0) if "error" in message else (True, None)
            return None

        private = dataclasses.replace(dialect(private=True), login_ack=login_ack)
        async with make(refusing, accepting, clock=clock, dialect=private) as ws:
            assert isinstance(await next_of(ws), Gap)
            await opens_only_after(120, clock, ws, accepting)

    async def test_a_login_refusal_classified_as_an_auth_error_fails_the_stream_with_it(self) -> None:
        """A login_ack that returns an AuthenticationError subclass ends the stream with that very error."""
        venue = VenueWs(reject_login=True)

        def login_ack(message: Any) -> LoginAck | None:
            if isinstance(message, dict) and message.get("id") == 0:
                return InvalidSignature("login", code=-1022) if "error" in message else (True, None)
            return None

        async with make(venue, dialect=dataclasses.replace(dialect(private=True), login_ack=login_ack)) as ws:
            with pytest.raises(InvalidSignature):
                await next_of(ws)
            assert venue.connects == 1

    async def test_one_shards_failure_is_not_kept_waiting_behind_another_shards_feed(self) -> None:
        """A shard's fatal error reaches a slow consumer after what was queued, not after all another shard sends."""
        busy, refusing = VenueWs(), VenueWs(reject_login=True)
        async with make(busy, refusing, dialect=dialect(private=True, max_streams=1), queue_size=4) as ws:
            await ws.subscribe(["a"])
            busy.feed(*[data("a", u) for u in range(50)])  # more than the queue holds: the reader waits
            await quiesce()
            with pytest.raises(AuthenticationError):
                await ws.subscribe(["b"])
            received = await count_until_error(ws)
            assert isinstance(received[1], AuthenticationError)
            assert received[0] <= 5  # the queue's 4, and the one its reader held when the shard failed

    async def test_close_leaves_no_tasks(self) -> None:
        """Leaving `async with` cancels every task ReconnectWs started and closes its sockets."""
        before = asyncio.all_tasks()
        venues = [VenueWs(), VenueWs()]
        async with make(*venues, dialect=dialect(max_streams=1)) as ws:
            await ws.subscribe(["a", "b"])
            assert len(asyncio.all_tasks() - before) > 0
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before == set()
        assert not any(v.connected for v in venues)
        with pytest.raises(StopAsyncIteration):
            await next_of(ws)


class TestHeartbeat:
    async def test_server_ping_is_answered(self) -> None:
        """A protocol PING from the venue is answered with a PONG carrying the same data."""
        venue = VenueWs()
        async with make(venue):
            venue.feed(WsFrame.ping(b"hb"))
            await until(lambda: venue.pongs == [b"hb"])

    async def test_missed_pong_reconnects(self) -> None:
        """Our protocol ping unanswered within pong_timeout kills the connection (ws_pong_timeouts)."""
        clock, metrics = FakeClock(auto_advance=False), Metrics()
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock, metrics=metrics,
                        heartbeat=Heartbeat(interval=20, pong_timeout=5, idle_timeout=600)) as ws:
            await until(lambda: clock.sleepers == 1)
            await clock.advance(20)
            assert first.pings == [b""]
            await clock.advance(5)
            assert (await next_of(ws)).reason == "pong_timeout"
            assert sample(metrics, "lotusx_ws_pong_timeouts_total") == 1

    async def test_answered_ping_keeps_the_connection(self) -> None:
        """A pong in time keeps the connection; pings go on every interval."""
        clock = FakeClock(auto_advance=False)
        venue = VenueWs(answer_pings=True)
        async with make(venue, clock=clock, heartbeat=Heartbeat(interval=20, pong_timeout=5, idle_timeout=600)) as ws:
            await until(lambda: clock.sleepers == 1)
            for _ in range(3):
                await clock.advance(20)
            assert len(venue.pings) == 3
            assert ws.stats.reconnects == 0

    async def test_app_level_ping_and_pong(self) -> None:
        """With a dialect ping, {"op":"ping"} is sent and the venue's pong message is consumed, not delivered."""
        clock = FakeClock(auto_advance=False)
        venue = VenueWs(answer_app_pings=True)
        hb = Heartbeat(interval=20, pong_timeout=5, idle_timeout=600)
        async with make(venue, clock=clock, heartbeat=hb, dialect=dialect(app_ping=True)) as ws:
            await until(lambda: clock.sleepers == 1)
            await clock.advance(20)
            await clock.advance(10)
            assert venue.sent[0] == '{"op":"ping"}'
            assert venue.pings == []
            assert ws.stats.reconnects == 0
            assert ws.stats.queued == 0

    async def test_venue_app_ping_gets_its_reply(self) -> None:
        """An HTX-style {"ping": ts} is answered with {"pong": ts} and not delivered."""
        venue = VenueWs()
        async with make(venue, dialect=dialect(htx_ping=True)) as ws:
            venue.feed('{"ping":1700000000000}')
            await until(lambda: venue.sent == ['{"pong":1700000000000}'])
            assert ws.stats.queued == 0

    async def test_idle_watchdog_reconnects(self) -> None:
        """No data for idle_timeout seconds means the connection is dead."""
        clock = FakeClock(auto_advance=False)
        async with make(VenueWs(), VenueWs(), clock=clock, heartbeat=Heartbeat(interval=None, idle_timeout=30)) as ws:
            await until(lambda: clock.sleepers == 1)
            await clock.advance(29)
            assert ws.stats.reconnects == 0
            await clock.advance(1)
            assert (await next_of(ws)).reason == "idle"


class TestRotation:
    async def test_rotation_before_lifetime_loses_nothing_and_repeats_nothing(self) -> None:
        """Near the lifetime a new connection is subscribed before the old one closes; the overlap is deduplicated."""
        clock = FakeClock(auto_advance=False)
        old, new = VenueWs(), VenueWs()
        hb = Heartbeat(interval=None, idle_timeout=10_000)
        async with make(old, new, clock=clock, heartbeat=hb, rotate_before=10,
                        dialect=dialect(lifetime=100)) as ws:
            await ws.subscribe(["a"])
            old.feed(data("a", 1), data("a", 2))
            await until(lambda: ws.stats.queued == 2 and clock.sleepers == 2)  # idle watch, rotation timer
            await clock.advance(90)
            await until(lambda: subscribes(new) == [["a"]])
            old.feed(data("a", 3), data("a", 4))
            new.feed(data("a", 3), data("a", 4), data("a", 5))
            await until(lambda: ws.stats.queued == 5)
            got = [(await next_of(ws))["u"] for _ in range(5)]
            assert got == [1, 2, 3, 4, 5]
            assert not old.connected
            assert ws.stats.rotations == 1
            assert ws.stats.reconnects == 0

    async def test_survivor_repeating_what_the_old_link_delivered_ahead_is_dropped(self) -> None:
        """After the old link closes, the new one's late copies of what the old one delivered are still dropped."""
        old, new = VenueWs(), VenueWs()
        async with make(old, new, dialect=dialect()) as ws:
            await ws.subscribe(["a"])
            old.feed(data("a", 1))
            assert (await next_of(ws))["u"] == 1
            old.feed('{"e":"serverShutdown"}')
            await until(lambda: subscribes(new) == [["a"]])
            old.feed(data("a", 2), data("a", 3))
            await until(lambda: ws.stats.queued == 2)
            await until(lambda: not old.connected)
            new.feed(data("a", 2), data("a", 3), data("a", 4))
            assert [(await next_of(ws))["u"] for _ in range(3)] == [2, 3, 4]
            assert ws.stats.queued == 0

    async def test_outside_an_overlap_repeats_are_delivered(self) -> None:
        """With one link nothing is deduplicated (or remembered): the venue's own repeats reach the consumer."""
        venue = VenueWs()
        async with make(venue, dialect=dialect()) as ws:
            await ws.subscribe(["a"])
            venue.feed(data("a", 1), data("a", 1))
            assert [(await next_of(ws))["u"] for _ in range(2)] == [1, 1]

    async def test_shutdown_notice_rotates_without_a_gap(self) -> None:
        """A venue shutdown notice triggers an orderly switch to a new connection, with no Gap."""
        old, new = VenueWs(), VenueWs()
        async with make(old, new, dialect=dialect()) as ws:
            await ws.subscribe(["a"])
            old.feed('{"e":"serverShutdown"}')
            await until(lambda: subscribes(new) == [["a"]] and not old.connected)
            new.feed(data("a", 1))
            assert await next_of(ws) == {"stream": "a", "u": 1}
            assert ws.stats.rotations == 1


    async def test_old_link_dying_during_a_rotation_is_a_gap_then_resumed(self) -> None:
        """If the old socket drops before the new one is subscribed, messages may be lost: Gap, then Resumed."""
        old, new = VenueWs(), VenueWs(silent=True)
        async with make(old, new, dialect=dialect(), ack_timeout=600) as ws:
            await ws.subscribe(["a"])
            old.feed('{"e":"serverShutdown"}')
            await until(lambda: subscribes(new) == [["a"]])
            old.feed(ConnectionResetLike())
            await until(lambda: not old.connected)  # its reader took the reset: the link has ended
            new.feed(orjson.dumps({"result": None, "id": orjson.loads(new.sent[-1])["id"]}).decode())
            gap, resumed = await next_of(ws), await next_of(ws)
            assert (type(gap), gap.reason, type(resumed)) == (Gap, "disconnected", Resumed)
            new.feed(data("a", 1))
            assert await next_of(ws) == {"stream": "a", "u": 1}
            assert (ws.stats.rotations, ws.stats.reconnects) == (1, 0)

    async def test_a_rotation_refused_with_a_retry_after_waits_it_before_the_next_socket(self) -> None:
        """A rotation whose new login is refused as IpBanned(retry_after=120) reconnects after 120 s, not sooner."""
        clock = FakeClock(auto_advance=False)
        old, refusing, accepting = VenueWs(), VenueWs(reject_login=True), VenueWs()

        def login_ack(message: Any) -> LoginAck | None:
            if isinstance(message, dict) and message.get("id") == 0:
                return IpBanned("banned", retry_after=120.0) if "error" in message else (True, None)
            return None

        private = dataclasses.replace(dialect(private=True), login_ack=login_ack)
        async with make(old, refusing, accepting, clock=clock, dialect=private,
                        heartbeat=Heartbeat(interval=None, idle_timeout=10_000)) as ws:
            await until(lambda: old.connected and len(old.sent) == 1)
            old.feed('{"e":"serverShutdown"}')
            gap = await next_of(ws)
            assert (type(gap), gap.reason) == (Gap, "rotation_failed")
            await opens_only_after(120, clock, ws, accepting)


class TestFailures:
    async def test_failed_rotation_falls_back_to_a_reconnect(self) -> None:
        """If the new connection cannot open at rotation time, the old one closes with a Gap and reconnects."""
        clock = FakeClock(auto_advance=False)
        old, broken, fresh = VenueWs(), VenueWs(fail_connect=1), VenueWs()
        hb = Heartbeat(interval=None, idle_timeout=10_000)
        async with make(old, broken, fresh, clock=clock, heartbeat=hb, rotate_before=10,
                        dialect=dialect(lifetime=100)) as ws:
            await ws.subscribe(["a"])
            await quiesce()
            await until(lambda: clock.sleepers == 2)  # idle watch, rotation timer
            await clock.advance(90)
            assert (await next_of(ws)).reason == "rotation_failed"
            assert not old.connected
            await clock.advance(1)
            await until(lambda: subscribes(fresh) == [["a"]])

    async def test_unacked_resubscribe_is_a_gap_and_a_retry(self) -> None:
        """A new connection whose subscribe is never acked is abandoned after ack_timeout, with a Gap.

        The connection that finally subscribes puts one Resumed for both gaps.
        """
        clock = FakeClock(auto_advance=False)
        first, mute, third = VenueWs(), VenueWs(silent=True), VenueWs()
        hb = Heartbeat(interval=None, idle_timeout=10_000)
        async with make(first, mute, third, clock=clock, heartbeat=hb, ack_timeout=5) as ws:
            await ws.subscribe(["a"])
            first.feed(WsFrame.close(1001))
            assert (await next_of(ws)).reason == "server_close"
            await clock.advance(1)
            await until(lambda: subscribes(mute) == [["a"]] and clock.sleepers == 2)
            await clock.advance(5)
            assert (await next_of(ws)).reason == "setup_failed"
            await clock.advance(2)
            await until(lambda: subscribes(third) == [["a"]])
            assert isinstance(await next_of(ws), Resumed)

    async def test_a_failing_stage_ends_the_connection_not_the_stream(self) -> None:
        """A bug in a frame stage is logged and treated as a dead connection, so the stream never hangs."""
        def explode(message: Any) -> Any:
            if message == "boom":
                raise ValueError("stage bug")
            return message

        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock, frames=frames(explode)) as ws:
            first.feed("boom")
            assert (await next_of(ws)).reason == "error"
            await clock.advance(1)
            await until(lambda: second.connected)

    async def test_without_acks_sent_means_subscribed(self) -> None:
        """A venue that never acks: subscribe returns once the message is sent."""
        venue = VenueWs(silent=True)
        async with make(venue, dialect=WsDialect(name="test", subscribe=dialect().subscribe)) as ws:
            await ws.subscribe(["a"])
            assert subscribes(venue) == [["a"]]


class TestDelivery:
    async def test_stalled_consumer_keeps_memory_bounded(self) -> None:
        """10k frames against a consumer that never reads: the queue holds 100, the rest are counted drops."""
        metrics = Metrics()
        venue = VenueWs()
        async with make(venue, metrics=metrics, queue_size=100, overflow=Overflow.DROP_OLDEST) as ws:
            venue.feed(*(data("a", n) for n in range(10_000)))
            await until(lambda: ws.stats.messages == 10_000, turns=20_000)
            assert ws.stats.queued == 100
            assert ws.stats.dropped == 9_901
            assert sample(metrics, "lotusx_ws_dropped_messages_total", reason="overflow") == 9_901
            assert isinstance(await next_of(ws), Gap)

    async def test_a_frame_of_many_messages_delivers_each_in_order_across_hand_offs(self) -> None:
        """A frame fanned out into 40 messages (past a hand-off, an ack among them) delivers all 40 in order."""
        venue = VenueWs()

        def split(raw: Any) -> Any:
            loaded = orjson.loads(raw)
            return Many(loaded) if isinstance(loaded, list) else loaded

        async with make(venue, frames=frames(split)) as ws:
            await ws.subscribe(["a"])
            parts: list[Any] = [{"stream": "a", "u": n} for n in range(40)]
            parts.insert(20, {"result": None, "id": 99})  # an ack nobody waits for: consumed, not delivered
            venue.feed(orjson.dumps(parts).decode())
            got = [await next_of(ws) for _ in range(40)]
            assert [m["u"] for m in got] == list(range(40))

    async def test_a_burst_reaches_the_consumer_in_small_batches(self) -> None:
        """200 frames buffered at once are handed over 16 at a time, not decoded all before the first is read."""
        venue = VenueWs()
        async with make(venue) as ws:
            await ws.subscribe(["a"])
            venue.feed(*(data("a", n) for n in range(200)))
            waiting = []
            async for _ in ws:  # awaited directly (through wait_for it takes a few more loop turns)
                waiting.append(ws.stats.queued)
                if len(waiting) == 200:
                    break
            assert max(waiting) < 16
            assert ws.stats.messages == 200

    async def test_the_first_message_after_a_quiet_spell_reaches_a_waiting_consumer_at_once(self) -> None:
        """A burst after a pause: its first message is handed over before the rest is decoded, the rest after."""
        clock, venue, decoded = FakeClock(auto_advance=False), VenueWs(), []

        def parse(raw: Any) -> Any:
            decoded.append(raw)
            return orjson.loads(raw)

        async def first() -> tuple[Any, int]:
            message = await ws.__anext__()  # directly: through wait_for it would take more loop turns
            return message, len(decoded)

        # Declared control types: data messages take the reader's fast path, which yields on a burst.
        declared = dataclasses.replace(dialect(), control_types=frozenset({list}))
        async with make(venue, clock=clock, frames=frames(parse), dialect=declared) as ws:
            consumer = asyncio.create_task(first())
            await quiesce()
            await clock.advance(1)  # quiet: the next frame starts a burst
            venue.feed(*(data("a", n) for n in range(5)))
            message, seen = await asyncio.wait_for(consumer, 2)
            assert message == {"stream": "a", "u": 0}
            assert seen == 1  # frame 0 only
            assert [(await next_of(ws))["u"] for _ in range(4)] == [1, 2, 3, 4]

    async def test_only_declared_control_types_meet_the_matchers(self) -> None:
        """With control_types declared, data messages of other types skip the dialect's matchers."""
        seen: list[Any] = []

        def shutdown(message: Any) -> bool:
            seen.append(message)
            return False

        plain = dialect()
        venue = VenueWs()
        custom = WsDialect(name="test", subscribe=plain.subscribe, ack=plain.ack, shutdown=shutdown,
                           control_types=frozenset({list}))
        async with make(venue, dialect=custom, subscribe_timeout=1) as ws:
            venue.feed(data("a", 1))
            assert await next_of(ws) == {"stream": "a", "u": 1}
            assert seen == []

    async def test_metrics_count_messages_and_bytes(self) -> None:
        """Delivered messages are counted per message type, bytes per exchange, and the last-message time set."""
        clock, metrics = FakeClock(auto_advance=False), Metrics()
        venue = VenueWs()
        async with make(venue, clock=clock, metrics=metrics) as ws:
            venue.feed(data("a", 1))
            await next_of(ws)
            assert sample(metrics, "lotusx_ws_messages_total", stream="dict") == 1
            assert sample(metrics, "lotusx_ws_received_bytes_total") == len(data("a", 1))
            assert sample(metrics, "lotusx_ws_last_message_timestamp_seconds") == clock.time()

    def test_repr_shows_config(self) -> None:
        """repr shows the pipeline, dialect, heartbeat and queue policy."""
        text = repr(ReconnectWs(FakeWs, dialect=dialect()))
        assert "frames(Parse(" in text
        assert "dialect='test'" in text
        assert "overflow=BLOCK" in text


# -- a tiny test venue ------------------------------------------------------------------


def data(stream: str, u: int) -> str:
    return orjson.dumps({"stream": stream, "u": u}).decode()


class ConnectionResetLike(Exception):
    """Stands in for the transport noticing a dead socket."""


class VenueWs(FakeWs):
    """A FakeWs that answers like a Binance-style venue: acks subscribes, optionally pongs."""

    def __init__(self, *, reject: set[str] | None = None, silent: bool = False, answer_pings: bool = False,
                 answer_app_pings: bool = False, reject_login: bool = False, fail_connect: int = 0) -> None:
        super().__init__(fail_connect=fail_connect)
        self.reject = reject or set()
        self.silent = silent
        self.answer_pings = answer_pings
        self.answer_app_pings = answer_app_pings
        self.reject_login = reject_login

    def feed(self, *items: Any) -> None:
        from lotusx.kernel.errors import Disconnected

        super().feed(*(Disconnected("reset") if isinstance(i, ConnectionResetLike) else i for i in items))

    async def send(self, data: str | bytes) -> None:
        await super().send(data)
        message = orjson.loads(data)
        if message.get("op") == "ping" and self.answer_app_pings:
            self.feed('{"op":"pong"}')
        method, request_id = message.get("method"), message.get("id")
        if self.silent or method not in ("SUBSCRIBE", "UNSUBSCRIBE", "LOGIN"):
            return
        if (method == "LOGIN" and self.reject_login) or self.reject & set(message.get("params", ())):
            self.feed(orjson.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": request_id}).decode())
        else:
            self.feed(orjson.dumps({"result": None, "id": request_id}).decode())

    async def ping(self, data: bytes = b"") -> None:
        await super().ping(data)
        if self.answer_pings:
            self.feed(WsFrame.pong(data))


def dialect(*, max_streams: int | None = None, private: bool = False, app_ping: bool = False,
            htx_ping: bool = False, lifetime: float | None = None) -> WsDialect:
    def request(method: str) -> Callable[[Sequence[str], int], str]:
        return lambda streams, rid: orjson.dumps({"method": method, "params": list(streams), "id": rid}).decode()

    def ack(message: Any) -> tuple[int, bool, str | None] | None:
        if isinstance(message, dict) and "id" in message and message["id"] != 0:
            error = message.get("error")
            return message["id"], error is None, error and error["msg"]
        return None

    async def login() -> str:
        return '{"method":"LOGIN","params":[],"id":0}'

    def login_ack(message: Any) -> tuple[bool, str | None] | None:
        if isinstance(message, dict) and message.get("id") == 0:
            return message.get("error") is None, None
        return None

    def identity(message: Any) -> Hashable | None:
        return (message["stream"], message["u"]) if "u" in message else None

    return WsDialect(
        name="test", subscribe=request("SUBSCRIBE"), unsubscribe=request("UNSUBSCRIBE"), ack=ack,
        login=login if private else None, login_ack=login_ack if private else None,
        ping=(lambda: '{"op":"ping"}') if app_ping else None,
        pong=(lambda m: m == {"op": "pong"}) if app_ping else None,
        server_ping=(lambda m: orjson.dumps({"pong": m["ping"]}).decode() if "ping" in m else None)
        if htx_ping else None,
        shutdown=lambda m: m.get("e") == "serverShutdown", identity=identity,
        max_streams=max_streams, lifetime=lifetime,
    )


def make(*sessions: FakeWs, dialect: WsDialect | None = None, clock: FakeClock | None = None,
         **options: Any) -> ReconnectWs:
    queue = list(sessions)

    def factory() -> FakeWs:
        assert queue, "test venue: no more sessions scripted"
        return queue.pop(0)

    options.setdefault("backoff", Backoff(random=lambda: 1.0))
    return ReconnectWs(factory, dialect=dialect or globals()["dialect"](), clock=clock or FakeClock(auto_advance=False),
                       **options)


def subscribes(venue: FakeWs, method: str = "SUBSCRIBE") -> list[list[str]]:
    sent = [orjson.loads(m) for m in venue.sent]
    return [m["params"] for m in sent if m.get("method") == method]


def unsubscribes(venue: FakeWs) -> list[list[str]]:
    return subscribes(venue, "UNSUBSCRIBE")


async def opens_only_after(seconds: float, clock: FakeClock, ws: ReconnectWs, venue: FakeWs) -> None:
    """The next socket (``venue``) opens ``seconds`` after a refusal, not a moment sooner; then the stream resumes."""
    await until(lambda: clock.sleepers > 0)
    await clock.advance(seconds - 1)
    await quiesce()
    assert venue.connects == 0
    await clock.advance(1)
    assert isinstance(await next_of(ws), Resumed)


async def next_of(ws: ReconnectWs) -> Any:
    return await asyncio.wait_for(ws.__anext__(), 2)


async def count_until_error(ws: ReconnectWs) -> tuple[int, Exception]:
    """How many messages the stream gives before it raises, and what it raises."""
    count = 0
    while True:
        try:
            await next_of(ws)
        except Exception as exc:
            return count, exc
        count += 1


async def until(condition: Callable[[], bool], turns: int = 500, msg: Callable[[], object] = str) -> None:
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"condition not reached {msg()}")


async def quiesce(turns: int = 20) -> None:
    """Let every runnable task reach its next wait."""
    for _ in range(turns):
        await asyncio.sleep(0)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, {"exchange": "test", **labels}) or 0.0

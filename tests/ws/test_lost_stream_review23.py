"""A stream the venue refuses to resubscribe after a reconnect is lost alone: a Lost marker, the rest resumes."""

from __future__ import annotations

import dataclasses

import pytest
from structlog.testing import capture_logs

from lotusx.kernel.errors import SubscriptionRejected
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock
from lotusx.ws import Delivery, Gap, Lost, Overflow, ReconnectWs, Resumed
from tests.ws.test_reconnect import (
    VenueWs,
    data,
    dialect,
    make,
    next_of,
    quiesce,
    sample,
    subscribes,
    until,
)

pytestmark = pytest.mark.timeout(30)

SECRET = "s3cr3t-api-key-0123456789"


class TestOneStreamLost:
    async def test_the_other_streams_keep_delivering_after_the_reconnect(self) -> None:
        """One of three streams refused on resubscription: the other two deliver on the new connection."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(reject={"b"})
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a", "b", "c"])
            ws.reconnect("test")
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Lost)
            assert isinstance(await next_of(ws), Resumed)
            second.feed(data("a", 1), data("c", 1))
            assert [(await next_of(ws))["stream"] for _ in range(2)] == ["a", "c"]

    async def test_the_consumer_sees_lost_naming_the_stream_then_resumed(self) -> None:
        """The markers come in order: Gap, Lost (the stream, the venue's text, the shard), Resumed."""
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(reject={"b"})
        async with make(first, second, clock=clock) as ws:
            await ws.subscribe(["a", "b", "c"])
            await reconnect(ws, clock)
            markers = [await next_of(ws) for _ in range(2)]
            assert [type(m) for m in markers] == [Lost, Resumed]
            lost = markers[0]
            assert (lost.stream, lost.venue_message, lost.shard) == ("b", "Invalid request", 0)

    async def test_the_lost_stream_is_gone_from_the_registry(self) -> None:
        """As after an unsubscribe: not held, not carried by a shard, not sent by the next reconnect."""
        clock = FakeClock(auto_advance=False)
        first, second, third = VenueWs(), VenueWs(reject={"b"}), VenueWs()
        async with make(first, second, third, clock=clock) as ws:
            await ws.subscribe(["a", "b", "c"])
            await reconnect(ws, clock)
            assert [type(await next_of(ws)) for _ in range(2)] == [Lost, Resumed]
            assert (ws.stats.streams, ws.shard_of("b")) == (2, None)
            await reconnect(ws, clock)
            assert isinstance(await next_of(ws), Resumed)
            assert subscribes(third) == [["a", "c"]]

    async def test_a_lost_stream_can_be_subscribed_again(self) -> None:
        """Its holders let go: a later subscribe() of it is a first subscribe, refused or not by the venue."""
        clock = FakeClock(auto_advance=False)
        second = VenueWs(reject={"b"})
        async with make(VenueWs(), second, clock=clock) as ws:
            await ws.subscribe(["a", "b"])
            await reconnect(ws, clock)
            assert [type(await next_of(ws)) for _ in range(2)] == [Lost, Resumed]
            with pytest.raises(SubscriptionRejected, match="'b'"):
                await ws.subscribe(["b"])
            second.reject.clear()
            await ws.subscribe(["b"])
            assert ws.stats.streams == 2

    async def test_a_lost_stream_is_counted_and_logged_once_at_warning(self) -> None:
        """ws_lost_streams_total{exchange} counts it; one warning names the stream and the venue's text."""
        clock, metrics = FakeClock(auto_advance=False), Metrics()
        async with make(VenueWs(), VenueWs(reject={"b"}), clock=clock, metrics=metrics) as ws:
            await ws.subscribe(["a", "b", "c"])
            with capture_logs() as logs:
                await reconnect(ws, clock)
                assert [type(await next_of(ws)) for _ in range(2)] == [Lost, Resumed]
            assert sample(metrics, "lotusx_ws_lost_streams_total") == 1
            warned = [log for log in logs if log["log_level"] == "warning" and log.get("stream") == "b"]
            assert [(log["event"], log["error"]) for log in warned] == [("ws stream lost", "Invalid request")]

    async def test_stats_count_the_lost_streams(self) -> None:
        """``ws.stats.lost`` counts each stream lost on a resubscription, as the metric does."""
        clock = FakeClock(auto_advance=False)
        second = VenueWs(reject={"b", "c"})
        async with make(VenueWs(), second, clock=clock) as ws:
            await ws.subscribe(["a", "b", "c"])
            assert ws.stats.lost == 0
            await reconnect(ws, clock)
            assert [type(await next_of(ws)) for _ in range(3)] == [Lost, Lost, Resumed]
            assert (ws.stats.lost, ws.stats.streams) == (2, 1)

    async def test_lost_on_a_private_stream_holds_no_secret(self) -> None:
        """With a login carrying credentials, neither the marker, the error nor a log shows them."""
        private = dataclasses.replace(dialect(private=True), login=_login_with_secret)
        clock = FakeClock(auto_advance=False)
        first, second = VenueWs(), VenueWs(reject={"order", "wallet"})
        async with make(first, second, clock=clock, dialect=private) as ws:
            await ws.subscribe(["order", "wallet", "position"])
            with capture_logs() as logs:
                await reconnect(ws, clock)
                markers = [await next_of(ws) for _ in range(3)]
            assert [type(m) for m in markers] == [Lost, Lost, Resumed]
            shown = [repr(m) for m in markers] + [str(m.rejected()) for m in markers if isinstance(m, Lost)]
            shown += [repr(log) for log in logs]
            assert SECRET in first.sent[0]  # the login did carry it
            assert not [text for text in shown if SECRET in text]


class TestEveryStreamLost:
    async def test_the_stream_ends_with_subscription_rejected(self) -> None:
        """Every stream refused after a reconnect: the Lost markers, then SubscriptionRejected naming them."""
        clock = FakeClock(auto_advance=False)
        async with make(VenueWs(), VenueWs(reject={"a", "b"}), clock=clock) as ws:
            await ws.subscribe(["a", "b"])
            await reconnect(ws, clock)
            assert [type(await next_of(ws)) for _ in range(2)] == [Lost, Lost]
            with pytest.raises(SubscriptionRejected, match=r"'a', 'b'"):
                await next_of(ws)

    async def test_the_last_of_several_shards_losing_its_streams_ends_it(self) -> None:
        """Two shards each losing every stream: the stream ends once nothing is left, not at the first."""
        clock = FakeClock(auto_advance=False)
        venues = [VenueWs(), VenueWs(), VenueWs(reject={"a"}), VenueWs(reject={"b"})]
        async with make(*venues, clock=clock, dialect=dialect(max_streams=1)) as ws:
            await ws.subscribe(["a", "b"])
            ws.reconnect("test")
            assert [type(await next_of(ws)) for _ in range(2)] == [Gap, Gap]
            await clock.advance(1)
            markers = [await next_of(ws) for _ in range(3)]  # the first shard left with nothing resumes empty
            assert sorted(type(m).__name__ for m in markers) == ["Lost", "Lost", "Resumed"]
            with pytest.raises(SubscriptionRejected, match="'b'"):
                await next_of(ws)

    async def test_losing_one_shards_streams_leaves_the_other_shard_delivering(self) -> None:
        """A shard left with nothing to carry ends nothing while another shard still has streams."""
        clock = FakeClock(auto_advance=False)
        venues = [VenueWs(), VenueWs(), VenueWs(reject={"a"}), VenueWs()]
        async with make(*venues, clock=clock, dialect=dialect(max_streams=1)) as ws:
            await ws.subscribe(["a", "b"])
            ws.reconnect("test")
            assert [type(await next_of(ws)) for _ in range(2)] == [Gap, Gap]
            await clock.advance(1)
            markers = [await next_of(ws) for _ in range(3)]
            assert sorted(type(m).__name__ for m in markers) == ["Lost", "Resumed", "Resumed"]
            venues[3].feed(data("b", 1))
            assert await next_of(ws) == {"stream": "b", "u": 1}


class TestLostUnderOverflow:
    async def test_lost_is_never_dropped_under_drop_oldest(self) -> None:
        """A Lost queued before an overflow stays: only data messages make room."""
        delivery = Delivery(3, Overflow.DROP_OLDEST, clock=FakeClock())
        await delivery.put(0)
        await delivery.put(Lost("b", "Invalid symbol", 1.0, 0))
        for n in range(1, 10):
            await delivery.put(n)
        items = [await delivery.get() for _ in range(len(delivery))]
        assert Lost("b", "Invalid symbol", 1.0, 0) in items

    async def test_a_stalled_consumer_still_reads_lost_after_a_reconnect(self) -> None:
        """A reconnect's Lost and Resumed survive a flood into a small DROP_OLDEST queue nobody reads."""
        clock = FakeClock(auto_advance=False)
        second = VenueWs(reject={"b"})
        async with make(VenueWs(), second, clock=clock, queue_size=4, overflow=Overflow.DROP_OLDEST) as ws:
            await ws.subscribe(["a", "b"])
            await reconnect(ws, clock)
            await until(lambda: ws.stats.queued >= 2)  # Lost, Resumed
            second.feed(*(data("a", n) for n in range(50)))
            await quiesce(200)
            seen = []
            while ws.stats.queued:
                seen.append(await next_of(ws))
            assert ws.stats.dropped > 0
            assert [type(m) for m in seen if not isinstance(m, dict)][:2] == [Lost, Resumed]


async def reconnect(ws: ReconnectWs, clock: FakeClock) -> None:
    """Drop the connection, read its Gap, and let the back-off pass: the next connection resubscribes."""
    ws.reconnect("test")
    assert isinstance(await next_of(ws), Gap)
    await clock.advance(1)


async def _login_with_secret() -> str:
    return f'{{"method":"LOGIN","params":["{SECRET}"],"id":0}}'

"""ReconnectWs review 12: back-off after a rotation or refused upgrade, rotation schedule, reconnect mid-rotation."""

from __future__ import annotations

import asyncio

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock, RecordingClock
from lotusx.transport import AiohttpWs
from lotusx.ws import Backoff, Gap, Heartbeat, ReconnectWs, Resumed
from tests.conftest import ServeApp
from tests.ws.test_reconnect import VenueWs, dialect, make, next_of, subscribes, until
from tests.ws.test_upgrade_403_review23 import refuse_first

QUIET = Heartbeat(interval=None, idle_timeout=10_000)


async def test_a_link_lost_soon_after_a_rotation_backs_off_as_after_a_healthy_connection() -> None:
    """The shard was up for longer than healthy_after across a rotation: the back-off starts over."""
    clock = FakeClock(auto_advance=False)
    flaky, successor, last = VenueWs(fail_connect=2), VenueWs(), VenueWs()
    async with make(flaky, flaky, flaky, successor, last, clock=clock, heartbeat=QUIET,
                    dialect=dialect(lifetime=400), rotate_before=300,
                    backoff=Backoff(base=1, cap=64, healthy_after=60, random=lambda: 1.0)):
        for _ in range(2):  # two refused connects: the back-off is at 1, 2
            await until(lambda: clock.sleepers > 0)
            await clock.advance(2)
        await until(lambda: flaky.connected)
        await clock.advance(100)  # rotated onto the successor after 100 s up
        await until(lambda: successor.connected and not flaky.connected)
        await clock.advance(10)
        before = len(clock.slept)
        successor.feed(WsFrame.close(1001))
        await until(lambda: any(s <= 64 for s in clock.slept[before:]))
        assert [s for s in clock.slept[before:] if s <= 64] == [1.0]


@pytest.mark.parametrize("rotate_before", [100.0, 300.0, -1.0, float("nan")])
def test_a_rotation_due_at_once_or_never_before_the_lifetime_is_a_config_error(rotate_before: float) -> None:
    """rotate_before not in [0, lifetime) is refused: it would rotate every turn of the loop, or too late."""
    with pytest.raises(ConfigError, match="rotate_before"):
        make(dialect=dialect(lifetime=100), rotate_before=rotate_before)


async def test_an_upgrade_refused_with_retry_after_is_not_retried_before_it(serve_app: ServeApp) -> None:
    """A 429 on the WebSocket upgrade with Retry-After: 30 makes the shard wait 30 s, not its 0.5 s back-off."""
    app, upgrades = refuse_first({"Retry-After": "30"}, status=429)
    server = await serve_app(app)
    url = str(server.make_url("/ws")).replace("http://", "ws://")
    clock = RecordingClock(speedup=1000)
    async with ReconnectWs(lambda: AiohttpWs(url), clock=clock, heartbeat=QUIET,
                           backoff=Backoff(base=0.5, random=lambda: 1.0)) as ws:
        for _ in range(500):
            if ws.stats.connections:
                break
            await asyncio.sleep(0.01)
        assert (len(upgrades), ws.stats.connections) == (2, 1)
        assert [s for s in clock.slept if s < 1_000] == [30.0]


class SlowToOpen(VenueWs):
    """A venue socket whose connect() waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.opening = asyncio.Event()
        self.release = asyncio.Event()

    async def connect(self) -> None:
        self.opening.set()
        await self.release.wait()
        await super().connect()


async def test_a_reconnect_asked_while_a_rotation_connects_ends_in_a_gap_with_its_reason() -> None:
    """reconnect() while a rotation's new socket is still connecting drops the old link: Gap(reason), then Resumed."""
    old, new = VenueWs(), SlowToOpen()
    async with make(old, new, dialect=dialect()) as ws:
        await ws.subscribe(["a"])
        old.feed('{"e":"serverShutdown"}')
        await asyncio.wait_for(new.opening.wait(), 1)
        ws.reconnect("stream_terminated")  # e.g. Binance's eventStreamTerminated on the old link
        new.release.set()
        gap, resumed = await next_of(ws), await next_of(ws)
        assert (type(gap), gap.reason, type(resumed)) == (Gap, "stream_terminated", Resumed)
        assert subscribes(new) == [["a"]] and not old.connected

"""ReconnectWs review 12: back-off after a rotation, and the rotation schedule."""

from __future__ import annotations

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeClock
from lotusx.ws import Backoff, Heartbeat
from tests.ws.test_reconnect import VenueWs, dialect, make, until

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

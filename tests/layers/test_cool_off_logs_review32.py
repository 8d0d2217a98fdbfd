"""One warning per ban or cool-off, not one per call the venue refused while it began.

Every call in flight when the venue bans the IP comes back 418 (or 429) within milliseconds, each
repeating the same ban: the log must say it once, and again only when the venue lengthens it.
"""

from __future__ import annotations

import structlog

from lotusx.layers import Limiter, Pool
from lotusx.testing import FakeClock


def _events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [event for event in logs if event["event"] == name]


async def test_an_ip_ban_repeated_by_the_calls_in_flight_is_logged_once() -> None:
    """Sixteen 418s of one ban, answered a millisecond apart: one rate_limit.ip_ban warning."""
    clock = FakeClock(1000.0)
    limiter = Limiter([Pool("WEIGHT", 100, 60)], key="ban-once", clock=clock)
    with structlog.testing.capture_logs() as logs:
        for _ in range(16):
            await limiter.cool_off(None, 120.0)
            await clock.advance(0.001)
    assert len(_events(logs, "rate_limit.ip_ban")) == 1


async def test_a_ban_the_venue_lengthens_is_logged_again() -> None:
    """A later 418 saying the ban now lasts far longer (Binance escalates bans) is a new warning."""
    clock = FakeClock(1000.0)
    limiter = Limiter([Pool("WEIGHT", 100, 60)], key="ban-longer", clock=clock)
    with structlog.testing.capture_logs() as logs:
        await limiter.cool_off(None, 120.0)
        await limiter.cool_off(None, 3600.0)
    assert [event["seconds"] for event in _events(logs, "rate_limit.ip_ban")] == [120.0, 3600.0]


async def test_a_cool_off_repeated_by_the_calls_in_flight_is_logged_once() -> None:
    """Eight 429s of one pool's cool-off, a millisecond apart: one rate_limit.cool_off warning."""
    clock = FakeClock(1000.0)
    limiter = Limiter([Pool("WEIGHT", 100, 60)], key="cool-once", clock=clock)
    with structlog.testing.capture_logs() as logs:
        for _ in range(8):
            await limiter.cool_off(["WEIGHT"], 5.0)
            await clock.advance(0.001)
    assert len(_events(logs, "rate_limit.cool_off")) == 1


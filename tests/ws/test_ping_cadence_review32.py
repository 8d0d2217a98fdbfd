"""Pings keep their interval when the pong deadline is longer than it."""

from __future__ import annotations

from lotusx.testing import FakeClock
from lotusx.ws.heartbeat import Heartbeat, Liveness
from tests.ws.test_reconnect import VenueWs, make, until

SLOW_PONG = Heartbeat(interval=5, pong_timeout=10, idle_timeout=60)


def test_the_watch_looks_again_at_the_next_ping_while_a_pong_is_due() -> None:
    """Right after a ping, the watch wakes an interval later, not at the later pong deadline."""
    live = Liveness(SLOW_PONG, now=0)
    live.pinged(5)
    live.left(5)
    assert live.next_check(5) == 5


async def test_a_pong_in_time_leaves_the_next_ping_an_interval_after_the_last() -> None:
    """interval=5, pong_timeout=10, every ping answered at once: pings go at 5, 10 and 15 s, not every 10 s."""
    clock = FakeClock(auto_advance=False)
    venue = VenueWs(answer_pings=True)
    async with make(venue, clock=clock, heartbeat=SLOW_PONG):
        await until(lambda: venue.connected and clock.sleepers == 1)  # the watch waits for its first ping
        pinged_at = []
        for _ in range(3):
            await clock.advance(5)
            await until(lambda: len(venue.pings) > len(pinged_at), msg=lambda: f"{len(venue.pings)} pings")
            pinged_at.append(clock.monotonic())
        assert pinged_at == [5, 10, 15]


def test_past_the_interval_with_the_pong_still_due_the_watch_sleeps_until_the_pong_deadline() -> None:
    """An unanswered ping's interval gone by, the watch waits for the pong deadline rather than spinning."""
    live = Liveness(SLOW_PONG, now=0)
    live.pinged(5)
    live.left(5)
    assert live.next_check(10) == 5

"""Review of the round-11 day's change: defects proven by failing tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from lotusx.kernel.errors import IpBanned
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Heartbeat, Resumed
from lotusx.ws.dialect import LoginAck
from tests.ws.test_reconnect import VenueWs, dialect, make, next_of, quiesce, until


async def test_a_rotation_refused_with_a_retry_after_waits_it_before_the_next_socket() -> None:
    """A rotation whose new login is refused as IpBanned(retry_after=120) reconnects after 120 s, not the back-off."""
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
        await until(lambda: clock.sleepers > 0)
        await clock.advance(119)
        await quiesce()
        assert accepting.connects == 0
        await clock.advance(1)
        assert isinstance(await next_of(ws), Resumed)

"""A stream refused on resubscription is told as Lost even when that connection then fails."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from lotusx.testing import FakeClock
from lotusx.ws import Gap, Lost, ReconnectWs, Resumed
from tests.ws.test_reconnect import VenueWs, make, next_of, quiesce, subscribes, until

pytestmark = pytest.mark.timeout(30)


class StallingVenue(VenueWs):
    """Refuses the streams in ``reject`` and never answers a request for one of ``stall``."""

    def __init__(self, *, reject: set[str], stall: set[str]) -> None:
        super().__init__(reject=reject)
        self.stall = stall

    async def send(self, data: str | bytes) -> None:
        params = set(orjson.loads(data).get("params", ()))
        if params & self.stall and not params & self.reject:
            await super(VenueWs, self).send(data)  # recorded, never answered
            return
        await super().send(data)


async def test_a_refusal_before_an_ack_timeout_is_still_lost() -> None:
    """'b' refused, then 'a' never acked (the connection is given up): the consumer still gets Lost('b')."""
    clock = FakeClock(auto_advance=False)
    third = VenueWs()
    async with make(VenueWs(), StallingVenue(reject={"b"}, stall={"a"}), third, clock=clock) as ws:
        await ws.subscribe(["a", "b"])
        ws.reconnect("test")
        assert isinstance(await next_of(ws), Gap)
        markers = await _markers_until_resumed(ws, clock)
        assert [m.stream for m in markers if isinstance(m, Lost)] == ["b"]
        assert subscribes(third) == [["a"]]


async def _markers_until_resumed(ws: ReconnectWs, clock: FakeClock) -> list[Any]:
    """Advance the clock (back-offs, the ack timeout) until a Resumed comes; every marker before it."""
    seen: list[Any] = []
    for _ in range(20):
        await quiesce()
        while ws.stats.queued:
            seen.append(await next_of(ws))
            if isinstance(seen[-1], Resumed):
                return seen
        await until(lambda: clock.sleepers > 0)
        await clock.advance(11)
    raise AssertionError(f"no Resumed: {seen}")

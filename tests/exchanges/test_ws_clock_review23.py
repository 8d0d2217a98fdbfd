"""A clock injected into ``lotusx.connect`` drives the connector's WebSocket side too.

``ReconnectWs`` stamps its ``Gap``/``Resumed`` markers with its clock and times its acks and
back-offs on it. The connectors read a Gap's time as the local clock's (``gap_start_ms`` adds the
venue offset measured against the injected clock), so the WS side must run on that same clock:
the local one the connector was given, not the venue-corrected ``ServerClock``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import lotusx
from lotusx.sim import SimConfig, serve
from lotusx.testing import RecordingClock
from lotusx.ws import Gap, Resumed

pytestmark = pytest.mark.timeout(60)

AHEAD = 10 * 86_400.0  # the injected clock's wall time ten days ahead of this machine's
BOOKS = {"binance": "btcusdt@depth@100ms", "bybit": "orderbook.50.BTCUSDT"}
QUIET = SimConfig(depth_interval=0.05, driver_rate=0)


class AheadClock(RecordingClock):
    """Real time read ten days ahead: a time stamped by the system clock instead stands out."""

    def time(self) -> float:
        return super().time() + AHEAD


async def marker(messages: AsyncIterator[Any], kind: type[Any]) -> Any:
    for _ in range(1000):  # bounded: the marker comes among the book's updates
        message = await anext(messages)
        if isinstance(message, kind):
            return message
    raise AssertionError(f"no {kind.__name__}")


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_a_stream_gap_and_its_resumption_are_stamped_by_the_injected_clock(venue: str) -> None:
    """A reconnect's Gap and Resumed carry the injected clock's time, not the system clock's."""
    clock = AheadClock()
    async with serve((venue,), seed=1, config=QUIET) as sim, lotusx.connect(
            venue, rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue), clock=clock) as ex:
        await ex.subscribe([BOOKS[venue]])
        ws = ex.stream()
        messages = aiter(ws)
        before = clock.time()
        ws.reconnect("test")
        gap = await marker(messages, Gap)
        resumed = await marker(messages, Resumed)
        after = clock.time()
    assert before <= gap.time <= resumed.time <= after

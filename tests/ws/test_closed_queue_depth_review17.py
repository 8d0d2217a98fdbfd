"""ws_queue_depth counts what a consumer may still take: a closed stream's leftovers are not a backlog."""

from __future__ import annotations

from lotusx.metrics import Metrics
from tests.ws.test_reconnect import VenueWs, data, make, until


def depth(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("lotusx_ws_queue_depth", {"exchange": "test"})


async def test_a_closed_stream_leaves_no_queue_depth_behind() -> None:
    """Closing a stream with messages still queued drops them from the gauge at once, not at the next full GC."""
    metrics, venue = Metrics(), VenueWs()
    ws = make(venue, metrics=metrics)
    async with ws:
        await ws.subscribe(["a"])
        venue.feed(data("a", 1), data("a", 2))
        await until(lambda: ws.stats.queued == 2)
        assert depth(metrics) == 2
    assert depth(metrics) == 0  # ``ws`` is still referenced, as a watcher's generator or a traceback keeps it

"""ws_queue_depth sums every live delivery queue of an exchange."""

from __future__ import annotations

from lotusx.metrics import Metrics
from tests.ws.test_reconnect import VenueWs, data, make, until


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_queue_depth_adds_up_every_stream_of_an_exchange() -> None:
    """Two streams of one exchange with a message waiting each show a queue depth of 2, not the last one's."""
    metrics = Metrics()
    first, second = VenueWs(), VenueWs()
    async with make(first, metrics=metrics) as one, make(second, metrics=metrics) as two:
        await one.subscribe(["a"])
        await two.subscribe(["b"])
        first.feed(data("a", 1))
        second.feed(data("b", 1))
        await until(lambda: one.stats.queued == 1 and two.stats.queued == 1)
        assert value(metrics, "lotusx_ws_queue_depth", exchange="test") == 2

"""Dechunk's half-read messages belong to their connection: a new one (or another shard) starts with none."""

from __future__ import annotations

from typing import Any

import orjson

from lotusx.kernel.ws import WsFrame
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Resumed, frames
from lotusx.ws.dechunk import Dechunk
from tests.ws.test_dechunk import part_of  # parts look like `P|key|index|total|chunk`
from tests.ws.test_reconnect import VenueWs, dialect, make, next_of, quiesce


def parts(key: str, message: dict[str, Any], total: int) -> list[str]:
    text = orjson.dumps(message).decode()
    size = -(-len(text) // total)
    return [f"P|{key}|{n}|{total}|{text[n * size:(n + 1) * size]}" for n in range(total)]


def pipeline(metrics: Metrics) -> Any:
    return frames(Dechunk(part=part_of, metrics=metrics, exchange="test"), orjson.loads)


class TestDechunkPerConnection:
    async def test_a_message_cut_by_a_reconnect_does_not_spoil_the_next_connections_first(self) -> None:
        """The part left by a dead link is gone with it: the new link's message of the same key comes whole."""
        clock, metrics = FakeClock(auto_advance=False), Metrics()
        first, second = VenueWs(), VenueWs()
        async with make(first, second, clock=clock, metrics=metrics, frames=pipeline(metrics)) as ws:
            await ws.subscribe(["a"])
            first.feed(parts("1", {"stream": "a", "u": 1}, 2)[0], WsFrame.close(1001))
            assert isinstance(await next_of(ws), Gap)
            await clock.advance(1)
            assert isinstance(await next_of(ws), Resumed)
            second.feed(*parts("1", {"stream": "a", "u": 2}, 3))
            assert await next_of(ws) == {"stream": "a", "u": 2}
        assert metrics.registry.get_sample_value(
            "lotusx_ws_malformed_frames_total", {"exchange": "test", "reason": "part"}) is None

    async def test_two_shards_reassemble_their_own_parts(self) -> None:
        """Two connections sending parts under the same key at once each deliver their own message whole."""
        metrics = Metrics()
        venues = [VenueWs(), VenueWs()]
        async with make(*venues, dialect=dialect(max_streams=1), metrics=metrics, frames=pipeline(metrics)) as ws:
            await ws.subscribe(["a", "b"])
            a, b = parts("1", {"stream": "a", "u": 1}, 2), parts("1", {"stream": "b", "u": 1}, 3)
            for venue, part in [(0, a[0]), (1, b[0]), (0, a[1]), (1, b[1]), (1, b[2])]:
                venues[venue].feed(part)
                await quiesce()  # each read before the next is sent: the parts interleave
            got = [await next_of(ws), await next_of(ws)]
            assert sorted(m["stream"] for m in got) == ["a", "b"]


class TestFresh:
    def test_fresh_copies_only_the_stages_with_state(self) -> None:
        """Frames.fresh gives a new Dechunk (no parts waiting) and keeps stateless stages as they are."""
        dechunk = Dechunk(part=part_of)
        composed = frames(dechunk, orjson.loads)
        assert composed("P|k|0|2|[1") == []
        copy = composed.fresh()
        assert copy.stages[1] is orjson.loads
        assert copy.stages[0] is not dechunk and copy.stages[0].pending == 0 and dechunk.pending == 1

    def test_fresh_of_stateless_stages_is_the_same_pipeline(self) -> None:
        """Without a stage holding state nothing is copied."""
        composed = frames(orjson.loads)
        assert composed.fresh() is composed

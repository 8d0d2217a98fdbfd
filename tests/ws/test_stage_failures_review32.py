"""A frame stage that fails on what the venue sends on every connection ends the stream with a typed error."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import orjson
import pytest

from lotusx.kernel.errors import StreamError
from lotusx.kernel.ws import WsFrame
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, FakeWs
from lotusx.ws import Backoff, Gap, Heartbeat, Many, ReconnectWs, Resumed, frames
from lotusx.ws.connection import STAGE_FAILURES_TO_END
from lotusx.ws.deflate import Inflate
from lotusx.ws.parse import Parse
from tests.ws.test_reconnect import dialect

SECRET = "s3cr3t-frame-content"


class Venue(FakeWs):
    """Acks every subscribe and, with ``greet``, then sends a message of the new schema (on every connection alike)."""

    def __init__(self, greet: bool = True) -> None:
        super().__init__()
        self.greet = greet

    async def send(self, data: str | bytes) -> None:
        await super().send(data)
        message = orjson.loads(data)
        if message.get("method") == "SUBSCRIBE":
            self.feed(orjson.dumps({"result": None, "id": message["id"]}).decode())
            if self.greet:
                self.feed(NEW)


NEW = orjson.dumps({"stream": "a", "schema": "new", "secret": SECRET}).decode()


def strict(raw: Any) -> Any:
    """A user's parser that knows only the old schema (it fails on the new one)."""
    message = orjson.loads(raw)
    if message.get("schema") == "new":
        raise KeyError(f"unknown field in {raw}")  # the frame's content in its text: never in ours
    return message


def ack_strict(raw: Any) -> Any:
    """A user's parser that fails on the venue's subscribe ack."""
    message = orjson.loads(raw)
    if "result" in message:
        raise TypeError("no such event")
    return message


def stream(venues: list[Venue], clock: FakeClock, *, greet: bool = True, parser: Any = strict,
           **options: Any) -> ReconnectWs:
    """A stream of fresh ``Venue`` connections through ``Inflate`` and ``parser`` (the venue never pings)."""

    def factory() -> Venue:
        venue = Venue(greet)
        venues.append(venue)
        return venue

    options.setdefault("dialect", dialect())
    return ReconnectWs(factory, frames=frames(Inflate(), parser), clock=clock,
                       heartbeat=Heartbeat(interval=None, idle_timeout=10_000),
                       backoff=Backoff(base=0.5, cap=2.0, random=lambda: 1.0), **options)


async def read_until_error(ws: ReconnectWs, clock: FakeClock, limit: int = 12) -> tuple[list[Any], Exception]:
    """What the stream gives (at most ``limit`` items, moving the clock past each back-off) and what it raises."""
    got: list[Any] = []
    for _ in range(limit):
        try:
            item = await asyncio.wait_for(ws.__anext__(), 2)
        except Exception as exc:
            return got, exc
        got.append(item)
        if isinstance(item, Gap):
            await clock.advance(2)
    raise AssertionError(f"the stream never ended: {got}")


async def subscribing(ws: ReconnectWs, clock: FakeClock) -> asyncio.Future[None]:
    """``ws.subscribe(["a"])`` running, the clock moved past each back-off until it ends (10 steps at most)."""
    task = asyncio.ensure_future(ws.subscribe(["a"]))
    for _ in range(10):
        await asyncio.sleep(0)
        if task.done():
            break
        await clock.advance(2)
    return task


class TestStageFailingOnEveryConnection:
    async def test_the_stream_ends_with_a_stream_error_after_k_connections(self) -> None:
        """A stage failing on every connection's first message ends the stream after K gaps, not in a storm."""
        clock, venues = FakeClock(auto_advance=False), []
        async with stream(venues, clock) as ws:
            await ws.subscribe(["a"])
            got, error = await read_until_error(ws, clock)
        assert isinstance(error, StreamError)
        assert len(venues) == STAGE_FAILURES_TO_END  # the last one ends the stream: no reconnect, no Gap
        assert sum(isinstance(item, Gap) for item in got) == STAGE_FAILURES_TO_END - 1

    async def test_the_error_names_the_stage_and_the_exception_type_not_the_frame(self) -> None:
        """The StreamError says which stage raised what, chains the stage's exception, and holds no frame content."""
        clock, venues = FakeClock(auto_advance=False), []
        async with stream(venues, clock) as ws:
            await ws.subscribe(["a"])
            _, error = await read_until_error(ws, clock)
        assert "strict" in str(error) and "KeyError" in str(error)
        assert SECRET not in str(error) and SECRET not in repr(error)
        assert isinstance(error.__cause__, KeyError)

    async def test_a_stage_failing_on_every_subscribe_ack_fails_the_subscribe(self) -> None:
        """A stage that cannot read the venue's ack makes subscribe() raise the StreamError, not wait for ever."""
        clock, venues = FakeClock(auto_advance=False), []
        async with stream(venues, clock, parser=ack_strict) as ws:
            task = await subscribing(ws, clock)
            with pytest.raises(StreamError, match=r"ack_strict.*TypeError"):
                await asyncio.wait_for(task, 2)

    async def test_a_healthy_connection_between_failures_starts_the_count_again(self) -> None:
        """A connection that stayed up past the back-off's healthy_after ends, when its stage fails, in a reconnect."""
        clock, venues = FakeClock(auto_advance=False), []
        async with stream(venues, clock, greet=False) as ws:
            await ws.subscribe(["a"])
            for _ in range(STAGE_FAILURES_TO_END + 1):
                await clock.advance(61)  # healthy (Backoff.healthy_after is 60 s)
                venues[-1].feed(NEW)
                assert isinstance(await asyncio.wait_for(ws.__anext__(), 2), Gap)
                await clock.advance(2)
                assert isinstance(await asyncio.wait_for(ws.__anext__(), 2), Resumed)
            assert len(venues) == STAGE_FAILURES_TO_END + 2

    async def test_a_one_off_failure_between_other_ends_is_only_a_reconnect(self) -> None:
        """A stage failing on one connection, then a plain disconnect, then a failing stage again: still streaming."""
        clock, venues = FakeClock(auto_advance=False), []
        async with stream(venues, clock, greet=False) as ws:
            await ws.subscribe(["a"])
            for n in range(STAGE_FAILURES_TO_END + 1):
                venues[-1].feed(NEW if n % 2 == 0 else WsFrame.close(1000))
                assert isinstance(await asyncio.wait_for(ws.__anext__(), 2), Gap)
                await clock.advance(2)
                assert isinstance(await asyncio.wait_for(ws.__anext__(), 2), Resumed)

    async def test_the_connections_a_failing_stage_ended_are_counted(self) -> None:
        """Each reconnect after a failing stage is in ws_reconnects_total{reason="error"}; the last ends all."""
        clock, venues, metrics = FakeClock(auto_advance=False), [], Metrics()
        async with stream(venues, clock, metrics=metrics) as ws:
            await ws.subscribe(["a"])
            await read_until_error(ws, clock)
        value = metrics.registry.get_sample_value("lotusx_ws_reconnects_total", {"exchange": "test", "reason": "error"})
        assert value == STAGE_FAILURES_TO_END - 1

    async def test_a_dialect_matcher_failing_on_every_ack_ends_the_stream_too(self) -> None:
        """A WsDialect whose ack matcher raises on the venue's every ack ends the stream naming the dialect."""
        def ack(message: Any) -> Any:
            raise AttributeError("no such key")

        clock, venues = FakeClock(auto_advance=False), []
        async with stream(venues, clock, dialect=dataclasses.replace(dialect(), ack=ack)) as ws:
            task = await subscribing(ws, clock)
            with pytest.raises(StreamError, match=r"dialect.*AttributeError") as raised:
                await asyncio.wait_for(task, 2)
        assert isinstance(raised.value.__cause__, AttributeError)

    async def test_run_ends_with_the_stream_error(self) -> None:
        """run(handler) raises the StreamError too, instead of handling Gaps for ever."""
        clock, venues = FakeClock(auto_advance=False), []
        seen: list[Any] = []
        async with stream(venues, clock) as ws:
            await ws.subscribe(["a"])
            runner = asyncio.ensure_future(ws.run(seen.append))
            for _ in range(12):
                await asyncio.sleep(0)
                if runner.done():
                    break
                await clock.advance(2)
            with pytest.raises(StreamError, match="strict"):
                await asyncio.wait_for(runner, 2)


class TestMalformedFramesOfTheVenue:
    async def test_a_malformed_frame_again_and_again_is_skipped_and_ends_nothing(self) -> None:
        """Parse counts a frame that is no JSON and skips it: however often, the link and the stream go on."""
        clock, venues, metrics = FakeClock(auto_advance=False), [], Metrics()
        async with stream(venues, clock, greet=False, parser=Parse(metrics=metrics, exchange="test")) as ws:
            await ws.subscribe(["a"])
            for n in range(STAGE_FAILURES_TO_END + 1):
                venues[-1].feed('{"stream":"a","cut', orjson.dumps({"stream": "a", "u": n}).decode())
                assert await asyncio.wait_for(ws.__anext__(), 2) == {"stream": "a", "u": n}
            assert len(venues) == 1
        assert metrics.registry.get_sample_value("lotusx_ws_malformed_frames_total",
                                                 {"exchange": "test", "reason": "json"}) == STAGE_FAILURES_TO_END + 1


def split(raw: Any) -> Any:
    return Many(raw.split(","))


def refuse_b(part: Any) -> Any:
    if part == "b":
        raise ValueError(part)
    return part


class TestFailedStage:
    @pytest.mark.parametrize("pipeline", [(refuse_b,), (refuse_b, str), (str, split, refuse_b), (split, str, refuse_b)])
    def test_names_the_stage_that_raised(self, pipeline: tuple[Any, ...]) -> None:
        """Asked after a call raised, failed_stage names the raising stage, wherever it sits (after a fan-out too)."""
        composed = frames(*pipeline)
        with pytest.raises(ValueError, match="b"):
            composed.step("b")
        assert composed.failed_stage() == "refuse_b"

    def test_names_a_stage_object_by_its_class_not_its_repr(self) -> None:
        """A stage object is named by its class: its repr may show configuration."""
        composed = frames(Inflate(), Parse())
        with pytest.raises(TypeError):
            composed.step(object())
        assert composed.failed_stage() == "Inflate"

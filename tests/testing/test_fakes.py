"""The shipped test doubles behave as documented."""

from __future__ import annotations

import asyncio

import pytest

from lotusx import ConnectError, Disconnected, Request, Response, WsFrame, WsKind
from lotusx.testing import FakeClock, FakeTransport, FakeWs, ScriptedService

REQ = Request(method="GET", path="/x")


async def test_scripted_service_replays_responses_and_errors_in_order() -> None:
    """Steps are used in order: responses returned, exceptions raised, callables called."""
    error = ConnectError("down")

    async def third(request: Request) -> Response:
        return Response(status=204)

    service = ScriptedService([Response(status=200), error, third])
    assert (await service(REQ)).status == 200
    with pytest.raises(ConnectError):
        await service(REQ)
    assert (await service(REQ)).status == 204
    assert service.remaining == 0 and len(service.requests) == 3


async def test_scripted_service_fails_loudly_past_the_script() -> None:
    """A request beyond the script is an AssertionError, not a silent default."""
    service = ScriptedService([])
    with pytest.raises(AssertionError, match="unexpected request #1"):
        await service(REQ)


async def test_fake_transport_accepts_sync_and_async_handlers() -> None:
    """Handlers may be plain functions or coroutines; requests are recorded."""

    async def handler(request: Request) -> Response:
        return Response(status=201)

    assert (await FakeTransport(lambda r: Response(status=200))(REQ)).status == 200
    transport = FakeTransport(handler)
    assert (await transport(REQ)).status == 201
    assert transport.requests == [REQ]


async def test_a_handler_that_answers_no_response_fails_the_test_saying_so() -> None:
    """A handler without `return` (None) fails at the double, naming the request, not deep in a layer."""

    def forgot(request: Request) -> Response:
        Response(status=200)
        return None  # type: ignore[return-value]

    with pytest.raises(AssertionError, match=r"answered GET /x with NoneType, not a lotusx.Response"):
        await FakeTransport(forgot)(REQ)
    with pytest.raises(AssertionError, match=r"not a lotusx\.Response"):
        await ScriptedService([forgot])(REQ)


async def test_fake_clock_auto_advance_moves_time_on_sleep() -> None:
    """With auto_advance, sleep moves virtual time forward at once and records the delay."""
    clock = FakeClock(start=100.0)
    await clock.sleep(2.5)
    await clock.sleep(-1)
    assert (clock.time(), clock.monotonic(), clock.slept) == (102.5, 2.5, [2.5, 0.0])


async def test_fake_clock_manual_wakes_sleepers_in_deadline_order() -> None:
    """advance() wakes only due sleepers, earliest first."""
    clock = FakeClock(auto_advance=False)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 10)), asyncio.create_task(sleeper("early", 3))]
    await asyncio.sleep(0)
    assert clock.sleepers == 2
    await clock.advance(5)
    assert woke == ["early"] and clock.monotonic() == 5
    await clock.advance(5)
    assert woke == ["early", "late"]
    await asyncio.gather(*tasks)


async def test_fake_ws_replays_frames_and_records_sends() -> None:
    """Queued str/bytes/frames come out in order; sends and control frames are recorded."""
    ws = FakeWs(["a", b"b", WsFrame.ping(b"p")])
    await ws.connect()
    frames = [await ws.next() for _ in range(3)]
    assert [f.kind for f in frames] == [WsKind.TEXT, WsKind.BINARY, WsKind.PING]
    await ws.send("sub")
    await ws.pong(b"p")
    await ws.ping(b"q")
    assert (ws.sent, ws.pongs, ws.pings) == (["sub"], [b"p"], [b"q"])


async def test_fake_ws_close_frame_then_disconnected() -> None:
    """A scripted CLOSE is returned once; later next() raises Disconnected with the code."""
    ws = FakeWs([WsFrame.close(1001)])
    await ws.connect()
    assert (await ws.next()).close_code == 1001
    with pytest.raises(Disconnected) as info:
        await ws.next()
    assert info.value.close_code == 1001


async def test_fake_ws_scripted_errors_and_connect_failures() -> None:
    """fail_connect refuses connects; a queued exception is raised by next()."""
    ws = FakeWs([Disconnected("lost")], fail_connect=1)
    with pytest.raises(ConnectError):
        await ws.connect()
    await ws.connect()
    with pytest.raises(Disconnected, match="lost"):
        await ws.next()
    with pytest.raises(Disconnected):
        await ws.send("x")
    assert ws.connects == 2


async def test_fake_ws_waits_when_quiet_until_fed() -> None:
    """An exhausted script waits instead of ending, until feed() adds a frame."""
    ws = FakeWs()
    await ws.connect()
    pending = asyncio.create_task(ws.next())
    await asyncio.sleep(0)
    assert not pending.done()
    ws.feed("late")
    assert (await pending).data == "late"
    await ws.close()
    assert ws.closed_with == 1000 and "FakeWs" in repr(ws)


async def test_recording_clock_records_requested_sleeps_and_shortens_real_ones() -> None:
    """RecordingClock keeps real time, records what was asked and sleeps speedup times less."""
    import time

    from lotusx.testing import RecordingClock

    clock = RecordingClock(speedup=1000)
    started = time.monotonic()
    await clock.sleep(2.0)
    assert clock.slept == [2.0]
    assert time.monotonic() - started < 1.0  # 2 ms really slept, not 2 s
    assert abs(clock.time() - time.time()) < 1.0 and "speedup=1000" in repr(clock)

"""The replay server: a real WebSocket peer that sends pre-framed depth updates as fast as they go."""

from __future__ import annotations

import gzip
import time

import aiohttp
import orjson
import pytest

from bench import stream
from bench.measure import Server
from bench.server import CYCLE, STAMP, depth_frame
from bench.stream import SUBSCRIBE, url

SERVER = "replay"  # the bench server the `server` fixture (conftest) runs


@pytest.fixture
def replay(server: Server) -> str:
    return str(server.info["ws_url"])


async def received(base: str, mode: str, count: int) -> tuple[object, list[bytes | str], int | None]:
    """The ack, every data frame's payload, and the close code, as aiohttp's client gets them."""
    async with aiohttp.ClientSession() as session, session.ws_connect(
            url(base, mode, count), compress=15 if mode == "deflate" else 0, max_msg_size=0) as ws:
        await ws.send_str(SUBSCRIBE)
        ack = orjson.loads((await ws.receive()).data)
        payloads = [(await ws.receive()).data for _ in range(count)]
        await ws.close()
        return ack, payloads, ws.close_code


@pytest.mark.parametrize("mode", ["plain", "gzip", "deflate"])
async def test_each_mode_sends_the_depth_frames_in_order_after_the_ack(replay: str, mode: str) -> None:
    """Past several write batches, each payload decodes to depth frame n, after the SUBSCRIBE's ack."""
    ack, payloads, _ = await received(replay, mode, 300)
    assert ack == {"result": None, "id": 1}
    texts = [gzip.decompress(p) if isinstance(p, bytes) else p for p in payloads]
    assert [orjson.loads(t) for t in texts] == [orjson.loads(depth_frame(n)) for n in range(300)]


async def test_frames_past_the_cycle_start_it_again(replay: str) -> None:
    """Frame CYCLE is frame 0 again: the cycle is longer than the client's dedup window, not endless."""
    _, payloads, _ = await received(replay, "plain", CYCLE + 1)
    assert orjson.loads(payloads[-1]) == orjson.loads(depth_frame(0))


async def test_the_client_close_is_answered(replay: str) -> None:
    """A close handshake completes with the client's code, so no client waits out its close timeout."""
    _, _, code = await received(replay, "deflate", 1)
    assert code == 1000


async def test_the_servers_cpu_seconds_grow_while_it_sends(server: Server, replay: str) -> None:
    """Server.cpu() reads the server process's own CPU time: the "server busy" column's source."""
    before = server.cpu()
    await received(replay, "gzip", 5000)
    assert server.cpu() > before


@pytest.mark.parametrize("mode", ["plain", "gzip", "deflate"])
async def test_both_of_our_clients_take_every_frame_as_a_typed_depth_update(replay: str, mode: str) -> None:
    """async for and run() each time one arrival per frame; a message other than a DepthUpdate would raise."""
    (read, _, _), _ = await stream.ours(replay, mode, 300)
    pushed, _, _ = await stream.pushed(replay, mode, 300)
    # The sample arrays are allocated full of zeros: a frame never received would leave one.
    assert len(read) == len(pushed) == 300
    assert all(gap > 0 for gap in read) and all(gap > 0 for gap in pushed)


async def test_paced_frames_carry_their_send_time_on_the_shared_monotonic_clock(replay: str) -> None:
    """With burst=.., frames come BURST at a time, each stamped STAMP + CLOCK_MONOTONIC ns when written."""
    before = time.monotonic_ns()
    async with aiohttp.ClientSession() as session, session.ws_connect(stream.paced_url(replay, 24)) as ws:
        await ws.send_str(SUBSCRIBE)
        await ws.receive()
        frames = [orjson.loads((await ws.receive()).data) for _ in range(24)]
    after = time.monotonic_ns()
    sent = [frame["data"]["E"] - STAMP for frame in frames]
    assert all(before <= t <= after for t in sent)
    assert len(set(sent)) == 24 // stream.BURST  # one stamp per burst
    assert sorted(sent) == sent
    for n, frame in enumerate(frames):
        frame["data"]["E"] = orjson.loads(depth_frame(n))["data"]["E"]
        assert frame == orjson.loads(depth_frame(n))


async def test_each_latency_client_times_every_frame_after_the_first_burst(replay: str) -> None:
    """Floor, async for and run() each give one latency per frame past the first burst, each under a second."""
    for client in (stream.floor_latency, stream.ours_latency, stream.pushed_latency):
        samples, _, _ = await client(replay, 40)
        assert len(samples) == 40 - stream.SKIP
        assert all(0 < sample < 1 for sample in samples)

"""Instructions per WebSocket frame: lotusx ``async for``, ``run(handler)`` and the floor, counted by callgrind.

The WS ratios of ``make bench`` move with the shared machine's load; the instructions spent on
a frame do not. This runs the replay server (``python -m bench.server replay``) in its own
process and reads N Binance depth frames (20+20 levels) three ways on one event loop, each on
its own connection after a warm-up of ``WARMUP`` frames on it: lotusx's stream (``bench.stream``'s
``ReconnectWs`` with the connector's frame stages, typed ``DepthUpdate``s with exact levels)
read with ``async for``, the same pushed to a handler by ``ReconnectWs.run``, and the floor
(``ws.receive()`` + one msgspec decode into a Struct with ``str`` prices, as ``bench.stream.floor``).
Each counted section runs inside its own ``operator.call``, so callgrind counts just those::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --dump-after=_operator_call \\
        --callgrind-out-file=/tmp/cg.%p python -m bench.callgrind_frames 20000 --mode plain

One dump per section, in the order printed (``/tmp/cg.<pid>.1`` lotusx, ``.2`` run(), ``.3``
floor); each ``summary:`` line over N is instructions per frame (``--only`` counts one). Each
reader does the same per-message work (a clock read, a type check, a count). Without valgrind
it just prints the wall times. Only this process is counted: the server's CPU is not.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import operator
import time
import zlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import structlog

from bench.measure import server
from bench.stream import STREAM, SUBSCRIBE, FloorFrame, _check, _stream, url
from lotusx.exchanges.binance.schemas import DepthUpdate
from lotusx.ws import ReconnectWs

WARMUP = 2000
CLIENTS = ("lotusx", "run", "floor")


class Ticks:
    """A clock whose monotonic time moves 1 us a read (wall time and sleep are real).

    The reader yields to the consumer when a frame comes more than 100 us after the one before
    (``connection._BURST_GAP``): a wall-clock rule. Under valgrind, 50 times slower, every frame
    would pass for the first of a burst and cost a task switch, which at full speed a flood never
    does; so the counted stream reads this clock instead, one C call a read like the real one.
    """

    def __init__(self) -> None:
        self.time = time.time
        self.monotonic = itertools.count(time.monotonic(), 1e-6).__next__

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def read(ws: ReconnectWs, count: int) -> Any:
    """``count`` messages read with ``async for``; the last one."""
    clock, received = time.perf_counter, 0
    async for message in ws:
        clock()
        _check(message)
        received += 1
        if received == count:
            return message
    raise RuntimeError("the stream ended early")


async def push(ws: ReconnectWs, count: int) -> Any:
    """``count`` messages pushed to a handler by ``ws.run``; the last one. The push stops by a cancel
    (a handler's exception would close the stream inside the counted section)."""
    clock, received = time.perf_counter, 0
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def handle(message: Any) -> None:
        nonlocal received
        clock()
        _check(message)
        received += 1
        if received == count:
            done.set_result(message)

    running = asyncio.ensure_future(ws.run(handle))
    await asyncio.wait({done, running}, return_when=asyncio.FIRST_COMPLETED)
    running.cancel()
    await asyncio.wait({running})
    return done.result()


class Floor:
    """``bench.stream.floor``'s loop, split so its warm-up is not counted."""

    def __init__(self, mode: str) -> None:
        self.gzip = mode == "gzip"
        self.compress = 15 if mode == "deflate" else 0
        self.decode = msgspec.json.Decoder(FloorFrame).decode
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def open(self, address: str) -> None:
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(address, compress=self.compress, max_msg_size=0)
        await self.ws.send_str(SUBSCRIBE)
        await self.ws.receive()  # the ack

    async def read(self, count: int) -> Any:
        assert self.ws is not None
        receive, decode, gzip, clock = self.ws.receive, self.decode, self.gzip, time.perf_counter
        for _ in range(count):
            data = (await receive()).data
            frame = decode(zlib.decompress(data, 31) if gzip else data)
            clock()
            if type(frame) is not FloorFrame:
                raise RuntimeError(f"unexpected message {type(frame).__name__}")
        return frame

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()


def counted(loop: asyncio.AbstractEventLoop, name: str, section: Awaitable[Any], n: int) -> Any:
    """Run ``section`` as the counted part (callgrind collects only inside ``operator.call``)."""
    start = time.perf_counter()
    last = operator.call(loop.run_until_complete, section)
    print(f"{name}: {n} frames in {time.perf_counter() - start:.2f} s", flush=True)
    return last


def ours(loop: asyncio.AbstractEventLoop, base: str, mode: str, n: int,
         read_n: Callable[[ReconnectWs, int], Awaitable[Any]], name: str) -> None:
    ws = _stream(url(base, mode, WARMUP + n), mode, Ticks())
    loop.run_until_complete(ws.__aenter__())
    try:
        loop.run_until_complete(ws.subscribe([STREAM]))
        loop.run_until_complete(read(ws, WARMUP))
        message = counted(loop, name, read_n(ws, n), n)
        assert type(message) is DepthUpdate and message.bids[0][0] == Decimal(message.b[0][0]), "exact levels"
    finally:
        loop.run_until_complete(ws.close())


def floor(loop: asyncio.AbstractEventLoop, base: str, mode: str, n: int) -> None:
    client = Floor(mode)
    try:
        loop.run_until_complete(client.open(url(base, mode, WARMUP + n)))
        loop.run_until_complete(client.read(WARMUP))
        frame = counted(loop, "floor", client.read(n), n)
        assert frame.data.s == "BTCUSDT"
    finally:
        loop.run_until_complete(client.close())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind_frames")
    parser.add_argument("n", type=int, nargs="?", default=20_000, help="frames per client in the counted section")
    parser.add_argument("--mode", choices=("plain", "gzip", "deflate"), default="plain")
    parser.add_argument("--only", choices=CLIENTS, help="count one client only")
    args = parser.parse_args()
    # As bench/__main__.py runs it: log events filtered at WARNING.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        cache_logger_on_first_use=True)
    loop = asyncio.new_event_loop()
    try:
        with server("replay") as replay:
            base = replay.info["ws_url"]
            for client in CLIENTS:
                if args.only not in (None, client):
                    continue
                if client == "floor":
                    floor(loop, base, args.mode, args.n)
                else:
                    ours(loop, base, args.mode, args.n, read if client == "lotusx" else push, client)
    finally:
        loop.close()


if __name__ == "__main__":
    main()

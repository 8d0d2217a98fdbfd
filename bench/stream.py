"""Streams: the WebSocket frame pipeline vs a bare aiohttp + msgspec loop, and the maintained book.

Both WS clients read the same replay server process (``bench.server replay``): after the
SUBSCRIBE ack it sends ``count`` Binance combined-stream depth frames (20+20 levels) as
fast as the socket takes them, as text, gzip binary frames or over permessage-deflate.

- ours: ``ReconnectWs(AiohttpWs)`` with the Binance connector's own frame stages
  (``market_frames``: each frame to the event its stream names), ``Inflate`` first for
  gzip. The events are the connector's typed ``DepthUpdate``s, whose ``bids``/``asks`` are
  exact levels (:class:`lotusx.ws.Levels`, Decimal on access). Heartbeat watchdog, bounded
  delivery queue and dedup all run. Read two ways: ``async for`` (client ``lotusx``) and
  pushed to a plain function by ``ReconnectWs.run`` (client ``lotusx run()``), each doing
  the same per-message work (a timestamp, a type check, a count).
- floor: one ``ws_connect``, ``await ws.receive()``, ``zlib.decompress`` for gzip, one
  msgspec decode into a Struct with ``str`` prices. Nothing else.

Instructions per frame of all three, counted by callgrind: ``python -m bench.callgrind_frames`` (usage there).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from array import array
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import orjson

from bench.measure import Result, Rounds, rss_bytes, summarize
from bench.server import STAMP
from lotusx.book import BookEvent, DiffSync, readable
from lotusx.exchanges.binance.schemas import DepthUpdate
from lotusx.exchanges.binance.streams import DIALECT, market_frames
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.metrics import Metrics
from lotusx.models import OrderBook
from lotusx.transport import AiohttpWs
from lotusx.ws import Heartbeat, Inflate, ReconnectWs, frames

STREAM = "btcusdt@depth@100ms"
PUSHED = "lotusx run()"  # the client name of ours pushed to a handler
SUBSCRIBE = orjson.dumps({"method": "SUBSCRIBE", "params": [STREAM], "id": 1}).decode()


class FloorDepth(msgspec.Struct, gc=False):
    e: str
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class FloorFrame(msgspec.Struct, gc=False):
    stream: str
    data: FloorDepth


def url(base: str, mode: str, count: int) -> str:
    """The replay URL for ``count`` frames in ``mode``."""
    return f"{base}/stream?mode={mode}&count={count}"


Timed = tuple[list[float], float, float]
"""Per-message seconds between arrivals, then wall and CPU seconds in all."""


def _stream(address: str, mode: str, clock: Clock = SYSTEM_CLOCK) -> ReconnectWs:
    """Our stream of the replayed frames at ``address`` in ``mode``, with the Binance connector's frame stages."""
    metrics = Metrics()
    pipeline = frames(Inflate(metrics=metrics) if mode == "gzip" else None, market_frames(metrics))
    return ReconnectWs(lambda: AiohttpWs(address, compress=15 if mode == "deflate" else 0), frames=pipeline,
                       dialect=DIALECT, heartbeat=Heartbeat(interval=None, answer_pings=False, idle_timeout=60.0),
                       metrics=metrics, clock=clock)


def _check(message: Any) -> None:
    if type(message) is not DepthUpdate:
        raise RuntimeError(f"unexpected message {type(message).__name__}")


async def ours(base: str, mode: str, count: int, rss_every: int = 0) -> tuple[Timed, list[int]]:
    """Our pipeline over ``count`` frames read with ``async for``; also RSS samples every ``rss_every`` messages."""
    # Preallocated raw doubles: a growing list of floats would itself show up as RSS growth.
    samples = array("d", bytes(8 * count))
    rss: list[int] = []
    async with _stream(url(base, mode, count), mode) as ws:
        await ws.subscribe([STREAM])
        clock = time.perf_counter
        cpu0 = time.process_time()
        start = last = clock()
        received = 0
        async for message in ws:
            now = clock()
            samples[received] = now - last
            last = now
            _check(message)
            received += 1
            if rss_every and received % rss_every == 0:
                rss.append(rss_bytes())
            if received == count:
                break
        wall, cpu = clock() - start, time.process_time() - cpu0
        assert message.bids[0][0] == Decimal(message.b[0][0]), "exact levels"
    return (samples.tolist(), wall, cpu), rss


async def pushed(base: str, mode: str, count: int) -> Timed:
    """Our pipeline over ``count`` frames pushed to a handler (``ReconnectWs.run``): the same per-message work."""
    samples = array("d", bytes(8 * count))
    last_message: list[DepthUpdate] = []
    clock = time.perf_counter
    received = 0
    last = clock()

    def handle(message: Any) -> None:
        nonlocal last, received
        now = clock()
        samples[received] = now - last
        last = now
        _check(message)
        received += 1
        if received == count:
            last_message.append(message)
            raise _Enough

    async with _stream(url(base, mode, count), mode) as ws:
        await ws.subscribe([STREAM])
        last = clock()
        wall, cpu = await _push_until(ws, handle)
        message = last_message[0]
        assert message.bids[0][0] == Decimal(message.b[0][0]), "exact levels"
    return samples.tolist(), wall, cpu


async def floor(base: str, mode: str, count: int) -> Timed:
    """The bare aiohttp + msgspec receive loop over ``count`` frames."""
    decode = msgspec.json.Decoder(FloorFrame).decode
    samples: list[float] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(
            url(base, mode, count), compress=15 if mode == "deflate" else 0, max_msg_size=0) as ws:
        await ws.send_str(SUBSCRIBE)
        await ws.receive()  # the ack
        clock = time.perf_counter
        cpu0 = time.process_time()
        start = last = clock()
        for _ in range(count):
            message = await ws.receive()
            data = message.data
            frame = decode(zlib.decompress(data, 31) if mode == "gzip" else data)
            now = clock()
            samples.append(now - last)
            last = now
        wall, cpu = clock() - start, time.process_time() - cpu0
        assert frame.data.s == "BTCUSDT"
    return samples, wall, cpu


# ===== the maintained book =====

def book_events(count: int) -> list[BookEvent]:
    """``count`` Binance-style 20+20-level diffs near the top of the book, some levels removed."""
    events = []
    for n in range(count):
        bids = [(f"{49990 + (n + i) % 40 * 0.25:.2f}", "0" if (n + i) % 11 == 0 else f"{1 + i % 5}.{n % 1000:03d}")
                for i in range(20)]
        asks = [(f"{50010 + (n + i) % 40 * 0.25:.2f}", "0" if (n + i) % 13 == 0 else f"0.{(n + i) % 9 + 1}5")
                for i in range(20)]
        events.append(BookEvent(n + 1, n + 1, bids, asks, 1_700_000_000_000 + n))
    return events


def snapshot() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A 1000-level snapshot (strings, as REST returns them)."""
    return ([(f"{49999.75 - i * 0.25:.2f}", "1.00000000") for i in range(1000)],
            [(f"{50000.25 + i * 0.25:.2f}", "1.00000000") for i in range(1000)])


def book_ours(events: list[BookEvent]) -> Result:
    """DiffSync + LocalBook: sequence checks and exact levels, per update."""
    sync = DiffSync("BTCUSDT")
    bids, asks = snapshot()
    sync.on_snapshot(bids, asks, 0)
    return _time_book("book", "lotusx", sync.on_event, events, lambda outcome: outcome == "applied")


def book_read(events: list[BookEvent]) -> Result:
    """DiffSync + LocalBook read as ``watch_order_book(depth=20)`` reads it: the top 20 after every diff.

    No floor: a dict-only book has no price order to read the top from.
    """
    sync = DiffSync("BTCUSDT")
    bids, asks = snapshot()
    sync.on_snapshot(bids, asks, 0)

    def apply(event: BookEvent) -> object:
        return sync.on_event(event) == "applied" and readable(sync, 20)

    return _time_book("book + view(20)", "lotusx", apply, events, lambda outcome: isinstance(outcome, OrderBook))


def book_floor(events: list[BookEvent]) -> Result:
    """The least an exact book can do: Decimal-keyed dicts, price keys reused, no sequence checks."""
    bids, asks = ({Decimal(p): Decimal(q) for p, q in side} for side in snapshot())
    keys: dict[str, Decimal] = {}

    def apply(event: BookEvent) -> None:
        for side, levels in ((bids, event.bids), (asks, event.asks)):
            for price, quantity in levels:
                key = keys.get(price)
                if key is None:
                    key = keys[price] = Decimal(price)
                qty = Decimal(quantity)
                if qty:
                    side[key] = qty
                else:
                    side.pop(key, None)

    return _time_book("book", "floor", apply, events, lambda outcome: True)


def _time_book(case: str, client: str, apply: Any, events: list[BookEvent], ok: Any) -> Result:
    samples: list[float] = []
    clock = time.perf_counter
    cpu0, start = time.process_time(), clock()
    for event in events:
        began = clock()
        outcome = apply(event)
        samples.append(clock() - began)
        if not ok(outcome):
            raise RuntimeError(f"{client} book: {outcome!r}")
    wall, cpu = clock() - start, time.process_time() - cpu0
    return summarize(case, client, samples, wall, cpu, len(events))


# ===== latency: paced frames stamped by the server =====

LATENCY = "ws latency"  # the case; its median and p99 are send-to-consumer latencies
BURST, EVERY_US = 8, 1_000  # ~8 k frames/s in bursts: well under every client's capacity
SKIP = BURST  # the first burst meets a cold connection


def paced_url(base: str, count: int) -> str:
    """The replay URL for ``count`` plain frames, ``BURST`` every ``EVERY_US``, stamped when sent."""
    return f"{url(base, 'plain', count)}&burst={BURST}&every_us={EVERY_US}"


def _since_sent(event_time: int) -> float:
    """Seconds since the server stamped a frame (same CLOCK_MONOTONIC: see ``bench.server.STAMP``)."""
    return (time.monotonic_ns() - (event_time - STAMP)) / 1e9


async def floor_latency(base: str, count: int) -> Timed:
    """The bare loop on paced frames: per frame, the time from the server's write to the decoded frame."""
    decode = msgspec.json.Decoder(FloorFrame).decode
    samples: list[float] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(paced_url(base, count), max_msg_size=0) as ws:
        await ws.send_str(SUBSCRIBE)
        await ws.receive()  # the ack
        cpu0, start = time.process_time(), time.perf_counter()
        for _ in range(count):
            samples.append(_since_sent(decode((await ws.receive()).data).data.E))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return samples[SKIP:], wall, cpu


class _Enough(Exception):
    """A handler's way to say it has all the messages it wants (it ends ``run()``, or the loop).

    It carries the wall and CPU clocks of that moment: ``run()`` then closes the stream (a
    handler's exception does), which is no part of what is timed.
    """

    def __init__(self) -> None:
        super().__init__(time.perf_counter(), time.process_time())

    def since(self, wall0: float, cpu0: float) -> tuple[float, float]:
        """Wall and CPU seconds from ``wall0``/``cpu0`` to when it was raised."""
        return self.args[0] - wall0, self.args[1] - cpu0


Consume = Callable[[ReconnectWs, Callable[[Any], None]], Awaitable[tuple[float, float]]]


async def _latency(base: str, count: int, consume: Consume) -> Timed:
    """Ours on paced frames, read by ``consume``: per message, the time from the server's write to it."""
    samples: list[float] = []

    def handle(message: Any) -> None:
        samples.append(_since_sent(message.E))
        if len(samples) == count:
            raise _Enough

    async with _stream(paced_url(base, count), "plain") as ws:
        await ws.subscribe([STREAM])
        wall, cpu = await consume(ws, handle)
    return samples[SKIP:], wall, cpu


async def _read_until(ws: ReconnectWs, handle: Callable[[Any], None]) -> tuple[float, float]:
    """``async for`` until ``handle`` raises ``_Enough``: wall and CPU seconds until then."""
    start, cpu0 = time.perf_counter(), time.process_time()
    try:
        async for message in ws:
            handle(message)
    except _Enough as enough:
        return enough.since(start, cpu0)
    raise RuntimeError("the stream ended early")


async def _push_until(ws: ReconnectWs, handle: Callable[[Any], None]) -> tuple[float, float]:
    """``ws.run(handle)`` until ``handle`` raises ``_Enough`` (any other end is raised): seconds until then."""
    start, cpu0 = time.perf_counter(), time.process_time()
    try:
        await ws.run(handle)
    except _Enough as enough:
        return enough.since(start, cpu0)
    raise RuntimeError("the stream ended early")


async def ours_latency(base: str, count: int) -> Timed:
    """``async for`` on paced frames: per message, the time from the server's write to the consumer."""
    return await _latency(base, count, _read_until)


async def pushed_latency(base: str, count: int) -> Timed:
    """``run(handler)`` on paced frames: per message, the time from the server's write to the handler."""
    return await _latency(base, count, _push_until)


def run_latency(base: str, count: int, rounds: int, server_cpu: Callable[[], float]) -> list[Result]:
    """``rounds`` rounds of ``count`` paced frames for the floor, ``async for`` and ``run()``."""
    return _rounds(LATENCY, {"floor": lambda: floor_latency(base, count), "lotusx": lambda: ours_latency(base, count),
                             PUSHED: lambda: pushed_latency(base, count)}, rounds, server_cpu)


def run_ws(base: str, mode: str, count: int, rounds: int, server_cpu: Callable[[], float]) -> list[Result]:
    """``rounds`` rounds of ``count`` frames each: the floor, ours read with ``async for`` and ours
    pushed (``run``) side by side, each on a fresh connection, in reverse order every other
    round; every round pooled. ``server_cpu`` reads the replay server's CPU seconds (see
    :meth:`bench.measure.Server.cpu`)."""
    return _rounds(f"ws {mode}", {"floor": lambda: floor(base, mode, count),
                                  "lotusx": lambda: _timed(ours(base, mode, count)),
                                  PUSHED: lambda: pushed(base, mode, count)}, rounds, server_cpu)


def _rounds(case: str, clients: dict[str, Callable[[], Awaitable[Timed]]], rounds: int,
            server_cpu: Callable[[], float]) -> list[Result]:
    """Each client once a round, in reverse order every other round, each pooled over the rounds."""
    pooled = {client: Rounds(case, client) for client in clients}
    for round_ in range(rounds):
        for client in list(clients)[::-1 if round_ % 2 else 1]:
            before = server_cpu()
            timed = asyncio.run(clients[client]())
            pooled[client].add(*timed, server_cpu() - before)
    return [rounds_.result() for rounds_ in pooled.values()]


async def _timed(run: Awaitable[tuple[Timed, list[int]]]) -> Timed:
    return (await run)[0]

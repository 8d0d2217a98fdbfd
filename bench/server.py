"""The benchmark's server process: the sim (Binance dialect) or a WebSocket replay server.

    python -m bench.server sim [--core N]      # prints one JSON line: rest/ws URLs and the sim's keys
    python -m bench.server replay [--core N]   # prints one JSON line: the replay server's ws URL
    python -m bench.server canned [--core N]   # prints one JSON line: the canned REST server's URL, the sim's keys

It runs in its own process, pinned to its own core when the machine has two, so the client's
figures never include the server's CPU. It stops when its stdin closes (the parent died or
finished). On the sim, a ``cancel`` line on stdin cancels every resting bench order, outside
the client's timed sections, and answers ``ok``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import hashlib
import sys
import time
import zlib
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import orjson

from bench.measure import MARK, pin
from lotusx.sim import Limits, SimConfig, serve
from lotusx.sim.venue import MAKER, USER

HUGE = 10**9
# Limits high enough that the bench never meets them: we measure the client, not the venue's throttle.
CONFIG = SimConfig(limits=Limits(request_weight=HUGE, orders_10s=HUGE, orders_1d=HUGE), driver_rate=0.0)
LEVELS = 150  # per side, so a 100-level depth call is full
STREAM = "btcusdt@depth@100ms"
CYCLE = 10_000  # distinct frames per replay; more than ReconnectWs's dedup window (8192)


def seed_book(engine: object) -> None:
    """Rest LEVELS maker levels each side around the mid, and fund the user generously."""
    from lotusx.sim.engine import Engine

    assert isinstance(engine, Engine)
    book = engine.books["BTCUSDT"]
    market = book.market
    engine.deposit(MAKER, "BTC", Decimal(HUGE))
    engine.deposit(MAKER, "USDT", Decimal(HUGE) * 100)
    engine.deposit(USER, "BTC", Decimal(HUGE))
    engine.deposit(USER, "USDT", Decimal(HUGE) * 100)
    have = {"BUY": len(book.bids), "SELL": len(book.asks)}
    for side, sign in (("BUY", -1), ("SELL", 1)):
        for level in range(LEVELS - have[side]):
            price = market.mid + sign * (Decimal("10") + market.tick * (level + 1))
            engine.place(MAKER, "BTCUSDT", side, "LIMIT", quantity=Decimal("0.5") + market.step * level, price=price)
    book.flush()


async def read_line(loop: asyncio.AbstractEventLoop) -> str:
    """One stdin line without blocking the loop ("" at EOF)."""
    return await loop.run_in_executor(None, sys.stdin.readline)


async def run_sim() -> None:
    async with serve(("binance",), seed=7, config=CONFIG) as sim:
        engine = sim.engine("binance")
        seed_book(engine)
        keys = sim.api_keys("binance")
        print(MARK + orjson.dumps({"rest_url": sim.rest_url("binance"), "ws_url": sim.ws_url("binance"),
                            "api_key": keys.hmac_key, "secret": keys.hmac_secret}).decode(), flush=True)
        loop = asyncio.get_running_loop()
        while line := await read_line(loop):
            if line.strip() == "cancel":
                for order in engine.open_orders(USER):
                    engine.cancel(USER, order.symbol, order.order_id)
                engine.books["BTCUSDT"].flush()
                print(MARK + "ok", flush=True)


async def run_canned() -> None:
    from bench import canned

    async with serve(("binance",), seed=7, config=CONFIG) as sim:
        seed_book(sim.engine("binance"))
        keys = sim.api_keys("binance")
        rest = sim.rest_url("binance")
        server, session = await canned.start(rest, keys.hmac_key, keys.hmac_secret)
        try:
            print(MARK + orjson.dumps(canned.info(server, {"api_key": keys.hmac_key, "secret": keys.hmac_secret}))
                  .decode(), flush=True)
            await read_line(asyncio.get_running_loop())
        finally:
            server.close()
            await session.close()


def depth_frame(n: int, event_time: int | None = None) -> bytes:
    """Combined-stream depth update ``n``: 20+20 levels, distinct update ids."""
    return orjson.dumps({"stream": STREAM, "data": {
        "e": "depthUpdate", "E": 1_700_000_000_000 + n if event_time is None else event_time, "s": "BTCUSDT",
        "U": 2 * n + 1, "u": 2 * n + 2,
        "b": [[f"{50000 - i}.{n % 100:02d}", f"{1 + (n + i) % 7}.23400000"] for i in range(20)],
        "a": [[f"{50001 + i}.{n % 100:02d}", f"0.{(n + i) % 9 + 1}0000000"] for i in range(20)]}})


# The replay server writes pre-framed bytes straight to the socket, many frames per write: it
# must never be what paces the client. (Through aiohttp's per-frame send it was: with the floor
# reading, the server's core was 64-94 % busy, and the floor's rate was partly the server's.)
# The WebSocket framing it needs is small: RFC 6455 (handshake, frame header, client masking)
# and RFC 7692 (permessage-deflate: each message compressed on its own, trailer stripped).
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_BATCH = 64  # frames per write: ~100 KB plain, so the kernel's socket buffer stays full


def ws_frame(opcode: int, payload: bytes, *, compressed: bool = False) -> bytes:
    """One unmasked, final server frame (RSV1 marks a permessage-deflate message)."""
    head = 0x80 | opcode | (0x40 if compressed else 0)
    size = len(payload)
    if size < 126:
        return bytes((head, size)) + payload
    if size < 1 << 16:
        return bytes((head, 126)) + size.to_bytes(2, "big") + payload
    return bytes((head, 127)) + size.to_bytes(8, "big") + payload


def deflated(message: bytes) -> bytes:
    """``message`` as a permessage-deflate payload needing no earlier message (no context takeover)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (packer.compress(message) + packer.flush(zlib.Z_SYNC_FLUSH))[:-4]


# Paced frames (``burst=..``) carry the server's send time as their event time: STAMP plus
# CLOCK_MONOTONIC in ns, which every process on the machine reads alike. The offset keeps it 19
# digits (JSON allows no leading zeros), so each frame's time is patched into a template.
STAMP = 10**18


def stamped(n: int) -> tuple[bytes, int]:
    """Depth frame ``n`` with a placeholder event time, and where its 19 digits start."""
    raw = depth_frame(n, STAMP)
    return raw, raw.index(b'"E":%d' % STAMP) + 4


def wire_frames(raw: list[bytes]) -> dict[str, list[bytes]]:
    """Each depth frame as the bytes on the wire, per mode."""
    return {"plain": [ws_frame(0x1, r) for r in raw],
            "gzip": [ws_frame(0x2, gzip.compress(r, 6)) for r in raw],
            "deflate": [ws_frame(0x1, deflated(r), compressed=True) for r in raw]}


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One client frame: opcode and unmasked payload (a permessage-deflate one inflated)."""
    head, second = await reader.readexactly(2)
    size = second & 0x7F
    if size >= 126:
        size = int.from_bytes(await reader.readexactly(2 if size == 126 else 8), "big")
    mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(size)))
    if head & 0x40:
        body = zlib.decompressobj(-15).decompress(body + b"\x00\x00\xff\xff")
    return head & 0x0F, body


async def flood(wire: list[bytes], count: int, writer: asyncio.StreamWriter) -> None:
    """``count`` pre-framed frames, ``_BATCH`` a write, as fast as the socket takes them."""
    for start in range(0, count, _BATCH):
        writer.write(b"".join(wire[n % CYCLE] for n in range(start, min(count, start + _BATCH))))
        await writer.drain()


async def paced(templates: list[tuple[bytes, int]], count: int, burst: int, every: float,
                writer: asyncio.StreamWriter) -> None:
    """``count`` plain frames, ``burst`` at a time every ``every`` seconds, each stamped when written."""
    for start in range(0, count, burst):
        digits = b"%d" % (STAMP + time.monotonic_ns())
        out = []
        for n in range(start, min(count, start + burst)):
            raw, at = templates[n % CYCLE]
            out.append(ws_frame(0x1, raw[:at] + digits + raw[at + len(digits):]))
        writer.write(b"".join(out))
        await writer.drain()
        await asyncio.sleep(every)


async def replay(frames: dict[str, list[bytes]], templates: list[tuple[bytes, int]], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    """GET /stream?mode=..&count=..[&burst=..&every_us=..]: the handshake, the SUBSCRIBE ack,
    then ``count`` frames, as fast as they go or (plain only) paced and stamped."""
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        query = parse_qs(urlsplit(head[0].split(" ")[1]).query)
        mode, count = query.get("mode", ["plain"])[0], int(query.get("count", ["1000"])[0])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest())
        deflate = mode == "deflate" and "permessage-deflate" in headers.get("sec-websocket-extensions", "")
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n"
                     + (b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
                        if deflate else b"") + b"\r\n")
        _, ask = await read_frame(reader)
        writer.write(ws_frame(0x1, orjson.dumps({"result": None, "id": orjson.loads(ask).get("id")})))
        if "burst" in query:
            every = int(query.get("every_us", ["1000"])[0]) / 1e6
            await paced(templates, count, int(query["burst"][0]), every, writer)
        else:
            await flood(frames[mode], count, writer)
        while True:  # hold the connection until the client closes it; answer its close
            opcode, body = await read_frame(reader)
            if opcode == 0x8:
                writer.write(ws_frame(0x8, body[:2]))
                await writer.drain()
                return
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()


async def run_replay() -> None:
    frames = wire_frames([depth_frame(n) for n in range(CYCLE)])
    templates = [stamped(n) for n in range(CYCLE)]
    server = await asyncio.start_server(lambda r, w: replay(frames, templates, r, w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(MARK + orjson.dumps({"ws_url": f"ws://127.0.0.1:{port}"}).decode(), flush=True)
    await read_line(asyncio.get_running_loop())
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("kind", choices=("sim", "replay", "canned"))
    parser.add_argument("--core", type=int, default=None)
    args = parser.parse_args()
    pin(args.core)
    asyncio.run({"sim": run_sim, "replay": run_replay, "canned": run_canned}[args.kind]())


if __name__ == "__main__":
    main()

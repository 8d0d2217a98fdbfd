"""The benchmark's server process: the sim (Binance dialect) or a WebSocket replay server.

    python -m bench.server sim [--core N]      # prints one JSON line: rest/ws URLs and the sim's keys
    python -m bench.server replay [--core N]   # prints one JSON line: the replay server's ws URL

It runs in its own process, pinned to its own core when the machine has two, so the client's
figures never include the server's CPU. It stops when its stdin closes (the parent died or
finished). On the sim, a ``cancel`` line on stdin cancels every resting bench order, outside
the client's timed sections, and answers ``ok``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
from decimal import Decimal

import orjson
from aiohttp import WSMsgType, web

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


def depth_frame(n: int) -> bytes:
    """Combined-stream depth update ``n``: 20+20 levels, distinct update ids."""
    return orjson.dumps({"stream": STREAM, "data": {
        "e": "depthUpdate", "E": 1_700_000_000_000 + n, "s": "BTCUSDT", "U": 2 * n + 1, "u": 2 * n + 2,
        "b": [[f"{50000 - i}.{n % 100:02d}", f"{1 + (n + i) % 7}.23400000"] for i in range(20)],
        "a": [[f"{50001 + i}.{n % 100:02d}", f"0.{(n + i) % 9 + 1}0000000"] for i in range(20)]}})


async def replay(request: web.Request) -> web.WebSocketResponse:
    """Answer the SUBSCRIBE, then send ``count`` frames as fast as the socket takes them."""
    mode = request.query.get("mode", "plain")
    count = int(request.query.get("count", "1000"))
    ws = web.WebSocketResponse(compress=mode == "deflate", max_msg_size=0)
    await ws.prepare(request)
    frames = request.app[FRAMES]
    first = await ws.receive()
    if first.type == WSMsgType.TEXT:
        ask = orjson.loads(first.data)
        await ws.send_str(orjson.dumps({"result": None, "id": ask.get("id")}).decode())
        packed = frames["gzip"] if mode == "gzip" else None
        texts = frames["plain"]
        for n in range(count):
            if packed is not None:
                await ws.send_bytes(packed[n % CYCLE])
            else:
                await ws.send_str(texts[n % CYCLE])
        async for _ in ws:  # hold the connection until the client closes it
            pass
    return ws


FRAMES = web.AppKey("frames", dict)


async def run_replay() -> None:
    raw = [depth_frame(n) for n in range(CYCLE)]
    app = web.Application()
    app[FRAMES] = {"plain": [r.decode() for r in raw], "gzip": [gzip.compress(r, 6) for r in raw]}
    app.add_routes([web.get("/stream", replay)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[-1][1]
    print(MARK + orjson.dumps({"ws_url": f"ws://127.0.0.1:{port}"}).decode(), flush=True)
    await read_line(asyncio.get_running_loop())
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("kind", choices=("sim", "replay"))
    parser.add_argument("--core", type=int, default=None)
    args = parser.parse_args()
    pin(args.core)
    asyncio.run(run_sim() if args.kind == "sim" else run_replay())


if __name__ == "__main__":
    main()

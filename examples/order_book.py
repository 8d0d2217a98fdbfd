"""Maintained order books for several symbols; the simulator injects a sequence gap.

Watches BTCUSDT and ETHUSDT, then tells the simulator to skip update ids on ETHUSDT's next
depth event. The affected symbol detects the gap, discards its book and resyncs from a fresh REST
snapshot; the other symbol keeps streaming throughout. Ends by itself.

    python examples/order_book.py
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from contextlib import aclosing

import structlog

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.metrics import Metrics
from lotusx.sim import serve

SYMBOLS = ("BTCUSDT", "ETHUSDT")


async def watch(ex: Binance, symbol: str, updates: Counter[str], until: float) -> None:
    # aclosing: a watcher cancelled mid-loop closes its stream now, not when Python collects it.
    async with aclosing(ex.watch_order_book(symbol, depth=1)) as books:
        async for book in books:
            updates[symbol] += 1
            if time.monotonic() >= until:
                bid, ask = book.best_bid, book.best_ask  # None for an empty side
                print(f"  {symbol}: last #{book.sequence} bid {bid and bid[0]} ask {ask and ask[0]}")
                return


def resyncs(metrics: Metrics) -> Counter[str]:
    counts: Counter[str] = Counter()
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "lotusx_book_resyncs_total":
                counts[f"{sample.labels['symbol']} ({sample.labels['reason']})"] += int(sample.value)
    return counts


async def main() -> None:
    metrics = Metrics()
    async with serve(venues=("binance",), seed=3) as sim, lotusx.connect(
            "binance", rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"), metrics=metrics) as ex:
        updates: Counter[str] = Counter()
        until = time.monotonic() + 6
        watchers = [asyncio.create_task(watch(ex, symbol, updates, until)) for symbol in SYMBOLS]
        try:
            await asyncio.sleep(2)
            before = dict(updates)
            print(f"after 2 s: {before}; injecting a sequence gap into ETHUSDT's next depth event")
            sim.chaos("binance").update({"sequence_gap": 5, "sequence_gap_symbol": "ETHUSDT"})
            for _ in range(8):
                await asyncio.sleep(0.5)
                print(f"  updates {dict(updates)}   resyncs {dict(resyncs(metrics)) or '-'}")
            await asyncio.gather(*watchers)
        finally:  # on Ctrl-C too: each watcher closes its stream before the connector and the simulator go
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        done = resyncs(metrics)
        print(f"\nresynced: {dict(done)}")
        print("every symbol kept streaming:", all(updates[s] > before.get(s, 0) for s in SYMBOLS))


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=30))
    except KeyboardInterrupt:  # Ctrl-C: the connector and the simulator were closed on the way out
        sys.exit(130)

"""Hand a stream's messages to a plain function: ``await ex.stream().run(handler)``.

Subscribes to the simulator's BTCUSDT depth and trade streams through the raw escape hatch and
lets the socket reader call ``on_message`` as soon as each frame is decoded: no queue and no
task switch per message (``async for message in ex.stream()`` reads the same messages through
a bounded queue). Stops after a few seconds and prints what it saw. Ends by itself.

    python examples/push_stream.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections import Counter
from decimal import Decimal

import structlog

import lotusx
from lotusx.cli import duration
from lotusx.exchanges.binance.schemas import DepthUpdate, TradeEvent
from lotusx.sim import serve
from lotusx.ws import Gap, Resumed


class Tape:
    """What the handler keeps: counts per message type, the last trade price, a diff's first bid level."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.last_trade: Decimal | None = None
        self.bid_level: tuple[Decimal, Decimal] | None = None

    def on_message(self, message: object) -> None:
        """Runs on the socket reader's turn: bookkeeping only, nothing that waits."""
        self.counts[type(message).__name__] += 1
        if isinstance(message, TradeEvent):
            self.last_trade = message.p
        elif isinstance(message, DepthUpdate) and message.bids:
            self.bid_level = message.bids[0]  # exact: Decimals built from the venue's strings
        elif isinstance(message, (Gap, Resumed)):
            print(f"  {type(message).__name__}: the stream reconnected")


async def main(seconds: float) -> None:
    async with serve(venues=("binance",), seed=11) as sim, lotusx.connect(
            "binance", rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance")) as ex:
        await ex.subscribe(["btcusdt@depth@100ms", "btcusdt@trade"])
        tape = Tape()
        print(f"pushing BTCUSDT depth and trades to a handler for {seconds:g} s")
        # Cancelling run() (here, at the timeout) only stops the push: the stream closes with ex.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ex.stream().run(tape.on_message), seconds)
        print(f"messages: {dict(tape.counts)}")
        print(f"last trade price: {tape.last_trade!r}")
        print(f"first bid level of the last depth update: {tape.bid_level!r}")


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=duration, default=3.0, help="how long to push the stream")
    args = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(main(args.seconds), timeout=args.seconds + 20))
    except KeyboardInterrupt:  # Ctrl-C: the connector and the simulator were closed on the way out
        sys.exit(130)

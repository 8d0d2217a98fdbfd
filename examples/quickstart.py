"""LotusX quickstart: the Binance connector against the embedded simulator.

Starts the simulator on 127.0.0.1, then through ``lotusx.connect("binance")``: fetches a book,
places and cancels an order, streams the maintained book for a few seconds showing the top of
book as it moves, and prints a summary of the Prometheus metrics. Ends by itself.

    python examples/quickstart.py            # offline, against the embedded simulator
    python examples/quickstart.py --live     # public market data from the real Binance (or LOTUSX_LIVE=1)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import structlog

import lotusx
from lotusx.cli import duration
from lotusx.demo import fmt, summary
from lotusx.metrics import Metrics
from lotusx.sim import serve

SYMBOL = "BTCUSDT"


@contextlib.asynccontextmanager
async def venue(live: bool) -> AsyncIterator[dict[str, Any]]:
    """Connection options: the real venue's public endpoints, or a fresh embedded simulator."""
    if live:
        yield {}
        return
    async with serve(venues=("binance",), seed=7) as sim:
        keys = sim.api_keys("binance")
        print(f"simulator: REST {sim.rest_url('binance')}  WS {sim.ws_url('binance')}")
        yield {"rest_url": sim.rest_url("binance"), "ws_url": sim.ws_url("binance"),
               "ws_api_url": sim.ws_url("binance"),
               "credentials": lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)}


async def main(live: bool, seconds: float) -> None:
    metrics = Metrics()
    async with venue(live) as options, lotusx.connect("binance", metrics=metrics, **options) as ex:
        book = await ex.get_order_book(SYMBOL, depth=100)
        print(f"\nbook {SYMBOL} #{book.sequence}: best bid {fmt(book.best_bid)}  best ask {fmt(book.best_ask)}  "
              f"({len(book.bids)}+{len(book.asks)} levels)")

        if "credentials" in options:
            rules = (await ex.get_instruments([SYMBOL]))[SYMBOL]  # the venue's tick, step and min notional
            price = (book.best_bid[0] if book.best_bid else Decimal(50_000)) * Decimal("0.95")
            order = await ex.place_order(lotusx.NewOrder(
                symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                quantity=Decimal("0.01"), price=rules.round_price(price, "BUY")))
            print(f"placed  {order.side} {order.quantity} @ {order.price}  id={order.order_id} "
                  f"client_id={order.client_order_id} status={order.status}")
            cancelled = await ex.cancel_order(SYMBOL, order_id=order.order_id)
            print(f"cancel  id={cancelled.order_id} status={cancelled.status}")
        else:
            print("(live mode: public data only, no orders)")

        print(f"\nstreaming the maintained {SYMBOL} book for {seconds:g} s:")
        updates, shown, started = 0, 0.0, time.monotonic()
        async for view in ex.watch_order_book(SYMBOL, depth=5):
            updates += 1
            now = time.monotonic()
            if now - shown >= 0.5:
                shown = now
                print(f"  #{view.sequence:<8} bid {fmt(view.best_bid):>28}   ask {fmt(view.best_ask):>28}")
            if now - started >= seconds:
                break
        print(f"  {updates} book updates applied")
    print()
    for line in summary(metrics):  # what a Prometheus scrape of these metrics would show
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", action="store_true", default=os.environ.get("LOTUSX_LIVE") == "1",
                        help="use the real Binance public endpoints instead of the simulator")
    parser.add_argument("--seconds", type=duration, default=5.0, help="how long to stream the book")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        asyncio.run(asyncio.wait_for(main(args.live, args.seconds), timeout=args.seconds + 20))
    except KeyboardInterrupt:  # Ctrl-C: the connector and the simulator were closed on the way out
        sys.exit(130)
    except lotusx.LotusXError as error:  # --live with no route to the venue, say: the reason, not a traceback
        sys.exit(f"quickstart: {type(error).__name__}: {error}")

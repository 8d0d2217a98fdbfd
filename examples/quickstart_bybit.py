"""Bybit quickstart: the embedded simulator, a book, an order placed and cancelled, a streamed book.

Runs offline against ``lotusx.sim`` on 127.0.0.1 and exits by itself (a few seconds):

    python examples/quickstart_bybit.py [--seconds 3]

Against the real venue, drop the sim and pass your own ``lotusx.Credentials``; for USDT
perpetuals use ``lotusx.connect("bybit-linear", ...)`` (the simulator's bybit serves both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from decimal import Decimal

import structlog

import lotusx
from lotusx.cli import duration
from lotusx.exchanges.bybit import Bybit
from lotusx.sim import serve


async def stream_book(ex: Bybit, seconds: float) -> int:
    """Count maintained-book updates for ``seconds``."""
    updates = 0

    async def consume() -> None:
        nonlocal updates
        async for book in ex.watch_order_book("BTCUSDT", depth=5):
            updates += 1
            if updates == 1:
                print(f"streamed book: best bid {book.best_bid} best ask {book.best_ask}")

    with contextlib.suppress(TimeoutError):  # streaming for ``seconds`` is the point
        await asyncio.wait_for(consume(), seconds)
    return updates


async def main(seconds: float) -> None:
    async with serve(venues=("bybit",), seed=1) as sim:
        print(f"simulator: REST {sim.rest_url('bybit')}  WS {sim.ws_url('bybit')}")
        keys = sim.api_keys("bybit")
        credentials = lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)
        async with lotusx.connect("bybit", credentials=credentials, rest_url=sim.rest_url("bybit"),
                                  ws_url=sim.ws_url("bybit")) as ex:
            book = await ex.get_order_book("BTCUSDT", depth=5)
            best_bid = book.bids[0][0]
            print(f"book: {len(book.bids)} bids, {len(book.asks)} asks, best bid {best_bid}")
            rules = (await ex.get_instruments(["BTCUSDT"]))["BTCUSDT"]  # the venue's tick, step and min notional
            price = rules.round_price(best_bid * Decimal("0.95"), "BUY")
            order = await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                         quantity=Decimal("0.01"), price=price))
            print(f"placed  BUY 0.01 @ {price} id={order.order_id} link={order.client_order_id} status={order.status}")
            cancelled = await ex.cancel_order("BTCUSDT", order_id=order.order_id)
            print(f"cancelled id={cancelled.order_id} status={cancelled.status}")
            print(f"book updates applied: {await stream_book(ex, seconds)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=duration, default=3.0, help="how long to stream the book")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        asyncio.run(main(args.seconds))
    except KeyboardInterrupt:  # Ctrl-C: the connector and the simulator were closed on the way out
        sys.exit(130)

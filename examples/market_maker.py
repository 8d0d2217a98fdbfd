"""A two-sided quoter: the venue's rules, post-only quotes, the kill switch, fills with their fees.

Against the embedded simulator (Binance dialect, a random taker flow, 0.1 % fees): reads the
symbol's rules (``get_instruments``), then for a few seconds keeps one post-only bid and one ask
a tick inside the best prices of the streamed book, rounded to the tick and the step and checked
against the rules before anything is sent. Whenever the book moves it pulls both quotes at once
(``cancel_all_orders``) and quotes again. On the way out it pulls everything, even on an error,
and reports its fills and the fees paid (``get_fills``). Ends by itself.

    python examples/market_maker.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import defaultdict
from decimal import Decimal

import structlog

import lotusx
from lotusx.cli import duration
from lotusx.exchanges.binance import Binance
from lotusx.sim import SimConfig, serve

SYMBOL = "BTCUSDT"
SIZE = Decimal("0.0123")  # rounded down to the venue's step before it is sent
FEE = Decimal("0.001")


async def main(seconds: float) -> None:
    config = SimConfig(driver_rate=40, maker_fee=FEE, taker_fee=FEE)
    async with serve(venues=("binance",), seed=5, config=config) as sim:
        keys = sim.api_keys("binance")
        async with lotusx.connect("binance", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance")) as ex:
            rules = (await ex.get_instruments([SYMBOL]))[SYMBOL]
            print(f"rules {SYMBOL}: tick {rules.tick_size}, step {rules.step_size}, "
                  f"min notional {rules.min_notional}")
            since = await ex.get_server_time()
            try:
                await quote(ex, rules, seconds)
            finally:  # the kill switch: whatever ended the loop, nothing of ours stays on the book
                pulled = await ex.cancel_all_orders(SYMBOL)
                left = await ex.get_open_orders(SYMBOL)
                print(f"kill switch: {len(pulled)} quotes pulled, {len(left)} open orders left")
            await report(await ex.get_fills(SYMBOL, since=since))


async def quote(ex: Binance, rules: lotusx.Instrument, seconds: float) -> None:
    """Quote a tick inside the best prices until ``seconds`` have passed; requote when the book moves."""
    assert rules.tick_size is not None
    size = rules.round_quantity(SIZE)
    quoted: tuple[Decimal, Decimal] | None = None
    requotes = refused = 0
    started = time.monotonic()
    async for book in ex.watch_order_book(SYMBOL, depth=5):
        if time.monotonic() - started >= seconds:
            break
        if not book.best_bid or not book.best_ask:
            continue
        bid = rules.round_price(book.best_bid[0] + rules.tick_size, "BUY")
        ask = rules.round_price(book.best_ask[0] - rules.tick_size, "SELL")
        if bid >= ask or (bid, ask) == quoted:
            continue
        orders = [lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT_MAKER", quantity=size, price=bid),
                  lotusx.NewOrder(symbol=SYMBOL, side="SELL", type="LIMIT_MAKER", quantity=size, price=ask)]
        for order in orders:
            rules.check(order)  # OrderOutsideRules here, before the venue sees it and counts it against us
        if quoted is not None:
            await ex.cancel_all_orders(SYMBOL)
            requotes += 1
        # Both sides at once; a post-only quote the book moved into is refused, not filled as a taker.
        placed = await asyncio.gather(*(ex.place_order(order) for order in orders), return_exceptions=True)
        for outcome in placed:
            if isinstance(outcome, lotusx.OrderRejected):
                refused += 1
            elif isinstance(outcome, BaseException):
                raise outcome
        quoted = (bid, ask)
    print(f"quoted {size} a side for {seconds:.0f} s: {requotes} requotes, {refused} post-only quotes refused")


async def report(fills: list[lotusx.Fill]) -> None:
    """Fills by side, and the fees they paid in each asset."""
    bought = sum((f.quantity for f in fills if f.side == "BUY"), Decimal(0))
    sold = sum((f.quantity for f in fills if f.side == "SELL"), Decimal(0))
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for fill in fills:
        fees[fill.fee_asset] += fill.fee
    makers = sum(fill.maker for fill in fills)
    print(f"fills: {len(fills)} ({makers} as maker), bought {bought}, sold {sold}, net {bought - sold}")
    print("fees: " + (", ".join(f"{amount} {asset}" for asset, amount in sorted(fees.items())) or "none"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=duration, default=5.0, help="how long to quote")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        asyncio.run(asyncio.wait_for(main(args.seconds), timeout=args.seconds + 30))
    except KeyboardInterrupt:  # Ctrl-C: the quotes were pulled and the connector closed on the way out
        sys.exit(130)

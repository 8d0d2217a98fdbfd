"""A two-sided quoter: the venue's rules, post-only quotes amended as the book moves, the kill switch, fees.

Against the embedded simulator (a random taker flow, 0.1 % fees): reads the symbol's rules
(``get_instruments``), then for a few seconds keeps one post-only bid and one ask a tick inside
the best prices of the streamed book, rounded to the tick and the step and checked against the
rules before anything is sent. The two quotes are state: when the book moves, a quote whose
price must change is amended (``amend_order``), one whose price holds is left alone (it keeps
its place in the queue), and one that is gone (filled, or refused as post-only) is placed
afresh. Before quoting it follows its own fills (``watch_fills(since=...)``, from the venue time
taken before its first order, so none is missed however fast it trades) into a live inventory:
net position and fees. On the way out it pulls everything, even on an error, reports its fills
and the fees paid (``get_fills``), whether the streamed inventory agrees with them, and the
requests the connector sent. Ends by itself.

    python examples/market_maker.py [--venue binance|bybit] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

import structlog

import lotusx
from lotusx.cli import duration
from lotusx.demo import summary
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.bybit import Bybit
from lotusx.metrics import Metrics
from lotusx.models import Side
from lotusx.sim import SimConfig, serve

SYMBOL = "BTCUSDT"
SIZE = Decimal("0.0123")  # rounded down to the venue's step before it is sent
FEE = Decimal("0.001")
RESTING = ("NEW", "PARTIALLY_FILLED")


async def main(venue: str, seconds: float) -> None:
    config = SimConfig(driver_rate=40, maker_fee=FEE, taker_fee=FEE)
    metrics = Metrics()  # the connector counts every request it sends: printed at the end
    async with serve(venues=(venue,), seed=5, config=config) as sim:
        keys = sim.api_keys(venue)
        async with lotusx.connect(venue, credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue), metrics=metrics) as ex:
            rules = (await ex.get_instruments([SYMBOL]))[SYMBOL]
            print(f"rules {SYMBOL}: tick {rules.tick_size}, step {rules.step_size}, "
                  f"min notional {rules.min_notional}")
            since = await ex.get_server_time()
            inventory = Inventory()
            # Started before the first quote, from `since`: fills made before its stream is live come too.
            following = asyncio.create_task(inventory.follow(ex, since))
            quoter = Quoter(ex, rules)
            try:
                try:
                    await quoter.run(seconds)
                finally:  # the kill switch: whatever ended the loop, nothing of ours stays on the book
                    pulled = await ex.cancel_all_orders(SYMBOL)
                    left = await ex.get_open_orders(SYMBOL)
                    print(f"kill switch: {len(pulled)} quotes pulled, {len(left)} open orders left")
                fills = await ex.get_fills(SYMBOL, since=since)
                await report(fills)
                agrees = await inventory.caught_up(fills, following, within=2.0)
                print(f"streamed inventory: net {inventory.net}, fees {inventory.fees_text()}; "
                      f"{'agrees' if agrees else 'DISAGREES'} with get_fills "
                      f"({len(inventory.fills)} streamed, {len(fills)} listed)")
            finally:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
    for line in summary(metrics):
        print(line)


class Quoter:
    """One post-only bid and one ask, kept as state and moved by amending them."""

    def __init__(self, ex: Binance | Bybit, rules: lotusx.Instrument) -> None:
        self.ex, self.rules = ex, rules
        self.size = rules.round_quantity(SIZE)
        self.quotes: dict[Side, lotusx.Order | None] = {"BUY": None, "SELL": None}  # None: nothing of ours rests
        self.amends = self.placed = self.refused = self.filled = 0

    async def run(self, seconds: float) -> None:
        """Quote a tick inside the best prices until ``seconds`` have passed, following the book."""
        tick = self.rules.tick_size
        assert tick is not None
        started = time.monotonic()
        async for book in self.ex.watch_order_book(SYMBOL, depth=5):
            if time.monotonic() - started >= seconds:
                break
            best_bid, best_ask = self.best("BUY", book.bids), self.best("SELL", book.asks)
            if best_bid is None or best_ask is None or best_bid >= best_ask:
                continue
            # A tick inside the others' best prices; at them when the spread is a single tick.
            bid = self.rules.round_price(min(best_bid + tick, best_ask - tick), "BUY")
            ask = self.rules.round_price(max(best_ask - tick, best_bid + tick), "SELL")
            # Both sides at once; an error in either ends the run (and the kill switch pulls the other).
            async with asyncio.TaskGroup() as sides:
                sides.create_task(self.requote("BUY", bid))
                sides.create_task(self.requote("SELL", ask))
        print(f"quoted {self.size} a side for {seconds:g} s: {self.amends} requotes by amend, "
              f"{self.placed} fresh placements, {self.refused} refused (post-only would take), "
              f"{self.filled} quotes filled away")

    def best(self, side: Side, levels: Sequence[tuple[Decimal, Decimal]]) -> Decimal | None:
        """The best price on ``side`` but our quote alone: the book shows ours, and we must not chase it."""
        quote = self.quotes[side]
        for price, quantity in levels:
            if quote is None or price != quote.price or quantity > quote.quantity - quote.filled_quantity:
                return price
        return None

    async def requote(self, side: Side, price: Decimal) -> None:
        """Bring ``side``'s quote to ``price``: leave it, amend it, or place a fresh one if none rests."""
        order = lotusx.NewOrder(symbol=SYMBOL, side=side, type="LIMIT_MAKER", quantity=self.size, price=price)
        self.rules.check(order)  # OrderOutsideRules here, before the venue sees it and counts it against us
        quote = self.quotes[side]
        if quote is not None and quote.price == price:
            return  # unchanged: an amend would only send it to the back of the queue
        if quote is not None:
            quote = await self.amend(quote, price)
        if quote is None:
            quote = await self.place(order)
        self.quotes[side] = quote

    async def amend(self, quote: lotusx.Order, price: Decimal) -> lotusx.Order | None:
        """``quote`` moved to ``price``; None when nothing of ours rests on that side any more."""
        try:
            # The price alone: a partly filled quote keeps what it has left to fill. On Binance this
            # is a cancelReplace and the order id changes: keep the order it returns, not the old id.
            amended = await self.ex.amend_order(SYMBOL, order_id=quote.order_id, price=price)
        except lotusx.NotFound:  # filled completely (or cancelled by the venue) since we last moved it
            self.filled += 1
            return None
        except lotusx.OrderRejected:
            self.refused += 1
            # Binance (-2021): the cancelReplace cancelled the original and its new order was
            # refused, so nothing rests. A venue that refuses an amend in place leaves the original
            # at its old price: pull it, so that a side never holds two quotes.
            with contextlib.suppress(lotusx.NotFound):
                await self.ex.cancel_order(SYMBOL, order_id=quote.order_id)
            return None
        if amended.status not in RESTING:  # Bybit cancels a PostOnly amended into the book
            self.refused += 1
            return None
        self.amends += 1
        return amended

    async def place(self, order: lotusx.NewOrder) -> lotusx.Order | None:
        """A fresh quote; None when the venue refused it (a post-only the book moved into)."""
        try:
            placed = await self.ex.place_order(order)
        except lotusx.OrderRejected:
            self.refused += 1
            return None  # the next move of the book quotes this side again
        self.placed += 1
        return placed  # on Bybit a PostOnly that would take is accepted, then cancelled: the next amend finds it gone


class Inventory:
    """Net position and fees kept from the streamed fills: what a quoter would skew its quotes by."""

    def __init__(self) -> None:
        self.fills: list[lotusx.Fill] = []
        self.net = Decimal(0)
        self.fees: dict[str, Decimal] = defaultdict(Decimal)

    async def follow(self, ex: Binance | Bybit, since: int) -> None:
        """Every fill of ``SYMBOL`` from venue time ``since`` on, each once (made before the stream was live too)."""
        async for fill in ex.watch_fills([SYMBOL], since=since):
            self.fills.append(fill)
            self.net += fill.quantity if fill.side == "BUY" else -fill.quantity
            self.fees[fill.fee_asset] += fill.fee

    async def caught_up(self, listed: list[lotusx.Fill], following: asyncio.Task[None], within: float) -> bool:
        """Whether the streamed fills are ``listed`` (by trade and order id), waiting up to ``within`` s for the
        stream to deliver the last of them; a watch that failed raises its error."""
        wanted = sorted((f.trade_id, f.order_id) for f in listed)
        deadline = time.monotonic() + within
        while sorted((f.trade_id, f.order_id) for f in self.fills) != wanted and time.monotonic() < deadline:
            if following.done():
                following.result()
                return False
            await asyncio.sleep(0.02)
        return sorted((f.trade_id, f.order_id) for f in self.fills) == wanted

    def fees_text(self) -> str:
        return ", ".join(f"{amount} {asset}" for asset, amount in sorted(self.fees.items())) or "none"


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
    parser.add_argument("--venue", choices=("binance", "bybit"), default="binance", help="the simulator's dialect")
    parser.add_argument("--seconds", type=duration, default=5.0, help="how long to quote")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        asyncio.run(asyncio.wait_for(main(args.venue, args.seconds), timeout=args.seconds + 30))
    except KeyboardInterrupt:  # Ctrl-C: the quotes were pulled and the connector closed on the way out
        sys.exit(130)

"""A multi-level quoter: a ladder of post-only bids and asks, placed, moved and pulled in batches.

Against the embedded simulator (a random taker flow): reads the symbol's rules
(``get_instruments``), then for a few seconds keeps ``LEVELS`` post-only bids and as many asks
around the mid of the streamed book (our own orders left out of it), each price rounded to the
tick and checked against the rules before anything is sent. The ladder is placed with one
``place_orders`` call. When the mid moves, the levels whose price must change are moved with
one ``amend_orders`` call; a level whose price holds is left alone (it keeps its place in the
queue, and costs no request). A level gone (filled, or refused as post-only) is placed again in
the next ``place_orders`` call. Every call answers slot by slot, each an order or a typed
``lotusx.LotusXError``: the ladder counts them by kind. On the way out it pulls its orders with
one ``cancel_orders`` call, then ``cancel_all_orders`` as the kill switch, even on an error, and
prints what it did and the requests the connector sent. Ends by itself.

Bybit sends each call as batch requests (create-batch, amend-batch, cancel-batch: up to 10 spot
orders a request); Binance spot has no batch endpoints, so its connector sends the orders of a
call each on its own, all at once. On Bybit the run is wrapped in ``disconnect_cancel(10)``,
Disconnection Protection (docs/v5/order/dcp.mdx): a private connection holds the ``dcp.spot``
topic, and if it is lost for 10 s (this process killed, its host or network down, where no
``finally`` runs) the venue itself cancels every spot order of the account, so the ladder does
not outlive the quoter. The window guards against a dead process, not a live one's bug: the
kill switch still does the pulling on a normal or failed exit.

``--ws-trading`` sends the orders over the venue's WebSocket API (Binance ``/ws-api/v3``, Bybit
``/v5/trade``), one socket kept open, instead of one HTTP request each: the same calls, the same
layers, the same results. ``--ed25519`` (Binance) trades with the account's Ed25519 key instead of its
HMAC key: over the WebSocket API each connection then logs on once (``session.logon``) and the
orders go unsigned on it.

    python examples/ladder.py [--venue binance|bybit] [--seconds 5] [--ws-trading] [--ed25519]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
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
LEVELS = 5  # a side: one batch of 10 holds the whole ladder on Bybit spot
SIZE = Decimal("0.0021")  # a level; rounded down to the venue's step before it is sent
FIRST = 2  # ticks from the mid to the nearest level
SPACING = 5  # ticks between levels
# A level moves once its target is BAND ticks from where it rests: a smaller move is noise that an
# amend would pay for with a request and the level's queue priority. 2 * (BAND - 1) < SPACING, so
# two levels of a side never meet however their moves interleave.
BAND = 3
WINDOW = 10  # seconds of Disconnection Protection (Bybit: 3 to 300, docs/v5/order/dcp.mdx)
RESTING = ("NEW", "PARTIALLY_FILLED")

Slot = tuple[Side, int]  # a side and a level, 0 the nearest the mid


async def main(venue: str, seconds: float, ws_trading: bool = False, ed25519: bool = False) -> None:
    metrics = Metrics()  # the connector counts every request it sends: printed at the end
    async with serve(venues=(venue,), seed=5, config=SimConfig(driver_rate=40)) as sim:
        keys = sim.api_keys(venue)
        credentials = lotusx.Credentials(keys.hmac_key, keys.hmac_secret)
        if ed25519:
            if keys.ed25519_key is None or keys.ed25519_private_key is None:
                raise SystemExit(f"--ed25519: the {venue} simulator has no Ed25519 key (binance has)")
            # The sim hands out the key's 32-byte seed, base64; Credentials takes it as bytes.
            seed = base64.b64decode(keys.ed25519_private_key)
            credentials = lotusx.Credentials(keys.ed25519_key, seed)
        async with lotusx.connect(venue, credentials=credentials, rest_url=sim.rest_url(venue),
                                  ws_url=sim.ws_url(venue), metrics=metrics, ws_trading=ws_trading) as ex:
            if ws_trading:
                print("orders over the WebSocket API: one socket, no HTTP request per order")
            if ws_trading and ed25519:
                print("Ed25519 key: each WebSocket API connection logs on once, its orders go unsigned")
            rules = (await ex.get_instruments([SYMBOL]))[SYMBOL]
            print(f"rules {SYMBOL}: tick {rules.tick_size}, step {rules.step_size}, "
                  f"min notional {rules.min_notional}")
            ladder = Ladder(ex, rules)
            async with dead_mans_switch(ex):
                try:
                    await ladder.run(seconds)
                finally:  # whatever ended the run, nothing of ours stays on the book
                    await ladder.pull()
            left = await ex.get_open_orders(SYMBOL)
            print(f"{len(left)} open orders left")
            if ws_trading and ed25519:
                print(f"session.logon accepted by the venue: {sim.ws_api_logons(venue)}")
    for line in summary(metrics):
        print(line)


@contextlib.asynccontextmanager
async def dead_mans_switch(ex: Binance | Bybit) -> AsyncIterator[None]:
    """Bybit: Disconnection Protection armed for the block, so a dead process's orders are cancelled by the venue."""
    if isinstance(ex, Bybit):
        async with ex.disconnect_cancel(WINDOW):
            print(f"Disconnection Protection armed: SPOT orders cancelled {WINDOW} s after this process's link is lost")
            yield
    else:
        print("no Disconnection Protection on binance: only the kill switch pulls the ladder")
        yield


class Ladder:
    """``LEVELS`` post-only orders a side, kept as state: placed, moved and pulled a batch at a time."""

    def __init__(self, ex: Binance | Bybit, rules: lotusx.Instrument) -> None:
        assert rules.tick_size is not None
        self.ex, self.rules, self.tick = ex, rules, rules.tick_size
        self.size = rules.round_quantity(SIZE)
        sides: tuple[Side, Side] = ("BUY", "SELL")
        # None: nothing of ours rests at that level; the next place_orders call fills it.
        self.levels: dict[Slot, lotusx.Order | None] = {(side, n): None for side in sides for n in range(LEVELS)}
        self.place_calls = self.amend_calls = self.placed = self.amended = self.gone = 0
        self.refused: Counter[str] = Counter()  # the venue said no, as expected now and then: by kind
        self.unexpected: Counter[str] = Counter()  # any other error in a slot: by kind

    async def run(self, seconds: float) -> None:
        """Keep the ladder around the mid of the streamed book until ``seconds`` have passed."""
        started = time.monotonic()
        async for book in self.ex.watch_order_book(SYMBOL, depth=20):
            if time.monotonic() - started >= seconds:
                break
            bid, ask = self.best("BUY", book.bids), self.best("SELL", book.asks)
            if bid is None or ask is None or bid >= ask:
                continue
            await self.requote((bid + ask) / 2)
        refused = ", ".join(f"{kind} {count}" for kind, count in sorted(self.refused.items())) or "none"
        unexpected = ", ".join(f"{kind} {count}" for kind, count in sorted(self.unexpected.items())) or "none"
        print(f"ladder {LEVELS} a side of {self.size} for {seconds:g} s: place_orders calls {self.place_calls}, "
              f"amend_orders calls {self.amend_calls}; placed {self.placed}, amended {self.amended}, "
              f"gone {self.gone} (filled, or cancelled by the venue)")
        print(f"refused: {refused}")
        print(f"unexpected errors: {unexpected}")

    def best(self, side: Side, levels: Sequence[tuple[Decimal, Decimal]]) -> Decimal | None:
        """The best price on ``side`` but our own orders: the book shows ours, and the ladder must not chase itself."""
        ours: dict[Decimal, Decimal] = defaultdict(Decimal)
        for (level_side, _), order in self.levels.items():
            if order is not None and level_side == side:
                ours[order.price] += order.quantity - order.filled_quantity
        for price, quantity in levels:
            if quantity > ours[price]:
                return price
        return None

    def targets(self, mid: Decimal) -> dict[Slot, Decimal]:
        """Each level's price around ``mid``, rounded to the tick away from it (a bid down, an ask up)."""
        prices: dict[Slot, Decimal] = {}
        for n in range(LEVELS):
            away = (FIRST + n * SPACING) * self.tick
            prices["BUY", n] = self.rules.round_price(mid - away, "BUY")
            prices["SELL", n] = self.rules.round_price(mid + away, "SELL")
        return prices

    async def requote(self, mid: Decimal) -> None:
        """Bring the ladder to ``mid``: one amend call for the levels that must move, one place call for the empty."""
        targets = self.targets(mid)
        orders = {slot: lotusx.NewOrder(symbol=SYMBOL, side=slot[0], type="LIMIT_MAKER", quantity=self.size,
                                        price=price) for slot, price in targets.items()}
        for order in orders.values():
            self.rules.check(order)  # OrderOutsideRules here, before the venue sees any of them
        moves = {slot: price for slot, price in targets.items()
                 if (resting := self.levels[slot]) is not None and abs(resting.price - price) >= BAND * self.tick}
        if moves:
            await self.amend(moves)
        empty = [slot for slot, order in self.levels.items() if order is None]  # those the amend found gone too
        if empty:
            await self.place({slot: orders[slot] for slot in empty})

    async def place(self, orders: dict[Slot, lotusx.NewOrder]) -> None:
        """The empty levels placed in one call; each slot's result kept or counted."""
        slots = list(orders)
        self.place_calls += 1
        results = await self.ex.place_orders([orders[slot] for slot in slots])
        for slot, result in zip(slots, results, strict=True):
            if isinstance(result, lotusx.Order):
                # On Bybit a PostOnly that would take is accepted (NEW), then cancelled by the venue:
                # the level's next amend finds it gone.
                self.placed += 1
                self.levels[slot] = result
            elif isinstance(result, lotusx.OrderRejected):  # Binance -2010: the LIMIT_MAKER would take
                self.refused[type(result).__name__] += 1
            else:
                # AmbiguousOrderState among them: the order may rest unknown to us; the kill switch pulls it.
                self.unexpected[type(result).__name__] += 1

    async def amend(self, moves: dict[Slot, Decimal]) -> None:
        """The levels in ``moves`` moved to their new prices in one call; a level gone is left empty."""
        slots = list(moves)
        was: dict[Slot, lotusx.Order] = {}
        for slot in slots:
            order = self.levels[slot]
            assert order is not None
            was[slot] = order
        self.amend_calls += 1
        # The price alone: a partly filled level keeps what it has left to fill. On Binance each is a
        # cancelReplace and the order id changes: the order each slot returns is the one kept.
        results = await self.ex.amend_orders(SYMBOL, [lotusx.Amend(order_id=was[slot].order_id, price=price)
                                                      for slot, price in moves.items()])
        stale: list[str] = []  # orders that may still rest at their old price
        for slot, result in zip(slots, results, strict=True):
            self.levels[slot] = None
            if isinstance(result, lotusx.Order):
                if result.status in RESTING:
                    self.amended += 1
                    self.levels[slot] = result
                else:  # filled before the amend landed, or a PostOnly amended into the book (Bybit cancels it)
                    self.gone += 1
            elif isinstance(result, lotusx.NotFound):  # filled completely (or cancelled by the venue) since
                self.gone += 1
            elif isinstance(result, lotusx.OrderRejected):
                # Binance (-2021): the cancelReplace cancelled the original and its new order was
                # refused. A venue that refuses an amend in place leaves the original at its old
                # price: pull it, so that a level never holds two orders.
                self.refused[type(result).__name__] += 1
                stale.append(was[slot].order_id)
            else:
                self.unexpected[type(result).__name__] += 1
                stale.append(was[slot].order_id)
        if stale:
            await self.ex.cancel_orders(SYMBOL, order_ids=stale)  # NotFound in a slot: gone already

    async def pull(self) -> tuple[int, int]:
        """Every level cancelled in one call, then the kill switch: (orders cancel_orders took, the kill switch's)."""
        ids = [order.order_id for order in self.levels.values() if order is not None]
        pulled = killed = 0
        try:
            if ids:
                results = await self.ex.cancel_orders(SYMBOL, order_ids=ids)
                pulled = sum(isinstance(result, lotusx.CancelledOrder) for result in results)
        finally:  # even when the batch failed: cancel_all_orders takes whatever of ours is open
            self.levels = dict.fromkeys(self.levels)
            killed = len(await self.ex.cancel_all_orders(SYMBOL))
        print(f"pulled {pulled} by cancel_orders ({len(ids) - pulled} gone already), kill switch: {killed} more")
        return pulled, killed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venue", choices=("binance", "bybit"), default="binance", help="the simulator's dialect")
    parser.add_argument("--seconds", type=duration, default=5.0, help="how long to quote")
    parser.add_argument("--ws-trading", action="store_true", help="orders over the venue's WebSocket API")
    parser.add_argument("--ed25519", action="store_true", help="Binance: trade with the Ed25519 key, not HMAC")
    args = parser.parse_args()
    if args.ed25519 and args.venue != "binance":  # said before the simulator starts: no traceback from its task
        parser.error(f"--ed25519: the {args.venue} simulator has no Ed25519 key (binance has)")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        run = main(args.venue, args.seconds, args.ws_trading, args.ed25519)
        asyncio.run(asyncio.wait_for(run, timeout=args.seconds + 30))
    except KeyboardInterrupt:  # Ctrl-C: the ladder was pulled and the connector closed on the way out
        sys.exit(130)

"""A deterministic market: seeded random order flow from the market-maker account.

Each step, for every book: the mid takes a random-walk tick, then the maker either rests a
limit order a few ticks from the mid or sends a small IOC order across it (which trades).
The oldest maker orders are cancelled so books stay bounded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from lotusx.kernel.errors import LotusXError
from lotusx.sim.engine import Book, Engine
from lotusx.sim.venue import MAKER, Venue

MAX_RESTING = 200
SEED_LEVELS = 20


@dataclass
class Driver:
    """Moves every book of ``venue``; ``step()`` is one round, ``run()`` repeats it at ``driver_rate``."""

    venue: Venue
    seed: int
    mids: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"driver:{self.venue.name}:{self.seed}")
        for category, engine in self.venue.engines.items():
            for symbol, book in engine.books.items():
                self.mids[(category, symbol)] = book.market.mid
                self._seed_book(engine, book)
                book.flush()  # the seeded book is the starting snapshot, not an event

    def _seed_book(self, engine: Engine, book: Book) -> None:
        market = book.market
        for level in range(1, SEED_LEVELS + 1):
            qty = market.step * self.rng.randint(100, 10_000)
            for side, sign in (("BUY", -1), ("SELL", 1)):
                engine.place(MAKER, market.symbol, side, "LIMIT", quantity=qty, price=market.mid + sign * level *
                             market.tick * 10)

    def step(self) -> None:
        """One round of order flow on every book."""
        for (category, symbol), mid in list(self.mids.items()):
            engine = self.venue.engines[category]
            tick = engine.markets[symbol].tick
            mid = max(tick * 100, mid + tick * self.rng.choice((-1, 0, 1)))
            self.mids[(category, symbol)] = mid
            self._act(engine, symbol, mid)

    def _act(self, engine: Engine, symbol: str, mid: Decimal) -> None:
        market = engine.markets[symbol]
        side = self.rng.choice(("BUY", "SELL"))
        sign = -1 if side == "BUY" else 1
        qty = market.step * self.rng.randint(10, 5_000)
        try:
            if self.rng.random() < 0.15:
                engine.place(MAKER, symbol, side, "LIMIT", quantity=qty, price=mid - sign * market.tick * 20, tif="IOC")
            else:
                engine.place(MAKER, symbol, side, "LIMIT", quantity=qty,
                             price=mid + sign * market.tick * self.rng.randint(1, 30))
            resting = engine.open_orders(MAKER, symbol)
            if len(resting) > MAX_RESTING:
                engine.cancel(MAKER, symbol, resting[0].order_id)
        except LotusXError:  # the maker ran out of one asset: skip this round, the flow is random anyway
            return

    async def run(self) -> None:
        """Step at ``driver_rate`` per second (forever; cancel to stop)."""
        rate = self.venue.config.driver_rate
        while rate > 0:
            await self.venue.clock.sleep(1 / rate)
            self.step()


async def publish_depth(venue: Venue) -> None:
    """Publish book changes every ``depth_interval`` (forever; cancel to stop)."""
    while True:
        await venue.clock.sleep(venue.config.depth_interval)
        venue.publish_depth()

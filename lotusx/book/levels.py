"""``LocalBook``: one symbol's price levels, exact, cheap to update."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from heapq import nlargest, nsmallest

from lotusx.models import OrderBook

RawLevels = Iterable[tuple[str, str]] | Iterable[list[str]] | Iterable[tuple[Decimal, Decimal]]

_PRICE_CACHE_SIZE = 10_000


class LocalBook:
    """Bids and asks as ``{price: quantity}`` with ``Decimal`` keys.

    Updates set absolute quantities (zero removes the level), as Binance and Bybit send
    them. Sorting happens only when a view is taken (:meth:`view`), never per update.
    """

    __slots__ = ("_prices", "asks", "bids", "sequence", "symbol", "timestamp")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.sequence = 0
        self.timestamp: int | None = None
        # Price strings recur update after update; reusing their Decimal keys skips both the
        # parse and the Decimal hash (cached per object), about 3x faster per update.
        self._prices: dict[str | Decimal, Decimal] = {}

    def reset(self, bids: RawLevels, asks: RawLevels, sequence: int, timestamp: int | None = None) -> None:
        """Replace everything with a snapshot."""
        self.bids.clear()
        self.asks.clear()
        self.update(bids, asks, sequence, timestamp)

    def update(self, bids: RawLevels, asks: RawLevels, sequence: int, timestamp: int | None = None) -> None:
        """Apply absolute level quantities; a zero quantity deletes the level."""
        if len(self._prices) > _PRICE_CACHE_SIZE:
            self._prices.clear()
        _apply(self.bids, bids, self._prices)
        _apply(self.asks, asks, self._prices)
        self.sequence = sequence
        if timestamp is not None:
            self.timestamp = timestamp

    @property
    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask (the book is wrong)."""
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    def view(self, depth: int | None = None) -> OrderBook:
        """An immutable, best-first snapshot of the top ``depth`` levels (all when ``None``)."""
        bids = nlargest(depth, self.bids.items()) if depth else sorted(self.bids.items(), reverse=True)
        asks = nsmallest(depth, self.asks.items()) if depth else sorted(self.asks.items())
        return OrderBook(symbol=self.symbol, bids=bids, asks=asks, sequence=self.sequence,
                         timestamp=self.timestamp)

    def __repr__(self) -> str:
        return f"LocalBook({self.symbol!r}, {len(self.bids)} bids, {len(self.asks)} asks, seq={self.sequence})"


def _apply(side: dict[Decimal, Decimal], levels: RawLevels, prices: dict[str | Decimal, Decimal]) -> None:
    # No per-level type dispatch: the cache takes str and Decimal prices alike (a str never
    # equals a Decimal, so they cannot collide) and Decimal(d) returns d itself, so exact
    # inputs cost nothing extra and strings skip two isinstance calls per level.
    for price, quantity in levels:
        key = prices.get(price)
        if key is None:
            key = prices[price] = Decimal(price)
        qty = Decimal(quantity)
        if qty:
            side[key] = qty
        else:  # zero (any exponent or sign) removes the level
            side.pop(key, None)

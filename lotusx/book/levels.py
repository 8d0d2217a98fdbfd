"""``LocalBook``: one symbol's price levels, exact, cheap to update."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from lotusx.book.ladder import Ladder
from lotusx.kernel.errors import ConfigError, ProtocolError
from lotusx.models import OrderBook

RawLevels = Iterable[tuple[str, str]] | Iterable[list[str]] | Iterable[tuple[Decimal, Decimal]]
DiffLevels = Sequence[tuple[str, str]] | Sequence[list[str]] | Sequence[tuple[Decimal, Decimal]]

_PRICE_CACHE_SIZE = 10_000
# Past this many unread updates, re-sorting a side on the next read is cheaper than patching it.
_MAX_PENDING = 32


class LocalBook:
    """Bids and asks as ``{price: quantity}`` with ``Decimal`` keys.

    Updates set absolute quantities (zero removes the level), as Binance and Bybit send
    them. Price order is settled only when read (:meth:`view`, :attr:`crossed`), never per
    update. ``bids`` and ``asks`` are for reading: change them through :meth:`update`.
    """

    __slots__ = ("_asks_order", "_bids_order", "_pending", "_prices", "_resort", "asks", "bids", "sequence",
                 "symbol", "timestamp")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.sequence = 0
        self.timestamp: int | None = None
        # Price strings recur update after update; reusing their Decimal keys skips both the
        # parse and the Decimal hash (cached per object), about 3x faster per update.
        self._prices: dict[str | Decimal, Decimal] = {}
        self._bids_order = Ladder()
        self._asks_order = Ladder()
        # The level lists applied since the last read: the read re-sorts only their prices.
        self._pending: list[tuple[DiffLevels, DiffLevels]] = []
        self._resort = False

    def reset(self, bids: RawLevels, asks: RawLevels, sequence: int, timestamp: int | None = None) -> None:
        """Replace everything with a snapshot (``ProtocolError`` for a level that is no number or amount)."""
        self.bids.clear()
        self.asks.clear()
        _apply(self.bids, bids, self._prices)
        _apply(self.asks, asks, self._prices)
        self.sequence = sequence
        if timestamp is not None:
            self.timestamp = timestamp
        self._pending.clear()
        self._resort = True

    def update(self, bids: DiffLevels, asks: DiffLevels, sequence: int, timestamp: int | None = None) -> None:
        """Apply absolute level quantities; a zero quantity deletes the level.

        The level lists are read again at the next view: do not change them afterwards. A
        level that is not a number (NaN and Infinity included), whose price is zero or negative,
        or whose quantity is negative, raises ``ProtocolError`` with the levels before it
        applied: the book is then wrong and must be replaced.
        """
        if len(self._prices) > _PRICE_CACHE_SIZE:
            self._prices.clear()
        _apply(self.bids, bids, self._prices)
        _apply(self.asks, asks, self._prices)
        self.sequence = sequence
        if timestamp is not None:
            self.timestamp = timestamp
        self._pending.append((bids, asks))
        if len(self._pending) > _MAX_PENDING:
            self._pending.clear()
            self._resort = True

    @property
    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask (the book is wrong)."""
        self._settle()
        bids, asks = self._bids_order.prices, self._asks_order.prices
        return bool(bids and asks and bids[-1] >= asks[0])

    def view(self, depth: int | None = None) -> OrderBook:
        """An immutable, best-first snapshot of the top ``depth`` levels (all when ``None``)."""
        if depth is not None and depth < 0:
            raise ConfigError(f"view depth must be >= 0, got {depth}")
        self._settle()
        bid_prices, ask_prices = self._bids_order.prices, self._asks_order.prices
        if depth is not None:
            bid_prices, ask_prices = bid_prices[len(bid_prices) - min(depth, len(bid_prices)):], ask_prices[:depth]
        bids = [(price, self.bids[price]) for price in reversed(bid_prices)]
        asks = [(price, self.asks[price]) for price in ask_prices]
        return OrderBook(symbol=self.symbol, bids=bids, asks=asks, sequence=self.sequence,
                         timestamp=self.timestamp)

    def _settle(self) -> None:
        if not (self._pending or self._resort) and len(self._bids_order.prices) == len(self.bids) and (
                len(self._asks_order.prices) == len(self.asks)):
            return  # settled by the read just before (the sync's crossed check, ahead of this view)
        for order, side, index in ((self._bids_order, self.bids, 0), (self._asks_order, self.asks, 1)):
            if not self._resort:
                order.patch(side, (level for pending in self._pending for level in pending[index]), self._prices)
            if self._resort or len(order.prices) != len(side):  # the side was changed behind our back
                order.rebuild(side)
        self._pending.clear()
        self._resort = False

    def __repr__(self) -> str:
        return f"LocalBook({self.symbol!r}, {len(self.bids)} bids, {len(self.asks)} asks, seq={self.sequence})"


def _apply(side: dict[Decimal, Decimal], levels: RawLevels, prices: dict[str | Decimal, Decimal]) -> None:
    # No per-level type dispatch: the cache takes str and Decimal prices alike (a str never
    # equals a Decimal, so they cannot collide) and Decimal(d) returns d itself, so exact
    # inputs cost nothing extra and strings skip two isinstance calls per level.
    try:
        for price, quantity in levels:
            key = prices.get(price)
            if key is None:
                key = Decimal(price)
                # Only new strings get here, so this check is nearly free. NaN cannot be ordered
                # (a signalling one not even hashed) and Infinity is no price: the view would fail.
                # Zero or below is no price either (checked after is_finite: NaN is not compared).
                if not key.is_finite() or key <= 0:
                    raise InvalidOperation
                prices[price] = key
            qty = Decimal(quantity)
            if qty:
                # NaN, Infinity or a negative amount is no quantity: two C calls on the Decimal
                # already built, no parse (about 25 ns a non-zero level).
                if qty.is_signed() or not qty.is_finite():
                    raise InvalidOperation
                side[key] = qty
            else:  # zero (any exponent or sign) removes the level
                side.pop(key, None)
    except InvalidOperation:
        # The venue's schema only says "a string": a typed error, not one from deep in decimal.
        raise ProtocolError(f"not a price level: {price!r}, {quantity!r}") from None

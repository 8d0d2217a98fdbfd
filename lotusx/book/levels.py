"""``LocalBook``: one symbol's price levels, exact, cheap to update."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, cast

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
    them. Work is done when the book is read, not per update: price order is settled, and a
    diff's quantity strings become ``Decimal``, only for the levels a read returns
    (:meth:`view`, :attr:`bids`, :attr:`asks`). A diff stream rewrites most levels before
    anyone reads them (Binance sends up to 1 000 a diff; a market maker reads the top 20),
    and parsing each as it came cost more than half of an update.
    """

    __slots__ = ("_asks", "_asks_order", "_bids", "_bids_order", "_pending", "_prices", "_resort", "sequence",
                 "symbol", "timestamp")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        # A quantity is a Decimal once read (or from a snapshot), a diff's string until then.
        self._bids: dict[Decimal, Decimal | str] = {}
        self._asks: dict[Decimal, Decimal | str] = {}
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

    @property
    def bids(self) -> Mapping[Decimal, Decimal]:
        """Every bid level, ``{price: quantity}``, unordered, live and read-only (change it through :meth:`update`).

        Reads every quantity not read yet: ``ProtocolError`` if one is no amount. Kept across
        updates, it shows them, and reads each quantity a diff left as its string when that is read.
        """
        _read_all(self._bids)
        return _Side(self._bids)

    @property
    def asks(self) -> Mapping[Decimal, Decimal]:
        """Every ask level, as :attr:`bids`."""
        _read_all(self._asks)
        return _Side(self._asks)

    def reset(self, bids: RawLevels, asks: RawLevels, sequence: int, timestamp: int | None = None) -> None:
        """Replace everything with a snapshot (``ProtocolError`` for a level that is no number or amount).

        A snapshot is read whole, at once: it is the book's ground truth, and taken once.
        """
        self._bids.clear()
        self._asks.clear()
        # Before the levels: a bad one stops the snapshot halfway, and the order is then of neither book.
        self._pending.clear()
        self._resort = True
        _apply(self._bids, bids, self._prices)
        _apply(self._asks, asks, self._prices)
        self.sequence = sequence
        if timestamp is not None:
            self.timestamp = timestamp

    def update(self, bids: DiffLevels, asks: DiffLevels, sequence: int, timestamp: int | None = None) -> None:
        """Apply absolute level quantities; a zero quantity deletes the level.

        The level lists are read again at the next view: do not change them afterwards. A
        level whose price is no number, zero or negative, or whose quantity is NaN, Infinity,
        negative or no number at all, raises ``ProtocolError`` with the levels before it
        applied: the book is then wrong and must be replaced. A quantity string that starts
        like a positive number (``"1.5"``, ``"0.25"``) is kept as it is until a read returns it;
        if it is no amount after all (``"1.5x"``), that read raises the ``ProtocolError``.
        """
        if len(self._prices) > _PRICE_CACHE_SIZE:
            self._prices.clear()
        try:
            _update(self._bids, bids, self._prices)
            _update(self._asks, asks, self._prices)
        except ProtocolError:
            # The levels before the bad one are in, but these lists are not pending: the next read
            # sorts both sides afresh, or it would ask for a price gone and miss one come.
            self._resort = True
            raise
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
        """An immutable, best-first snapshot of the top ``depth`` levels (all when ``None``).

        ``ProtocolError`` when a diff's quantity among them is no amount (see :meth:`update`);
        the levels it read before that one stay read, the book is otherwise unchanged.
        """
        if depth is not None and depth < 0:
            raise ConfigError(f"view depth must be >= 0, got {depth}")
        self._settle()
        bid_prices, ask_prices = self._bids_order.prices, self._asks_order.prices
        if depth is not None:
            bid_prices, ask_prices = bid_prices[len(bid_prices) - min(depth, len(bid_prices)):], ask_prices[:depth]
        bids = _levels(self._bids, reversed(bid_prices))
        asks = _levels(self._asks, ask_prices)
        return OrderBook(symbol=self.symbol, bids=bids, asks=asks, sequence=self.sequence,
                         timestamp=self.timestamp)

    def _settle(self) -> None:
        if not (self._pending or self._resort) and len(self._bids_order.prices) == len(self._bids) and (
                len(self._asks_order.prices) == len(self._asks)):
            return  # settled by the read just before (the sync's crossed check, ahead of this view)
        for order, side, index in ((self._bids_order, self._bids, 0), (self._asks_order, self._asks, 1)):
            if not self._resort:
                order.patch(side, (level for pending in self._pending for level in pending[index]), self._prices)
            if self._resort or len(order.prices) != len(side):  # a safety net: the order must cover the side
                order.rebuild(side)
        self._pending.clear()
        self._resort = False

    def __repr__(self) -> str:
        return f"LocalBook({self.symbol!r}, {len(self._bids)} bids, {len(self._asks)} asks, seq={self.sequence})"


class _Side(Mapping[Decimal, Decimal]):
    """One side of a :class:`LocalBook`, live and read-only: a diff's quantity string is parsed when read.

    Not the side's dict itself: held across updates, that would hold their quantities as the
    strings sent (``'2.5' * 2`` is ``'2.52.5'``).
    """

    __slots__ = ("_side",)

    def __init__(self, side: dict[Decimal, Decimal | str]) -> None:
        self._side = side

    def __getitem__(self, price: Decimal) -> Decimal:
        quantity = self._side[price]
        return quantity if isinstance(quantity, Decimal) else _read(self._side, price, quantity)

    def __iter__(self) -> Iterator[Decimal]:
        return iter(self._side)

    def __len__(self) -> int:
        return len(self._side)

    def __contains__(self, price: object) -> bool:
        return price in self._side

    def __repr__(self) -> str:
        try:
            return repr(_read_all(self._side))
        except ProtocolError:  # a level that is no amount: shown as sent, as a repr must not raise
            return repr(dict(self._side))


def _apply(side: dict[Decimal, Decimal | str], levels: RawLevels, prices: dict[str | Decimal, Decimal]) -> None:
    # No per-level type dispatch: the cache takes str and Decimal prices alike (a str never
    # equals a Decimal, so they cannot collide) and Decimal(d) returns d itself, so exact
    # inputs cost nothing extra and strings skip two isinstance calls per level.
    try:
        for price, quantity in levels:
            key = prices.get(price)
            if key is None:
                key = _price(price, prices)
            _set(side, key, Decimal(quantity))
    except InvalidOperation:
        # The venue's schema only says "a string": a typed error, not one from deep in decimal.
        raise ProtocolError(f"not a price level: {price!r}, {quantity!r}") from None


def _set(side: dict[Decimal, Decimal | str], key: Decimal, qty: Decimal) -> None:
    if qty:
        # NaN, Infinity or a negative amount is no quantity: two C calls on the Decimal already
        # built, no parse.
        if qty.is_signed() or not qty.is_finite():
            raise InvalidOperation
        side[key] = qty
    else:  # zero (any exponent or sign) removes the level
        side.pop(key, None)


def _price(price: str | Decimal, prices: dict[str | Decimal, Decimal]) -> Decimal:
    key = Decimal(price)
    # Only new strings get here, so this check is nearly free. NaN cannot be ordered (a
    # signalling one not even hashed) and Infinity is no price: the view would fail. Zero or
    # below is no price either (checked after is_finite: NaN is not compared).
    if not key.is_finite() or key <= 0:
        raise InvalidOperation
    prices[price] = key
    return key


def _update(side: dict[Decimal, Decimal | str], levels: DiffLevels, prices: dict[str | Decimal, Decimal]) -> None:
    # A diff's quantity strings are sorted by their look, with no parse: only zeros (they remove
    # a level) and what cannot be a positive amount need one now. Binance writes "0.00000000",
    # Bybit "0"; "1.5" and "0.25" start, once leading zeros and points are stripped, with a digit
    # from 1 to 9 (between "1" and ":" in code-point order) and are kept for the read to parse.
    quantity: Any  # a str, or a Decimal (which has no strip(): see below)
    try:
        for price, quantity in levels:
            key = prices.get(price)
            if key is None:
                key = _price(price, prices)
            rest = quantity.strip("0.")
            if "1" <= rest < ":":
                side[key] = quantity
            elif rest or quantity.count(".") > 1 or "0" not in quantity:
                _set(side, key, Decimal(quantity))  # "-1", "NaN", "+2", "", "0.0.0": parsed now
            else:
                side.pop(key, None)
    except InvalidOperation:
        raise ProtocolError(f"not a price level: {price!r}, {quantity!r}") from None
    except AttributeError:  # exact levels (Decimal quantities): no string to look at
        _apply(side, levels, prices)


def _read(side: dict[Decimal, Decimal | str], price: Decimal, quantity: str) -> Decimal:
    """The quantity string a diff left at ``price``, parsed and kept as a Decimal."""
    try:
        qty = Decimal(quantity)
        if qty.is_signed() or not qty.is_finite() or not qty:
            raise InvalidOperation
    except InvalidOperation:
        raise ProtocolError(f"not a price level: {price!r}, {quantity!r}") from None
    side[price] = qty
    return qty


def _levels(side: dict[Decimal, Decimal | str], prices: Iterable[Decimal]) -> list[tuple[Decimal, Decimal]]:
    return [(price, qty if isinstance(qty := side[price], Decimal) else _read(side, price, qty)) for price in prices]


def _read_all(side: dict[Decimal, Decimal | str]) -> dict[Decimal, Decimal]:
    for price, quantity in side.items():
        if isinstance(quantity, str):
            _read(side, price, quantity)
    return cast("dict[Decimal, Decimal]", side)  # every quantity is a Decimal now

"""The order book of one symbol and the value types the engine trades in.

All money is ``Decimal``. A book keeps each price level in time priority and counts its
changes as update ids, which the depth streams and snapshots expose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow

ZERO = Decimal(0)
SIM_DECIMALS = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow])
"""The decimal context the sim computes in, its own: a caller's ``getcontext().prec = 6`` would round
its fills and answers (and fail its ``%`` tick checks). 100 digits hold any product of a market's
prices and quantities exactly; the engine divides only with ``//``, which raises rather than round."""
OPEN = ("NEW", "PARTIALLY_FILLED")


@dataclass(frozen=True)
class Market:
    """One listed symbol and its filters."""

    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    mid: Decimal  # where the market driver starts quoting
    max_price: Decimal = Decimal(1_000_000)
    max_qty: Decimal = Decimal(9_000)
    min_notional: Decimal = Decimal(5)
    """Smallest price * quantity the dialects accept (Binance NOTIONAL minNotional, Bybit spot minOrderAmt and
    linear minNotionalValue: 5 USDT on BTCUSDT in their docs' examples). The engine applies it on request only."""


@dataclass
class Balance:
    """One asset of one account; ``locked`` backs open orders and pending withdrawals."""

    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(frozen=True)
class Fill:
    """One trade between a resting (maker) and an incoming (taker) order."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    maker: Order
    taker: Order
    time_ms: int


@dataclass(frozen=True)
class Execution:
    """One side of a fill as its account sees it: the order, whether it rested, and its fee."""

    seq: int
    """Increasing with every execution of the engine: the list endpoints page on it."""
    fill: Fill
    order: Order
    maker: bool
    fee: Decimal
    fee_asset: str


@dataclass(eq=False)
class Order:
    """An order and its live state. Mutable: the engine updates it as it fills."""

    order_id: int
    client_id: str
    account: str
    market: Market
    side: str
    type: str
    tif: str
    price: Decimal | None
    quantity: Decimal
    quote_qty: Decimal | None
    time_ms: int
    status: str = "NEW"
    filled: Decimal = ZERO
    quote_filled: Decimal = ZERO
    locked: Decimal = ZERO
    update_ms: int = 0
    fills: list[Fill] = field(default_factory=list)
    cancel_client_id: str = ""
    """The client id of the request that cancelled it (Binance's cancel ``newClientOrderId``), if one did."""
    stp: str | None = None
    """Its self-trade prevention mode (``EXPIRE_TAKER``, ``EXPIRE_MAKER``, ``EXPIRE_BOTH``), or None for none."""
    margined: bool = False
    """A contract order (Bybit linear): it locks initial margin in the quote (settle) coin, whatever its side."""

    @property
    def symbol(self) -> str:
        """The market's symbol."""
        return self.market.symbol

    @property
    def remaining(self) -> Decimal:
        """Base quantity still to fill."""
        return self.quantity - self.filled

    @property
    def lock_asset(self) -> str:
        """What this order locks: quote to buy, base to sell; a margined one, its margin in quote either way."""
        return self.market.quote if self.side == "BUY" or self.margined else self.market.base


@dataclass
class DepthChange:
    """Levels touched since the last flush and the update ids they span."""

    first_id: int
    last_id: int
    number: int
    """How many depth events this book published, this one included (Bybit's ``u``)."""
    bids: dict[Decimal, Decimal]
    asks: dict[Decimal, Decimal]


@dataclass
class Book:
    """Resting orders of one symbol, each price level in time priority."""

    market: Market
    bids: dict[Decimal, list[Order]] = field(default_factory=dict)
    asks: dict[Decimal, list[Order]] = field(default_factory=dict)
    update_id: int = 1000
    changed_bids: set[Decimal] = field(default_factory=set)
    changed_asks: set[Decimal] = field(default_factory=set)
    pending_from: int | None = None
    flushes: int = 100

    def side(self, side: str) -> dict[Decimal, list[Order]]:
        """The resting orders of ``side`` (BUY = bids)."""
        return self.bids if side == "BUY" else self.asks

    def prices(self, side: str) -> list[Decimal]:
        """Price levels of ``side``, best first."""
        return sorted(self.side(side), reverse=side == "BUY")

    def level_qty(self, side: str, price: Decimal) -> Decimal:
        """Total resting quantity at one level (0 when empty)."""
        return sum((o.remaining for o in self.side(side).get(price, [])), ZERO)

    def levels(self, side: str, limit: int) -> list[tuple[Decimal, Decimal]]:
        """The best ``limit`` aggregated ``(price, quantity)`` levels of ``side``."""
        return [(p, self.level_qty(side, p)) for p in self.prices(side)[:limit]]

    def touch(self, side: str, price: Decimal) -> None:
        """Record a level change as one new update id."""
        self.update_id += 1
        if self.pending_from is None:
            self.pending_from = self.update_id
        (self.changed_bids if side == "BUY" else self.changed_asks).add(price)

    def skip(self, count: int) -> None:
        """Burn ``count`` update ids past every id given so far (the sequence-gap chaos knob).

        A change still pending takes ids after them: GET /api/v3/depth's ``lastUpdateId`` may
        already have told its own ids, so its depth event must start past those too, or a book
        synced from that snapshot would take it as joining and see no gap. Its old ids are the
        lost message's.
        """
        span = 0 if self.pending_from is None else self.update_id - self.pending_from + 1
        self.update_id += count + span
        self.flushes += count
        if self.pending_from is not None:
            self.pending_from = self.update_id - span + 1

    def flush(self) -> DepthChange | None:
        """The levels changed since the last flush, or None when nothing changed."""
        if self.pending_from is None:
            return None
        self.flushes += 1
        change = DepthChange(self.pending_from, self.update_id, self.flushes,
                             {p: self.level_qty("BUY", p) for p in sorted(self.changed_bids, reverse=True)},
                             {p: self.level_qty("SELL", p) for p in sorted(self.changed_asks)})
        self.changed_bids.clear()
        self.changed_asks.clear()
        self.pending_from = None
        return change

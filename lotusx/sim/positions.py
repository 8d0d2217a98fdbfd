"""One-way positions of contract accounts (the Bybit sim's linear category).

A position is a signed size (long above zero) and an average entry price. A fill that adds
to it (or opens it) averages the entry price, weighted by size; one that reduces it leaves the
entry price and realises ``(price - entry) * closed`` (negated for a short); one that takes it
past zero closes it whole, then opens the rest at the fill's price. What is realised
accumulates for ever, as Bybit's ``cumRealisedPnl`` ("all time cumulative realised P&L",
docs/v5/position/position.mdx).

Positions are margined at one fixed leverage (``Positions.leverage``, SimConfig.leverage): a position
holds ``entry * |size| / leverage`` of its settle coin as margin, which the engine keeps locked
(lotusx.sim.engine). The sim has no funding, maintenance margin or liquidation, and one leverage for all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal, localcontext

from lotusx.sim.book import SIM_DECIMALS, ZERO

LEVERAGE = Decimal(10)
"""The sim's one leverage (the docs' position example's "10", docs/v5/position/position.mdx)."""
SETTLE_QUANTUM = Decimal("1e-8")
"""What contract money the sim moves (margin, realised pnl) is rounded to, in the settle coin: an averaged
entry price can be a repeating decimal (3 fills' average), and a ledger must not hold 100-digit balances."""


@dataclass
class Position:
    """One account's position in one symbol; ``seq`` orders positions by creation (the list pages on it)."""

    symbol: str
    seq: int
    created_ms: int
    size: Decimal = ZERO  # signed: long > 0, short < 0
    entry: Decimal = ZERO
    realised: Decimal = ZERO
    updated_ms: int = 0

    def apply(self, side: str, qty: Decimal, price: Decimal, time_ms: int) -> None:
        """Book a fill of ``qty`` at ``price`` on ``side`` (BUY adds to a long, SELL to a short)."""
        with localcontext(SIM_DECIMALS):
            signed = qty if side == "BUY" else -qty
            if self.size == 0 or (self.size > 0) == (signed > 0):  # opens or adds: the entry averaged by size
                total = self.size + signed
                self.entry = (self.entry * abs(self.size) + price * qty) / abs(total)
                self.size = total
            else:  # reduces, closes or flips
                closed = min(qty, abs(self.size))
                direction = 1 if self.size > 0 else -1
                self.realised += (price - self.entry) * closed * direction
                self.size += signed
                if self.size == 0:
                    self.entry = ZERO
                elif (self.size > 0) != (direction > 0):  # flipped: what is left opened at this fill
                    self.entry = price
            self.updated_ms = time_ms

    def margin(self, leverage: Decimal) -> Decimal:
        """Initial margin the position holds: ``entry * |size| / leverage`` (Bybit's positionIM, simplified),
        rounded up to ``SETTLE_QUANTUM``."""
        with localcontext(SIM_DECIMALS):
            return (self.entry * abs(self.size) / leverage).quantize(SETTLE_QUANTUM, ROUND_UP)

    def unrealised(self, mark: Decimal) -> Decimal:
        """``(mark - entry) * size``, signed size: a short gains as the mark falls."""
        with localcontext(SIM_DECIMALS):
            return (mark - self.entry) * self.size if self.size else ZERO


@dataclass
class Positions:
    """Every account's positions, by (account, symbol), created on an account's first fill in a symbol."""

    leverage: Decimal = LEVERAGE
    by_key: dict[tuple[str, str], Position] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def of(self, account: str, symbol: str, now_ms: int) -> Position:
        """``account``'s position in ``symbol`` (flat until its first fill)."""
        key = (account, symbol)
        if key not in self.by_key:
            self.by_key[key] = Position(symbol, next(self._seq), now_ms, updated_ms=now_ms)
        return self.by_key[key]

    def account(self, account: str) -> list[Position]:
        """Every position ``account`` has had, flat ones too."""
        return [p for (owner, _), p in self.by_key.items() if owner == account]

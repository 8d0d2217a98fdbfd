"""``Ladder``: one book side's prices in ascending order, kept sorted lazily at read time."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal


class Ladder:
    """The sorted prices of one side, patched on read from the price levels touched since.

    Updates stay a plain dict write per level; a read re-checks only the touched prices
    against the side (insert the new, drop the gone), so reading after every diff costs
    O(levels changed), not a sort of the whole side.
    """

    __slots__ = ("_members", "prices")

    def __init__(self) -> None:
        self.prices: list[Decimal] = []  # ascending; equal to sorted(side) after each read
        self._members: set[Decimal] = set()

    def rebuild(self, side: Mapping[Decimal, object]) -> None:
        """Sort the whole side afresh (after a snapshot, or when too much changed to patch)."""
        self.prices = sorted(side)
        self._members = set(self.prices)

    def patch(self, side: Mapping[Decimal, object], touched: Iterable[Sequence[str | Decimal]],
              keys: Mapping[str | Decimal, Decimal]) -> None:
        """Bring the order up to date for the prices in ``touched`` (``keys``: price -> Decimal)."""
        members, prices = self._members, self.prices
        for price, _ in touched:
            key = keys.get(price)
            if key is None:  # the price cache was emptied since the update
                key = Decimal(price)
            if key in side:
                if key not in members:
                    members.add(key)
                    insort(prices, key)
            elif key in members:
                members.discard(key)
                del prices[bisect_left(prices, key)]

    def __repr__(self) -> str:
        return f"Ladder({len(self.prices)} prices)"

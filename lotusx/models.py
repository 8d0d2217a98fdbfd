"""Unified models every connector returns. Money is ``Decimal``; symbols are the venue's own."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

import msgspec

from lotusx.kernel.errors import ConfigError

Side = Literal["BUY", "SELL"]
OrderType = Literal["LIMIT", "MARKET", "LIMIT_MAKER"]
TimeInForce = Literal["GTC", "IOC", "FOK"]
Level = tuple[Decimal, Decimal]


class NewOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order to place. ``quote_quantity`` is for MARKET orders sized in the quote asset.

    ``client_order_id`` is generated when ``None``; it is what makes placement retry-safe.
    Sizing is checked here, for every venue: a MARKET order takes exactly one of
    ``quantity`` and ``quote_quantity``, any other type takes ``quantity`` only. (Bybit reads
    a Limit order's ``qty`` in the base coin: a quote amount sent there would buy that many
    coins, not that much money.)
    """

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    quote_quantity: Decimal | None = None
    client_order_id: str | None = None

    def __post_init__(self) -> None:
        if self.type == "MARKET":
            if (self.quantity is None) == (self.quote_quantity is None):
                raise ConfigError("a MARKET order needs exactly one of quantity and quote_quantity")
        elif self.quote_quantity is not None or self.quantity is None:
            raise ConfigError(f"a {self.type} order is sized by quantity (quote_quantity is for MARKET orders)")


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the venue reports it."""

    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    type: str
    status: str
    price: Decimal
    quantity: Decimal
    filled_quantity: Decimal
    time_in_force: str | None = None
    timestamp: int | None = None


class OrderBook(msgspec.Struct, frozen=True, kw_only=True):
    """A book, best levels first; ``sequence`` is the venue's update id.

    ``bids`` and ``asks`` are sequences of exact ``(Decimal, Decimal)`` pairs. A connector may
    fill them with :class:`lotusx.ws.Levels`, which keeps the venue's decimal strings and
    builds the ``Decimal`` pair only for the levels you read (a 100-level book is mostly unread).
    """

    symbol: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    sequence: int
    timestamp: int | None = None

    @property
    def best_bid(self) -> Level | None:
        """The highest bid, or ``None`` on an empty side."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Level | None:
        """The lowest ask, or ``None`` on an empty side."""
        return self.asks[0] if self.asks else None


class Ticker(msgspec.Struct, frozen=True, kw_only=True):
    """Best bid and ask."""

    symbol: str
    bid: Decimal
    bid_quantity: Decimal
    ask: Decimal
    ask_quantity: Decimal
    timestamp: int | None = None


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """One public trade; ``side`` is the taker's side."""

    symbol: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    side: Side
    timestamp: int


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """One asset's balance."""

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        """Free plus locked."""
        return self.free + self.locked


class Withdrawal(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal request."""

    asset: str
    address: str
    amount: Decimal
    network: str | None = None
    tag: str | None = None
    client_id: str | None = None


class WithdrawalStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal as the venue reports it."""

    withdrawal_id: str
    asset: str
    amount: Decimal
    status: str
    address: str
    network: str | None = None
    tx_id: str | None = None

"""A price-time priority matching engine with locked balances, shared by every sim dialect.

Venue-neutral: sides are ``BUY``/``SELL``, types ``LIMIT``/``MARKET``/``LIMIT_MAKER``, time in
force ``GTC``/``IOC``/``FOK``. Dialects translate their own spelling at the edge. All money is
``Decimal``. Fees (``Fees``, none by default) are taken from what each side receives and paid
into the ``FEES`` account, so every asset is still conserved exactly across accounts.

An engine given ``Positions`` trades contracts on margin (Bybit linear; simplified from its unified
account): an order locks initial margin, ``price * quantity / leverage``, in the quote (settle) coin,
buy and sell alike, and never the base coin. A fill moves no base coin: it changes each side's
position (lotusx.sim.positions), whose margin, ``entry * |size| / leverage``, stays locked (taken
over from the order's, released as the position shrinks); realised pnl and the fee are paid in the
settle coin. Realised pnl is settled against the ``CLEARING`` account, so every asset stays conserved.
Margin is rounded up, pnl to the nearest, at ``SETTLE_QUANTUM`` (8 decimals), whatever an averaged entry is.

Simplified: an order locks margin on its whole quantity, even the part that would reduce a position
(Bybit nets that against the position; here it is released when that part fills); margin covers no
fee; nothing is liquidated, so a loss or fee beyond an account's free balance would leave it negative.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal, localcontext
from typing import ParamSpec, TypeVar

from lotusx.kernel.errors import DuplicateClientOrderId, InsufficientBalance, InvalidRequest, NotFound, OrderRejected
from lotusx.sim.book import OPEN, SIM_DECIMALS, ZERO, Balance, Book, DepthChange, Execution, Fill, Market, Order
from lotusx.sim.positions import SETTLE_QUANTUM, Positions

__all__ = ["CLEARING", "FEES", "OPEN", "PREVENTED", "STP_MODES", "ZERO", "Balance", "Book", "DepthChange", "Engine",
           "Execution", "Fees", "Fill", "Ledger", "Listener", "Market", "Order"]


P = ParamSpec("P")
R = TypeVar("R")


def _exact(method: Callable[P, R]) -> Callable[P, R]:
    """``method`` computed in the engine's own decimal context, whatever context its caller set."""
    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(SIM_DECIMALS):
            return method(*args, **kwargs)
    return run


def _crosses(order: Order, price: Decimal) -> bool:
    if order.price is None:
        return True
    return price <= order.price if order.side == "BUY" else price >= order.price


Listener = Callable[[str, Order, list[Fill]], None]
"""Called with ("place" | "fill" | "cancel" | "amend" | "prevent", order, the fills this notice reports); "prevent":
a resting order self-trade prevention took off (status EXPIRED_IN_MATCH)."""

Ledger = dict[str, dict[str, Balance]]
"""Balances by account, then asset: one wallet per account."""


STP_MODES = ("EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
"""Self-trade prevention, by the incoming (taker) order's mode as on both venues (Binance faqs/stp_faq.md,
Bybit docs/v5/smp.mdx): its rest, the resting order of its own account, or both, taken off before they trade."""
PREVENTED = "EXPIRED_IN_MATCH"
"""The status of an order self-trade prevention took off (Binance enums.md; Bybit shows it Cancelled)."""

FEES = "fees"
"""The account the fees charged are paid into (the venue's own)."""
CLEARING = "clearing"
"""The account contract pnl is settled against (the venue's clearing, which stands between the sides).

What one side of a fill realises the other pays only while their entry prices agree (two accounts
trading with each other alone). With a third at another entry, the difference is still unrealised in
open positions: clearing holds it (``-sum(realised)``, which may be negative) and is back to zero
once every position is flat (give or take the pnl's rounding), so each asset's total over all accounts
is conserved exactly."""
EXECUTIONS_KEPT = 100_000
"""Executions an engine keeps per account, the newest (the market maker's account trades for ever)."""


@dataclass(frozen=True)
class Fees:
    """Fee rates of a category: a fill charges its maker ``maker`` and its taker ``taker`` times what they trade,
    plus ``buyer`` for a buying side and ``seller`` for a selling one (Binance's side add-ons,
    faqs/commission_faq.md; 0 on Bybit).

    Spot charges in the asset the side receives (Binance spot; Bybit spot with positive rates, docs
    v5/enum "Spot Fee Currency Instruction"), ``in_quote`` (derivatives) in the quote coin.
    """

    maker: Decimal = ZERO
    taker: Decimal = ZERO
    buyer: Decimal = ZERO
    seller: Decimal = ZERO
    in_quote: bool = False


RECENT_TRADES = 1000
"""Public trades an engine keeps per symbol by default, the newest: the venues list at most 1000 recent trades."""


CLOSED_KEPT = 10_000
"""Closed orders an engine keeps per account, the newest; an older one is forgotten (a query for it
is NotFound, its client id free again). A long-running ``lotusx sim`` must not grow for ever: its
market maker closes about 20 orders a second per book (450 MB an hour kept whole)."""


class Engine:
    """Books and orders of one venue category, balances in its ledger. Single-threaded: event loop only."""

    def __init__(self, markets: list[Market], clock_ms: Callable[[], int], ledger: Ledger | None = None,
                 fees: Fees = Fees(), positions: Positions | None = None, *, ids_per_symbol: bool = False,
                 trades_kept: int = RECENT_TRADES) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.books = {m.symbol: Book(m) for m in markets}
        # Engines given the same ledger lock and settle in one wallet per account (a Bybit unified
        # account trades spot and linear from one); without one, an engine keeps its own.
        self.accounts: Ledger = {} if ledger is None else ledger
        self.orders: dict[int, Order] = {}
        # The open ones, oldest first: the driver asks for its resting orders every step, and
        # scanning every order ever placed would make a long-running sim slower by the minute.
        self._open: dict[int, Order] = {}
        self.trades: dict[str, list[Fill]] = {m.symbol: [] for m in markets}
        self.listeners: list[Listener] = []
        self._clock_ms = clock_ms
        self._ids = itertools.count(1)
        # Binance numbers each symbol's trades 1, 2, 3... (a client finds a lost one by the jump): one
        # count per symbol; otherwise one for the engine (Bybit's execIds are unique across symbols).
        shared = itertools.count(1)
        self.trades_kept = trades_kept
        self._trade_ids: defaultdict[str, Iterator[int]] = defaultdict(
            (lambda: itertools.count(1)) if ids_per_symbol else (lambda: shared))
        self._client_ids: dict[tuple[str, str], Order] = {}
        self.closed_kept = CLOSED_KEPT
        self._closed: defaultdict[str, deque[Order]] = defaultdict(deque)  # per account, oldest first
        self.fees = fees
        # Contracts (Bybit linear) are margin-traded and fill into these positions; None: spot, coins change hands.
        self.positions = positions
        # Both sides of every fill, per account, oldest first: the venues' own-trade lists read them.
        self._executions: defaultdict[str, deque[Execution]] = defaultdict(lambda: deque(maxlen=EXECUTIONS_KEPT))
        self._execution_seq = itertools.count(1)

    def __repr__(self) -> str:
        return f"Engine(markets={list(self.markets)}, orders={len(self.orders)})"

    def list_market(self, market: Market) -> None:
        """List ``market`` now, its book empty: one quoted in a coin the sim's accounts start without (a USDC
        perpetual) cannot be in ``SimConfig.markets``, whose books the market maker seeds at start."""
        self.markets[market.symbol], self.books[market.symbol] = market, Book(market)
        self.trades[market.symbol] = []

    # ===== balances =====

    def balance(self, account: str, asset: str) -> Balance:
        """The (created on first use) balance of ``asset`` in ``account``."""
        return self.accounts.setdefault(account, {}).setdefault(asset, Balance())

    @_exact
    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        """Credit ``amount`` of ``asset`` to ``account``."""
        self.balance(account, asset).free += amount

    @_exact
    def lock(self, account: str, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked, or raise InsufficientBalance."""
        bal = self.balance(account, asset)
        if amount > bal.free:
            raise InsufficientBalance(f"{asset} free {bal.free} < {amount}")
        bal.free -= amount
        bal.locked += amount

    @_exact
    def totals(self) -> dict[str, Decimal]:
        """Free plus locked per asset over all accounts of the ledger (conserved by matching)."""
        out: dict[str, Decimal] = {}
        for assets in self.accounts.values():
            for asset, bal in assets.items():
                out[asset] = out.get(asset, ZERO) + bal.free + bal.locked
        return out

    # ===== orders =====

    def market(self, symbol: str) -> Market:
        """The listed market ``symbol`` or InvalidRequest."""
        if symbol not in self.markets:
            raise InvalidRequest("Invalid symbol.", code="symbol")
        return self.markets[symbol]

    def find(self, account: str, symbol: str, order_id: int | None = None, client_id: str | None = None) -> Order:
        """One order of ``account`` by id or client id, or NotFound."""
        order = self.orders.get(order_id) if order_id is not None else self._client_ids.get((account, client_id or ""))
        if order is None or order.account != account or order.symbol != symbol:
            raise NotFound("Order does not exist.")
        return order

    def orders_of(self, account: str, symbol: str | None = None) -> list[Order]:
        """Every order of ``account`` (optionally of one symbol), open or closed, oldest first."""
        return [o for o in self.orders.values() if o.account == account and symbol in (None, o.symbol)]

    def executions(self, account: str, symbol: str | None = None) -> list[Execution]:
        """Every kept execution of ``account`` (optionally of one symbol), oldest first."""
        return [e for e in self._executions.get(account, ()) if symbol in (None, e.fill.symbol)]

    def open_orders(self, account: str, symbol: str | None = None) -> list[Order]:
        """Open orders of ``account`` (optionally of one symbol), oldest first."""
        return [o for o in self._open.values() if o.account == account and symbol in (None, o.symbol)]

    @_exact
    def place(self, account: str, symbol: str, side: str, type: str, *, quantity: Decimal | None = None,
              price: Decimal | None = None, tif: str = "GTC", client_id: str | None = None,
              quote_qty: Decimal | None = None, client_ids_reusable: bool = True,
              cancel_crossing_maker: bool = False, min_notional: Decimal = ZERO, stp: str | None = None) -> Order:
        """Validate, lock, match and (GTC limit remainder) rest a new order.

        Binance by default; a dialect opts into its venue's rules: ``client_ids_reusable=False``
        refuses a closed order's client id too (Bybit's orderLinkId is used once), and
        ``cancel_crossing_maker`` accepts a LIMIT_MAKER that would take, then cancels it (Bybit
        PostOnly) instead of rejecting it; ``min_notional`` rejects an order worth less ("Filter failure:
        NOTIONAL"), a MARKET order valued at its quote amount or else at the last trade price.
        ``stp``, one of ``STP_MODES``, keeps it from trading with a resting order of ``account``; without
        one it does (the venues' NONE).
        """
        market = self.market(symbol)
        order_id = next(self._ids)
        client_id = client_id or f"sim-{order_id}"
        dup = self._client_ids.get((account, client_id))
        if dup is not None and (dup.status in OPEN or not client_ids_reusable):
            raise DuplicateClientOrderId("Duplicate order sent.")
        self._validate(market, side, type, quantity, price, quote_qty)
        if min_notional and self._notional(market, type, quantity, price, quote_qty) < min_notional:
            raise OrderRejected("Filter failure: NOTIONAL")
        if tif not in ("GTC", "IOC", "FOK"):
            raise InvalidRequest("Invalid time in force.", code="tif")
        if stp not in (None, *STP_MODES):
            raise InvalidRequest("Invalid self-trade prevention mode.", code="stp")
        now = self._clock_ms()
        order = Order(order_id, client_id, account, market, side, type, "GTC" if type == "LIMIT_MAKER" else tif,
                      None if type == "MARKET" else price, quantity or ZERO, quote_qty, now, update_ms=now, stp=stp,
                      margined=self.positions is not None)
        book = self.books[symbol]
        would_take = type == "LIMIT_MAKER" and self._takeable(order, book) > 0
        if would_take and not cancel_crossing_maker:
            raise OrderRejected("Order would immediately match and take.")
        self._lock_for(order, book)
        self.orders[order_id] = self._open[order_id] = order
        self._client_ids[(account, client_id)] = order
        if would_take:
            self._finish(order, "CANCELED")
        elif order.quantity == 0 or (order.tif == "FOK" and self._takeable(order, book) < order.quantity):
            self._finish(order, "EXPIRED")
        else:
            self._match(order, book)
            if order.status not in OPEN:  # filled, or its rest taken off by self-trade prevention
                pass
            elif order.remaining > 0 and order.type != "MARKET" and order.tif == "GTC":
                self._rest(order, book)
            else:
                self._finish(order, "EXPIRED")
        self._notify("place", order, order.fills)
        return order

    @_exact
    def cancel(self, account: str, symbol: str, order_id: int | None = None, client_id: str | None = None, *,
               cancel_client_id: str = "") -> Order:
        """Cancel an open order and release its lock, or NotFound; ``cancel_client_id`` names the cancel."""
        order = self.find(account, symbol, order_id, client_id)
        if order.status not in OPEN:
            raise NotFound("Unknown order sent.")
        order.cancel_client_id = cancel_client_id
        book = self.books[symbol]
        level = book.side(order.side)[order.price]  # type: ignore[index]  # open orders always rest at a price
        level.remove(order)
        if not level:
            del book.side(order.side)[order.price]  # type: ignore[arg-type]
        book.touch(order.side, order.price)  # type: ignore[arg-type]
        self._finish(order, "CANCELED")
        self._notify("cancel", order, [])
        return order

    @_exact
    def amend(self, account: str, symbol: str, order_id: int | None = None, client_id: str | None = None, *,
              quantity: Decimal | None = None, price: Decimal | None = None, new_client_id: str | None = None,
              cancel_crossing_maker: bool = False) -> Order:
        """Change an open order in place (its id kept): NotFound for one not open, OrderRejected for a bad amount.

        ``quantity`` is the order's whole size, fills included, and must stay above what has filled.
        A lower quantity at the same price keeps the order's place in its level; a new price or a
        larger quantity moves it to the back, at a crossing price first trading as a taker. A
        LIMIT_MAKER that would take is refused, the order unchanged, unless
        ``cancel_crossing_maker`` (Bybit PostOnly), which cancels it. ``new_client_id`` renames it.
        """
        order = self.find(account, symbol, order_id, client_id)
        if order.status not in OPEN:
            raise NotFound("Order does not exist.")
        market, book = order.market, self.books[symbol]
        new_qty = order.quantity if quantity is None else quantity
        new_price = order.price if price is None else price
        self._validate(market, order.side, order.type, new_qty, new_price, None)
        if new_qty <= order.filled:
            raise OrderRejected("The modified quantity cannot be less than or equal to the filled quantity.")
        moved = new_price != order.price or new_qty > order.quantity
        probe = Order(order.order_id, order.client_id, account, market, order.side, order.type, order.tif, new_price,
                      new_qty, None, order.time_ms, stp=order.stp)
        would_take = moved and order.type == "LIMIT_MAKER" and self._takeable(probe, book) > 0
        if would_take and not cancel_crossing_maker:
            raise OrderRejected("Order would immediately match and take.")
        left = new_qty - order.filled
        if order.margined:
            amount = self._margin(probe, book, left)
        else:
            amount = left * new_price if order.side == "BUY" else left  # type: ignore[operator]
        bal = self.balance(account, order.lock_asset)
        if amount - order.locked > bal.free:
            raise InsufficientBalance(f"{order.lock_asset} free {bal.free} < {amount - order.locked}")
        bal.free += order.locked - amount
        bal.locked += amount - order.locked
        order.locked = amount
        if new_client_id is not None and new_client_id != order.client_id:
            self._client_ids.pop((account, order.client_id), None)
            order.client_id = new_client_id
            self._client_ids[(account, new_client_id)] = order
        if moved:
            level = book.side(order.side)[order.price]  # type: ignore[index]  # open orders always rest at a price
            level.remove(order)
            if not level:
                del book.side(order.side)[order.price]  # type: ignore[arg-type]
            book.touch(order.side, order.price)  # type: ignore[arg-type]
        order.quantity, order.price, order.update_ms = new_qty, new_price, self._clock_ms()
        if not moved:
            book.touch(order.side, order.price)  # type: ignore[arg-type]  # the level's quantity changed
        elif would_take:
            self._finish(order, "CANCELED")
        else:
            taken = len(order.fills)
            self._match(order, book)
            if order.status in OPEN and order.remaining > 0:  # not taken off by self-trade prevention
                self._rest(order, book)
            self._notify("amend", order, order.fills[taken:])
            return order
        self._notify("amend", order, [])
        return order

    def cancel_all(self, account: str, symbol: str, *, cancel_client_id: str = "", limit: int | None = None
                   ) -> list[Order]:
        """Cancel the open orders of ``account`` on ``symbol`` (at most ``limit``, oldest first), each as ``cancel``."""
        self.market(symbol)
        return [self.cancel(account, symbol, order.order_id, cancel_client_id=cancel_client_id)
                for order in self.open_orders(account, symbol)[:limit]]

    # ===== mechanism =====

    def _validate(self, market: Market, side: str, type: str, quantity: Decimal | None, price: Decimal | None,
                  quote_qty: Decimal | None) -> None:
        if side not in ("BUY", "SELL"):
            raise InvalidRequest("Invalid side.", code="side")
        if type not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise InvalidRequest("Invalid order type.", code="type")
        if type != "MARKET" and (price is None or not 0 < price <= market.max_price or price % market.tick != 0):
            raise OrderRejected("Filter failure: PRICE_FILTER")
        if type == "MARKET" and quote_qty is not None:
            if quote_qty <= 0 or quantity is not None:
                raise InvalidRequest("quoteOrderQty must be positive and alone.", code="quoteOrderQty")
            return
        if quantity is None or not 0 < quantity <= market.max_qty or quantity % market.step != 0:
            raise OrderRejected("Filter failure: LOT_SIZE")

    def _notional(self, market: Market, type: str, quantity: Decimal | None, price: Decimal | None,
                  quote_qty: Decimal | None) -> Decimal:
        """What a validated order is worth in quote; a MARKET order has no price, so the last trade's stands in."""
        if quote_qty is not None:
            return quote_qty
        trades = self.trades[market.symbol]
        reference = price if type != "MARKET" and price is not None else (trades[-1].price if trades else market.mid)
        return (quantity or ZERO) * reference

    def _offered(self, order: Order, book: Book) -> Iterator[tuple[Decimal, Decimal]]:
        """(price, base quantity) the opposite side offers ``order`` now, best first, within its price.

        With self-trade prevention the account's own resting orders are not there to trade: skipped
        (EXPIRE_MAKER takes them off and goes on), or the end of what it can trade (its other modes).
        """
        opposite = "SELL" if order.side == "BUY" else "BUY"
        for price in book.prices(opposite):
            if not _crosses(order, price):
                return
            if order.stp is None:
                yield price, book.level_qty(opposite, price)
                continue
            available = ZERO
            for maker in book.side(opposite)[price]:
                if maker.account == order.account:
                    if order.stp != "EXPIRE_MAKER":
                        if available:
                            yield price, available
                        return
                    continue
                available += maker.remaining
            if available:
                yield price, available

    def _takeable(self, order: Order, book: Book) -> Decimal:
        """Base quantity the opposite side could fill right now within the order's price."""
        return sum((qty for _, qty in self._offered(order, book)), ZERO)

    def _walk(self, order: Order, book: Book) -> tuple[Decimal, Decimal]:
        """(base, quote) a market order would trade against the book now."""
        base = quote = ZERO
        for price, avail in self._offered(order, book):
            if order.quote_qty is not None:
                # Whole steps the quote left buys, by integer division: a rounded quotient could round up.
                take = min(avail, (order.quote_qty - quote) // (price * order.market.step) * order.market.step)
            else:
                take = min(avail, order.quantity - base)
            if take <= 0:
                break
            base += take
            quote += take * price
        return base, quote

    def _margin(self, order: Order, book: Book, quantity: Decimal) -> Decimal:
        """Initial margin of ``quantity`` of a contract order: what it would take now at the book's
        prices, the rest at its own (where it rests, and fills as a maker), over the leverage.

        ``qty * price / leverage`` summed over the fills to come (rounded up to ``SETTLE_QUANTUM``), so
        each fill takes over its share for the position (_settle) and a filled order has none left.
        """
        assert self.positions is not None  # only margined orders ask
        opposite = "SELL" if order.side == "BUY" else "BUY"
        taken = value = ZERO
        for price in book.prices(opposite):
            if taken >= quantity or not _crosses(order, price):
                break
            take = min(book.level_qty(opposite, price), quantity - taken)
            taken, value = taken + take, value + take * price
        if order.price is not None:  # a market order's unfilled rest expires: it needs nothing
            value += (quantity - taken) * order.price
        return (value / self.positions.leverage).quantize(SETTLE_QUANTUM, ROUND_UP)

    def _lock_for(self, order: Order, book: Book) -> None:
        if order.margined:
            amount = self._margin(order, book, order.quantity)
        elif order.type != "MARKET":
            amount = order.quantity * order.price if order.side == "BUY" else order.quantity  # type: ignore[operator]
        else:
            base, quote = self._walk(order, book)
            if order.quote_qty is not None:
                order.quantity = base  # a quote-sized market order fills exactly what the walk found
            amount = quote if order.side == "BUY" else base
        self.lock(order.account, order.lock_asset, amount)
        order.locked = amount

    def _match(self, taker: Order, book: Book) -> None:
        opposite = "SELL" if taker.side == "BUY" else "BUY"
        for price in book.prices(opposite):
            if taker.remaining <= 0 or taker.status not in OPEN or not _crosses(taker, price):
                break
            level = book.side(opposite)[price]
            while level and taker.remaining > 0 and taker.status in OPEN:
                maker = level[0]
                if taker.stp is not None and maker.account == taker.account:
                    self._prevent(taker, maker, level)
                    continue
                qty = min(maker.remaining, taker.remaining)
                self._trade(maker, taker, price, qty)
                if maker.remaining == 0:
                    level.pop(0)
                    self._finish(maker, "FILLED")
                self._notify("fill", maker, maker.fills[-1:])
            if not level:
                del book.side(opposite)[price]
            book.touch(opposite, price)
        if taker.status not in OPEN:
            return
        if taker.remaining == 0:
            self._finish(taker, "FILLED")
        elif taker.filled > 0:
            taker.status = "PARTIALLY_FILLED"

    def _prevent(self, taker: Order, maker: Order, level: list[Order]) -> None:
        """Self-trade prevention between ``taker`` and its account's resting ``maker`` (the head of ``level``).

        The taker's mode decides: EXPIRE_MAKER and EXPIRE_BOTH take the maker off (its lock
        released, a "prevent" notice), EXPIRE_TAKER and EXPIRE_BOTH the taker's rest (its notice is
        the placement's). Nothing trades, so no fee is charged.
        """
        if taker.stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
            level.pop(0)
            self._finish(maker, PREVENTED)
            self._notify("prevent", maker, [])
        if taker.stp in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
            self._finish(taker, PREVENTED)

    def _trade(self, maker: Order, taker: Order, price: Decimal, qty: Decimal) -> None:
        fill = Fill(next(self._trade_ids[maker.symbol]), maker.symbol, price, qty, maker, taker, self._clock_ms())
        cost = qty * price
        if self.positions is not None:
            for order in (maker, taker):  # one account on both sides books both into its one position
                self._settle(order, price, qty, fill.time_ms)
        else:
            self._swap(maker, taker, price, qty)
        for order in (maker, taker):
            self._charge(fill, order)
        for order in (maker, taker):
            order.filled += qty
            order.quote_filled += cost
            order.update_ms = fill.time_ms
            order.fills.append(fill)
            if order is maker:
                order.status = "PARTIALLY_FILLED"
        self.trades[maker.symbol].append(fill)
        del self.trades[maker.symbol][:-self.trades_kept]  # bounded: a long-running sim must not grow for ever

    def _swap(self, maker: Order, taker: Order, price: Decimal, qty: Decimal) -> None:
        """Spot: the buyer pays the quote coin it locked and receives the base coin the seller locked."""
        buyer, seller = (maker, taker) if maker.side == "BUY" else (taker, maker)
        cost = qty * price
        buyer_spent = qty * buyer.price if buyer.type != "MARKET" else cost  # type: ignore[operator]
        self.balance(buyer.account, buyer.market.quote).locked -= buyer_spent
        self.balance(buyer.account, buyer.market.quote).free += buyer_spent - cost
        buyer.locked -= buyer_spent
        self.balance(buyer.account, buyer.market.base).free += qty
        self.balance(seller.account, seller.market.base).locked -= qty
        seller.locked -= qty
        self.balance(seller.account, seller.market.quote).free += cost

    def _settle(self, order: Order, price: Decimal, qty: Decimal, time_ms: int) -> None:
        """Contracts: book ``order``'s side of a fill into its position, in the settle coin only.

        The fill's share of the order's margin is released and the position's margin change locked
        (an opening fill's share is exactly what its position margin grows by; a reducing one's is
        freed with the margin the position no longer needs); realised pnl is paid by clearing.
        """
        assert self.positions is not None
        leverage, coin = self.positions.leverage, order.market.quote
        position = self.positions.of(order.account, order.symbol, time_ms)
        margin, realised = position.margin(leverage), position.realised
        position.apply(order.side, qty, price, time_ms)
        # Each fill's share, rounded as the order's lock was; a share rounded up past what is left takes what is.
        released = min(order.locked, (qty * price / leverage).quantize(SETTLE_QUANTUM, ROUND_UP))
        held = position.margin(leverage) - margin
        pnl = (position.realised - realised).quantize(SETTLE_QUANTUM, ROUND_HALF_EVEN)
        order.locked -= released
        bal = self.balance(order.account, coin)
        bal.locked += held - released
        bal.free += released - held + pnl
        self.balance(CLEARING, coin).free -= pnl

    def _charge(self, fill: Fill, order: Order) -> None:
        """Record ``order``'s side of ``fill`` and take its fee from the asset it is charged in."""
        maker = order is fill.maker
        # Its role's rate plus its side's (faqs/commission_faq.md "Notional value * (taker + seller)").
        rate = (self.fees.maker if maker else self.fees.taker) + (self.fees.buyer if order.side == "BUY"
                                                                  else self.fees.seller)
        market = order.market
        if self.fees.in_quote or order.side == "SELL":
            asset, fee = market.quote, fill.qty * fill.price * rate
        else:
            asset, fee = market.base, fill.qty * rate
        if fee:
            self.balance(order.account, asset).free -= fee
            self.balance(FEES, asset).free += fee
        self._executions[order.account].append(Execution(next(self._execution_seq), fill, order, maker, fee, asset))

    def _rest(self, order: Order, book: Book) -> None:
        book.side(order.side).setdefault(order.price, []).append(order)  # type: ignore[arg-type]
        book.touch(order.side, order.price)  # type: ignore[arg-type]

    def _finish(self, order: Order, status: str) -> None:
        order.status = status
        if self._open.pop(order.order_id, None) is not None:
            self._forget_old(order)
        order.update_ms = self._clock_ms()
        if order.locked:
            bal = self.balance(order.account, order.lock_asset)
            bal.locked -= order.locked
            bal.free += order.locked
            order.locked = ZERO

    def _forget_old(self, closed: Order) -> None:
        kept = self._closed[closed.account]
        kept.append(closed)
        while len(kept) > self.closed_kept:
            old = kept.popleft()
            del self.orders[old.order_id]
            if self._client_ids.get((old.account, old.client_id)) is old:
                del self._client_ids[(old.account, old.client_id)]

    def _notify(self, reason: str, order: Order, fills: list[Fill]) -> None:
        for listener in self.listeners:
            listener(reason, order, fills)

"""Unified models every connector returns. Money is ``Decimal``; symbols are the venue's own."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any, Literal, get_args

import msgspec

from lotusx.kernel.client import param_value
from lotusx.kernel.errors import ConfigError, OrderOutsideRules
from lotusx.ws.exact import exact_add

Side = Literal["BUY", "SELL"]
OrderType = Literal["LIMIT", "MARKET", "LIMIT_MAKER"]
TimeInForce = Literal["GTC", "IOC", "FOK"]
SelfTradePrevention = Literal["cancel_taker", "cancel_maker", "cancel_both", "decrement", "transfer"]
Level = tuple[Decimal, Decimal]
_SIDES, _TYPES, _TIFS = get_args(Side), get_args(OrderType), get_args(TimeInForce)
_STPS = get_args(SelfTradePrevention)


def _one_of(owner: str, name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{owner}.{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


_ZERO = Decimal(0)


def _exact(owner: Any, name: str, value: Any) -> None:
    """Check that ``value``, field ``name`` of ``owner``, is exact, positive money; an ``int`` becomes a ``Decimal``.

    A float is refused here, before anything is sent: ``0.1`` is not 0.1, and a venue would
    be sent (and a JSON body would carry) the float's binary approximation. So is an amount no
    venue reads (past 20 whole or fraction digits: an unquantized ``qty / 3``, a ``1E+999999999``).
    """
    if value is None:
        return
    if type(value) is not Decimal or not (value.is_finite() and value > _ZERO):
        value = _convert(owner, name, value)
    try:
        param_value(value)  # the text it would be sent as: built here, so a refusal comes now
    except ConfigError as exc:
        raise ConfigError(f"{type(owner).__name__}.{name}: {exc}") from None


def _convert(owner: Any, name: str, value: Any) -> Decimal:
    """``value`` as the positive, finite Decimal it stands for, or a ``ConfigError`` saying what to pass."""
    where = f"{type(owner).__name__}.{name}"
    if isinstance(value, float):
        raise ConfigError(f"{where} is a float ({value!r}): money is exact, pass Decimal({str(value)!r})")
    if isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
        msgspec.structs.force_setattr(owner, name, amount)
    elif isinstance(value, Decimal):
        amount = value
    else:
        raise ConfigError(f"{where} must be a Decimal, got {type(value).__name__} {value!r}: "
                          f"pass Decimal({str(value)!r})")
    if not (amount.is_finite() and amount > _ZERO):
        raise ConfigError(f"{where} must be a positive, finite amount, got {amount}")
    return amount


def _rounded_amount(method: str, name: str, value: object) -> None:
    """``ConfigError`` unless ``value``, given to ``method`` to round, is a ``Decimal`` (or ``int``)."""
    if isinstance(value, float):
        raise ConfigError(f"{method}: {name} is a float ({value!r}): money is exact, pass Decimal({str(value)!r})")
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise ConfigError(f"{method}: {name} must be a Decimal, got {type(value).__name__} {value!r}")


def check_several(name: str, values: object) -> None:
    """``ConfigError`` for a str where a collection of them is asked: iterated, it would be its letters."""
    if isinstance(values, str | bytes):
        raise ConfigError(f"{name} is a collection, got the str {values!r}: pass [{values!r}]")


def check_count(name: str, value: int | None, *, none: str | None = None) -> None:
    """``ConfigError`` unless ``value`` is a whole number >= 1 (or ``None``, when ``none`` says what that means).

    For a book's ``depth`` or a list's ``limit``: 0 would ask for an empty book, silently.
    """
    if value is None and none is not None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        also = f" (or None: {none})" if none is not None else ""
        raise ConfigError(f"{name} must be a whole number >= 1{also}, got {value!r}")


def amend_amounts(price: object, quantity: object) -> None:
    """``ConfigError`` unless an amend asks a new ``price`` or ``quantity`` (or both), each exact positive money.

    The same rule as :class:`NewOrder`'s amounts (no float, no zero or negative amount, at most 20
    whole or fraction digits), checked before anything is sent.
    """
    if price is None and quantity is None:
        raise ConfigError("amend_order needs a new price or a new quantity (or both)")
    for name, value in (("price", price), ("quantity", quantity)):
        if value is None:
            continue
        if isinstance(value, float):
            raise ConfigError(f"amend_order {name} is a float ({value!r}): money is exact, "
                              f"pass Decimal({str(value)!r})")
        if type(value) is not Decimal or not (value.is_finite() and value > _ZERO):
            raise ConfigError(f"amend_order {name} must be a positive, finite Decimal, got {value!r}")
        try:
            param_value(value)
        except ConfigError as exc:
            raise ConfigError(f"amend_order {name}: {exc}") from None


_IMPLIED_TIF = {"MARKET": "IOC", "LIMIT_MAKER": "GTC"}  # what these types behave as, on every venue


class NewOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order to place. ``quote_quantity`` is for MARKET orders sized in the quote asset.

    ``client_order_id`` is generated when ``None``; it is what makes placement retry-safe.
    Amounts are exact: a ``Decimal`` (an ``int`` is taken as one), never a float, of at most
    20 whole or fraction digits (trailing zeros aside: quantize a computed ``qty / 3``); ``side``,
    ``type`` and ``time_in_force`` are upper case, as the type hints spell them; a LIMIT or
    LIMIT_MAKER order has a price; a MARKET order is IOC and a LIMIT_MAKER GTC by their type (any
    other ``time_in_force`` is refused: the venues drop it). Sizing is checked here too, for every
    venue: a MARKET order takes exactly one of ``quantity`` and ``quote_quantity``, any other type
    takes ``quantity`` only. (Bybit reads
    a Limit order's ``qty`` in the base coin: a quote amount sent there would buy that many
    coins, not that much money.)

    ``self_trade_prevention`` says what happens when the order would trade with a resting order of
    the same account: ``"cancel_taker"`` takes this order's rest off, ``"cancel_maker"`` takes the
    resting order off and trades on, ``"cancel_both"`` both. Binance's selfTradePreventionMode
    EXPIRE_TAKER/EXPIRE_MAKER/EXPIRE_BOTH (faqs/stp_faq.md), Bybit's smpType
    CancelTaker/CancelMaker/CancelBoth (docs/v5/smp.mdx); on both venues the incoming order's mode
    decides. An order so taken off is reported ``EXPIRED_IN_MATCH`` by Binance and ``CANCELED`` by
    Bybit (its Cancelled, cancelType CancelBySmp). ``None`` sends nothing: the venue's default applies (a
    symbol's defaultSelfTradePreventionMode on Binance; on Bybit none, but on its compliant sites SMP is on).
    Binance only: ``"decrement"`` (DECREMENT) takes the overlap off both orders, neither trades, and
    the one with nothing left expires (both if equal), ``EXPIRED_IN_MATCH``; ``"transfer"``
    (TRANSFER) is DECREMENT between orders of one account, and between accounts of one
    tradeGroupId also moves the prevented quantity and its notional between them when the resting
    order has TRANSFER too (faqs/stp_faq.md). A symbol allows only the modes of its
    allowedSelfTradePreventionModes (exchangeInfo); another is refused, -1013. Bybit's smpType has
    neither: its connectors refuse them with a ``ConfigError`` before sending anything.
    """

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    quote_quantity: Decimal | None = None
    client_order_id: str | None = None
    self_trade_prevention: SelfTradePrevention | None = None

    def __post_init__(self) -> None:
        if self.side not in _SIDES or self.type not in _TYPES or (
                self.time_in_force is not None and self.time_in_force not in _TIFS) or (
                self.self_trade_prevention is not None and self.self_trade_prevention not in _STPS):
            _one_of("NewOrder", "side", self.side, _SIDES)
            _one_of("NewOrder", "type", self.type, _TYPES)
            if self.time_in_force is not None:
                _one_of("NewOrder", "time_in_force", self.time_in_force, _TIFS)
            _one_of("NewOrder", "self_trade_prevention", self.self_trade_prevention, _STPS)
        implied = _IMPLIED_TIF.get(self.type)
        if implied is not None and self.time_in_force not in (None, implied):
            # Binance refuses a time in force on these (-1106), Bybit drops it ("Market order will
            # always use IOC"; a maker is PostOnly): a FOK market order would fill in part, an IOC
            # maker would rest.
            raise ConfigError(f"a {self.type} order is {implied} by its type: time_in_force "
                              f"{self.time_in_force!r} would be dropped by the venue; leave it None")
        if self.type == "MARKET" and self.price is not None:
            # Binance refuses one (-1106), Bybit ignores it: either way it would not cap the fill.
            raise ConfigError("a MARKET order takes no price (it fills at the market): leave price None, "
                              "or place a LIMIT order with time_in_force='IOC' to cap the price")
        _exact(self, "quantity", self.quantity)
        _exact(self, "price", self.price)
        _exact(self, "quote_quantity", self.quote_quantity)
        if self.type != "MARKET" and self.price is None:
            raise ConfigError(f"a {self.type} order needs a price")
        if self.type == "MARKET":
            if (self.quantity is None) == (self.quote_quantity is None):
                raise ConfigError("a MARKET order needs exactly one of quantity and quote_quantity")
        elif self.quote_quantity is not None or self.quantity is None:
            raise ConfigError(f"a {self.type} order is sized by quantity (quote_quantity is for MARKET orders)")


class Amend(msgspec.Struct, frozen=True, kw_only=True):
    """One order of an ``amend_orders`` call: named by ``order_id`` or ``client_order_id`` (exactly one), and
    its new ``price`` and/or ``quantity``, as ``amend_order`` takes them.

    ``quantity`` is the order's whole size, what has filled included. Amounts are exact positive
    ``Decimal`` s (an ``int`` is taken as one), never a float, checked here, before anything is sent.
    """

    order_id: str | int | None = None
    client_order_id: str | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.order_id is None) == (self.client_order_id is None):
            raise ConfigError("Amend: give exactly one of order_id and client_order_id")
        if self.price is None and self.quantity is None:
            raise ConfigError("Amend needs a new price or a new quantity (or both)")
        _exact(self, "price", self.price)
        _exact(self, "quantity", self.quantity)


# The rules' own arithmetic context: a caller's ``getcontext().prec = 6`` would round a notional or
# fail a ``%`` (a quotient past the precision is InvalidOperation). 100 digits hold any product or
# quotient of 20+20-digit amounts (NewOrder's bound) and a venue's ticks exactly; rounding never happens.
_RULES = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow])


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A symbol's trading rules, exact as the venue states them; ``None`` where it states no such rule.

    ``trading``: the venue takes orders on it now. ``tick_size`` steps prices, ``step_size``
    quantities; ``min_notional`` is the smallest ``price * quantity`` an order may be worth.
    ``max_market_quantity`` caps a MARKET order where the venue states a cap of its own for one
    (Bybit's ``maxMktOrderQty``, spot ``maxMarketOrderQty``: lower than the limit order's; Binance's
    MARKET_LOT_SIZE ``maxQty``, or LOT_SIZE's when lower, since both bind a MARKET order there), and
    ``max_post_only_quantity`` a LIMIT_MAKER order (Bybit spot's ``postOnlyMaxLimitOrderSize``: above
    the limit order's); ``None``, ``max_quantity`` caps that type too. A venue's "disabled" value
    (Binance's 0 tickSize or maxPrice) is ``None`` here, never 0.
    :meth:`round_price`, :meth:`round_quantity` and :meth:`check` are what a quoting loop calls per order.
    """

    symbol: str
    base: str
    quote: str
    trading: bool
    tick_size: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    step_size: Decimal | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    min_notional: Decimal | None = None
    max_market_quantity: Decimal | None = None
    max_post_only_quantity: Decimal | None = None

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """``price`` on the tick, never more aggressive than asked: a BUY rounds down, a SELL up.

        A price already on the tick (or no tick stated) comes back as it is. A side other than
        ``"BUY"``/``"SELL"`` (``"buy"``) is a ``ConfigError``: taken as a SELL, a buy would round up.
        """
        _one_of("Instrument.round_price", "side", side, _SIDES)
        _rounded_amount("round_price", "price", price)
        tick = self.tick_size
        if tick is None or not _RULES.remainder(price, tick):
            return price
        down = _RULES.multiply(_RULES.divide_int(price, tick), tick)
        return down if side == "BUY" else _RULES.add(down, tick)

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """``quantity`` down to the step (never more than asked); as it is when on the step or no step is stated."""
        _rounded_amount("round_quantity", "quantity", quantity)
        step = self.step_size
        if step is None or not _RULES.remainder(quantity, step):
            return quantity
        return _RULES.multiply(_RULES.divide_int(quantity, step), step)

    def check(self, order: NewOrder) -> None:
        """Raise :class:`~lotusx.OrderOutsideRules` if the venue would refuse ``order`` by these rules.

        Price (LIMIT and LIMIT_MAKER): on the tick, within min/max price; quantity: on the step,
        within min/max quantity (a MARKET order's max: ``max_market_quantity``, a LIMIT_MAKER's:
        ``max_post_only_quantity``, when stated);
        ``price * quantity`` at least ``min_notional``. A MARKET order has no price: its quantity is
        checked, its value is not (the venue values it at the market).
        """
        if order.symbol != self.symbol:
            raise ConfigError(f"{order.symbol} order checked against the rules of {self.symbol}")
        if not self.trading:
            raise OrderOutsideRules(f"{self.symbol} is not trading now: the venue takes no orders on it",
                                    rule="trading", allowed=False)
        price, quantity = order.price, order.quantity
        if price is not None:
            self._on_step("price", price, "tick_size", self.tick_size)
            self._within("price", price, "min_price", self.min_price, "max_price", self.max_price)
        if quantity is not None:
            self._on_step("quantity", quantity, "step_size", self.step_size)
            high_rule, high = "max_quantity", self.max_quantity
            if order.type == "MARKET" and self.max_market_quantity is not None:
                high_rule, high = "max_market_quantity", self.max_market_quantity
            elif order.type == "LIMIT_MAKER" and self.max_post_only_quantity is not None:
                high_rule, high = "max_post_only_quantity", self.max_post_only_quantity
            self._within("quantity", quantity, "min_quantity", self.min_quantity, high_rule, high)
        if price is not None and quantity is not None and self.min_notional is not None and (
                _RULES.multiply(price, quantity) < self.min_notional):
            raise OrderOutsideRules(f"{self.symbol}: price * quantity {_RULES.multiply(price, quantity)} is below "
                                    f"min_notional {self.min_notional}", rule="min_notional",
                                    allowed=self.min_notional)

    def _on_step(self, name: str, value: Decimal, rule: str, step: Decimal | None) -> None:
        if step is not None and _RULES.remainder(value, step):
            raise OrderOutsideRules(f"{self.symbol}: {name} {value} is not a multiple of {rule} {step} "
                                    f"(round_{name}() puts it on one)", rule=rule, allowed=step)

    def _within(self, name: str, value: Decimal, low_rule: str, low: Decimal | None, high_rule: str,
                high: Decimal | None) -> None:
        if low is not None and value < low:
            raise OrderOutsideRules(f"{self.symbol}: {name} {value} is below {low_rule} {low}", rule=low_rule,
                                    allowed=low)
        if high is not None and value > high:
            raise OrderOutsideRules(f"{self.symbol}: {name} {value} is above {high_rule} {high}", rule=high_rule,
                                    allowed=high)


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the venue reports it.

    ``self_trade_prevention`` is the mode the venue reports the order has (see
    :class:`NewOrder`): Binance's selfTradePreventionMode (DECREMENT and TRANSFER as
    ``"decrement"`` and ``"transfer"``), Bybit's smpType. ``None``: no mode (Binance NONE, Bybit
    "None"), none reported, or one neither venue documents (a later one: a Binance requote
    still keeps it, see ``amend_order``). An order placed without a mode reports the venue's
    default for it.
    """

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
    self_trade_prevention: SelfTradePrevention | None = None


class CancelledOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One order ``cancel_all_orders`` or ``cancel_orders`` took off the book: its ids, and the whole order where
    the connector has it.

    ``order`` is the order as the venue reports it cancelled (Binance answers with each order's
    cancel report; Bybit's ``cancel_orders`` has it when it looked an order up after a lost answer),
    or ``None`` where the answer names the ids alone (Bybit): its cancel is asynchronous, so the
    order's final state (cancelled, or filled first) comes on ``watch_orders`` or from
    ``get_order``, never made up here.
    """

    order_id: str
    client_order_id: str
    symbol: str
    order: Order | None = None


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


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of this account's own order, as the venue wrote it (``get_fills``).

    ``fee`` is what the venue charged in ``fee_asset`` (negative for a rebate); ``maker`` whether the
    order was resting. ``client_order_id`` is ``None`` where the venue's list does not give it (Binance).
    """

    trade_id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    timestamp: int


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """A derivatives position as the venue reports it (Bybit linear: ``get_positions``, ``watch_positions``).

    ``side`` is ``"BUY"`` for a long and ``"SELL"`` for a short; ``size`` is never negative. A flat
    position (size 0) has ``side`` ``None`` in one-way mode, where the venue writes side ``""``; in
    hedge mode each leg keeps its side (``positionIdx`` 1 is the buy leg, 2 the sell leg) even at
    size 0. ``get_positions`` lists open positions only; ``watch_positions`` reports a position
    going flat as one of size 0. Amounts are the venue's own decimals; a field the venue leaves
    empty (a liquidation price it has none for, leverage under portfolio margin) is ``None``,
    never 0. ``realised_pnl`` is the all-time cumulative one; ``timestamp`` the venue's last
    update (ms).
    """

    symbol: str
    side: Side | None
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal | None = None
    unrealised_pnl: Decimal | None = None
    realised_pnl: Decimal | None = None
    leverage: Decimal | None = None
    liquidation_price: Decimal | None = None
    timestamp: int | None = None


class FeeRate(msgspec.Struct, frozen=True, kw_only=True):
    """The account's fee rates on ``symbol`` (``get_fee_rates``): fractions of what a fill is charged on.

    ``Decimal("0.001")`` is 0.1 %; a negative ``maker`` is a rebate. ``maker`` is the rate of a fill
    where the order rested, ``taker`` where it took; ``buyer`` and ``seller`` are added on top for a
    fill of that side (Binance's commission rates have them, 0 on most accounts; Bybit has none:
    0). A fill's whole rate is therefore ``maker`` or ``taker`` plus ``buyer`` or ``seller``:
    :meth:`for_fill` adds them, exactly. Each connector's ``get_fee_rates`` says how it reads its
    venue's answer into them.
    """

    symbol: str
    maker: Decimal
    taker: Decimal
    buyer: Decimal = _ZERO
    seller: Decimal = _ZERO

    def for_fill(self, side: Side, *, maker: bool) -> Decimal:
        """The whole rate of a fill of ``side``: ``maker`` (it rested) or ``taker``, plus ``buyer`` or ``seller``.

        Binance's faqs/commission_faq.md: "Notional value * (taker + seller)" for a taking sale. Exact
        whatever decimal context is set (a rate has up to 8 places, a context may round them); a side
        other than "BUY" or "SELL" is a ``ConfigError``, never a rate without its add-on.
        """
        _one_of("FeeRate.for_fill", "side", side, _SIDES)
        return exact_add(self.maker if maker else self.taker, self.buyer if side == "BUY" else self.seller)


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """One asset's balance."""

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        """Free plus locked, exact whatever decimal context is set."""
        return exact_add(self.free, self.locked)


class Withdrawal(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal request; ``amount`` is exact and positive (a ``Decimal``, or an ``int``), never a float.

    Like an order's, it has at most 20 whole or fraction digits (trailing zeros aside).
    """

    asset: str
    address: str
    amount: Decimal
    network: str | None = None
    tag: str | None = None
    client_id: str | None = None

    def __post_init__(self) -> None:
        _exact(self, "amount", self.amount)


class WithdrawalStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal as the venue reports it; ``client_id`` the ``Withdrawal.client_id`` it was sent with
    (``None``: none was, or the venue does not report it)."""

    withdrawal_id: str
    asset: str
    amount: Decimal
    status: str
    address: str
    network: str | None = None
    tx_id: str | None = None
    client_id: str | None = None

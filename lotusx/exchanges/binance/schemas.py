"""Binance spot payloads as msgspec types (field names as the official docs give them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from lotusx.ws.exact import LevelsOf, check_amounts

Id = Annotated[str, msgspec.Meta(min_length=1)]  # an id left empty names nothing to query: fails the schema


class ServerTime(msgspec.Struct):
    serverTime: int


class Depth(msgspec.Struct):
    lastUpdateId: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


class BookTicker(msgspec.Struct):
    symbol: str
    bidPrice: Decimal
    bidQty: Decimal
    askPrice: Decimal
    askQty: Decimal

    def __post_init__(self) -> None:
        # A NaN, an Infinity or a negative amount fails the schema here (a DecodeError), as the streams' do.
        check_amounts(self.bidPrice, self.bidQty, self.askPrice, self.askQty)


class RestTrade(msgspec.Struct):
    id: int
    price: Decimal
    qty: Decimal
    time: int
    isBuyerMaker: bool

    def __post_init__(self) -> None:
        check_amounts(self.price, self.qty)


class SymbolFilter(msgspec.Struct):
    """One of a symbol's ``filters`` (filters.md): only the fields of PRICE_FILTER, LOT_SIZE, NOTIONAL and
    MIN_NOTIONAL are read; other filter types decode to their ``filterType`` alone."""

    filterType: str
    minPrice: Decimal | None = None
    maxPrice: Decimal | None = None
    tickSize: Decimal | None = None
    minQty: Decimal | None = None
    maxQty: Decimal | None = None
    stepSize: Decimal | None = None
    minNotional: Decimal | None = None

    def __post_init__(self) -> None:
        check_amounts(*(amount for amount in (self.minPrice, self.maxPrice, self.tickSize, self.minQty, self.maxQty,
                                              self.stepSize, self.minNotional) if amount is not None))


class SymbolInfo(msgspec.Struct):
    """One entry of exchangeInfo's ``symbols`` (rest-api.md "Exchange information")."""

    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    filters: list[SymbolFilter] = []
    isSpotTradingAllowed: bool = True


class ExchangeInfo(msgspec.Struct):
    """GET /api/v3/exchangeInfo: the symbols only (rate limits and exchange filters are not read)."""

    symbols: list[SymbolInfo]


class OrderResult(msgspec.Struct):
    """POST /api/v3/order (RESULT/FULL), GET /api/v3/order, DELETE /api/v3/order, openOrders, allOrders."""

    symbol: str
    orderId: int
    clientOrderId: str
    price: Decimal
    origQty: Decimal
    executedQty: Decimal
    status: str
    type: str
    side: str
    timeInForce: str | None = None
    transactTime: int | None = None
    time: int | None = None  # creation (queries only)
    updateTime: int | None = None
    origClientOrderId: str | None = None
    origQuoteOrderQty: Decimal | None = None  # a MARKET order's quoteOrderQty; 0 for one sized by quantity
    selfTradePreventionMode: str | None = None  # enums.md "STP Modes": NONE, EXPIRE_TAKER, ..., DECREMENT, TRANSFER

    def __post_init__(self) -> None:
        check_amounts(self.price, self.origQty, self.executedQty)
        if self.origQuoteOrderQty is not None:
            check_amounts(self.origQuoteOrderQty)


class Replaced(msgspec.Struct):
    """POST /api/v3/order/cancelReplace's answer; after a reconcile, GET /api/v3/order's (no field here)."""

    newOrderResponse: OrderResult | None = None


class AmendedOrder(msgspec.Struct):
    """The order in PUT /api/v3/order/amend/keepPriority's answer (``qty``, not ``origQty``)."""

    symbol: str
    orderId: int
    clientOrderId: str
    price: Decimal
    qty: Decimal
    executedQty: Decimal
    status: str
    type: str
    side: str
    timeInForce: str | None = None
    origClientOrderId: str | None = None
    selfTradePreventionMode: str | None = None

    def __post_init__(self) -> None:
        check_amounts(self.price, self.qty, self.executedQty)


class Amended(msgspec.Struct):
    """PUT /api/v3/order/amend/keepPriority's answer (rest-api.md "Order Amend Keep Priority")."""

    transactTime: int
    amendedOrder: AmendedOrder


class MyTrade(msgspec.Struct):
    """One fill of GET /api/v3/myTrades (rest-api.md "Account trade list")."""

    symbol: str
    id: int
    orderId: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commissionAsset: str
    time: int
    isBuyer: bool
    isMaker: bool

    def __post_init__(self) -> None:
        check_amounts(self.price, self.qty, self.commission)
class Commission(msgspec.Struct):
    """One part of GET /api/v3/account/commission's answer (standard, tax or special).

    ``buyer`` and ``seller`` are required: the endpoint has had them since it was added (rest-api.md
    "Query Commission Rates"), so one missing is a broken answer, not a 0.
    """

    maker: Decimal
    taker: Decimal
    buyer: Decimal
    seller: Decimal

    def __post_init__(self) -> None:
        check_amounts(self.maker, self.taker, self.buyer, self.seller, signed=True)  # a rebate is a negative rate


class CommissionRates(msgspec.Struct):
    """GET /api/v3/account/commission (rest-api.md "Query Commission Rates")."""

    symbol: str
    standardCommission: Commission
    taxCommission: Commission
    specialCommission: Commission | None = None  # a later addition to the answer: absent, it adds nothing


class CancelledList(msgspec.Struct):
    """An order list's entry in the answer of DELETE /api/v3/openOrders: its orders' cancel reports."""

    orderReports: list[OrderResult] | None = None  # absent: the entry is a single order's cancel report


class AssetBalance(msgspec.Struct):
    asset: str
    free: Decimal
    locked: Decimal

    def __post_init__(self) -> None:
        check_amounts(self.free, self.locked)


class Account(msgspec.Struct):
    balances: list[AssetBalance]
    updateTime: int | None = None  # time of the account's last update, as an outboundAccountPosition's "u"


class WithdrawId(msgspec.Struct):
    id: Id


class WithdrawRecord(msgspec.Struct):
    id: Id
    amount: Decimal
    coin: str
    status: int
    address: str
    network: str | None = None
    txId: str | None = None
    withdrawOrderId: str | None = None  # the client id it was sent with; absent when none was

    def __post_init__(self) -> None:
        check_amounts(self.amount)


# ----- WebSocket payloads (web-socket-streams.md, user-data-stream.md, web-socket-api.md) -----

class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    """A diff depth event; ``bids``/``asks`` give its levels as exact decimals (on access)."""

    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]

    bids = LevelsOf("b")  # (Decimal, Decimal) pairs, converted when read
    asks = LevelsOf("a")


class TradeEvent(msgspec.Struct, tag_field="e", tag="trade"):
    E: int
    s: str
    t: int
    p: Decimal
    q: Decimal
    T: int
    m: bool

    def __post_init__(self) -> None:
        check_amounts(self.p, self.q)


class BookTickerEvent(msgspec.Struct):
    u: int
    s: str
    b: Decimal
    B: Decimal
    a: Decimal
    A: Decimal

    def __post_init__(self) -> None:
        check_amounts(self.b, self.B, self.a, self.A)


class ExecutionReport(msgspec.Struct, tag_field="e", tag="executionReport"):
    E: int
    s: str
    c: str  # client order id
    S: str  # side
    o: str  # order type
    f: str  # time in force
    q: Decimal
    p: Decimal
    X: str  # order status
    i: int  # order id
    z: Decimal  # cumulative filled quantity
    # The last execution (user-data-stream.md "Order Update": in every report, zero when it is no trade).
    l: Decimal  # noqa: E741 - the venue's name: last executed quantity
    L: Decimal  # last executed price
    n: Decimal  # commission amount
    m: bool  # is this trade the maker side?
    N: str | None = None  # commission asset: null when there is no commission
    C: str = ""  # original client order id (cancels)
    x: str = ""  # execution type (NEW, TRADE, CANCELED, REPLACED, ...)
    t: int = -1  # trade id (-1 when the report is not a trade)
    T: int | None = None  # transaction time: when the order changed, the time REST dates orders by
    V: str | None = None  # selfTradePreventionMode (user-data-stream.md "Order Update")

    def __post_init__(self) -> None:
        check_amounts(self.q, self.p, self.z, self.l, self.L, self.n)  # as MyTrade's commission: never negative


class BalanceDelta(msgspec.Struct):
    a: str
    f: Decimal
    l: Decimal  # noqa: E741 - the venue's name

    def __post_init__(self) -> None:
        check_amounts(self.f, self.l)


class AccountPosition(msgspec.Struct, tag_field="e", tag="outboundAccountPosition"):
    """The whole balance of each asset an account update may have changed (despite ``BalanceDelta``'s name)."""

    E: int
    B: list[BalanceDelta]
    u: int | None = None  # time of the last account update: the time of the state ``B`` shows


class EventStreamTerminated(msgspec.Struct, tag_field="e", tag="eventStreamTerminated"):
    """The subscription ended (an unsubscribe, a logout): no more events come until a new one."""

    E: int


class ServerShutdown(msgspec.Struct, tag_field="e", tag="serverShutdown"):
    """The WebSocket API server is about to shut down: move to a new connection (web-socket-api.md)."""

    E: int


class BalanceUpdate(msgspec.Struct, tag_field="e", tag="balanceUpdate"):
    """A deposit, withdrawal or transfer moved ``d`` of asset ``a`` (user-data-stream.md "Balance Update").

    Its new balance comes in an ``outboundAccountPosition`` too: this one is typed so that a
    documented event is never counted and logged as an unreadable one.
    """

    E: int
    a: str
    d: Decimal
    T: int | None = None


class ExternalLockUpdate(msgspec.Struct, tag_field="e", tag="externalLockUpdate"):
    """An external system (margin collateral, ...) locked or unlocked ``d`` of asset ``a``."""

    E: int
    a: str
    d: Decimal
    T: int | None = None


class ListStatus(msgspec.Struct, tag_field="e", tag="listStatus"):
    """An order list (OCO, OTO, ...) changed; its orders' own updates come as ``executionReport``."""

    E: int
    s: str
    g: int  # order list id
    L: str  # list order status
    C: str = ""  # list client order id


UserEvent = (ExecutionReport | AccountPosition | BalanceUpdate | ExternalLockUpdate | ListStatus
             | EventStreamTerminated | ServerShutdown)


class ApiErrorData(msgspec.Struct, frozen=True):
    """A throttled or banned answer's ``data``: when to try again and the server's time, epoch ms
    (web-socket-api.md "IP limits")."""

    retryAfter: int | None = None
    serverTime: int | None = None


class ApiError(msgspec.Struct, frozen=True):
    code: int
    msg: str = ""
    data: ApiErrorData | None = None


class ApiFrame(msgspec.Struct):
    """A WebSocket API frame: an answer ``{"id", "status", "result" | "error"}`` or an account
    event ``{"subscriptionId", "event"}`` (web-socket-api.md "Response format", "Event format")."""

    id: str | int | None = None
    status: int | None = None
    error: ApiError | None = None
    subscriptionId: int | None = None
    event: msgspec.Raw = msgspec.Raw(b"")


class Envelope(msgspec.Struct):
    """A combined-stream frame ``{"stream", "data"}``, or a request ack ``{"result", "id"}``."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"")
    id: int | None = None
    error: dict[str, object] | None = None
    code: int | None = None  # a request's error as web-socket-streams.md documents it: {"code", "msg", "id"}
    msg: str | None = None
    e: str | None = None  # a bare event (serverShutdown)

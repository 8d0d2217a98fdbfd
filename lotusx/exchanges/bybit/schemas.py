"""Bybit v5 payloads as msgspec types (field names as the official docs give them).

Prices and sizes stay strings where a book or a hot stream carries many of them (converted to
``Decimal`` on access), and are ``Decimal`` elsewhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

import msgspec

from lotusx.ws.exact import LevelsOf, check_amounts

T = TypeVar("T")
# Checked by the schema, so an odd value is a typed decode failure (a DecodeError, or a push passed
# on untyped), never a KeyError or ValueError where the connector maps it.
Side = Literal["Buy", "Sell", "BUY", "SELL"]
Millis = Annotated[str, msgspec.Meta(pattern=r"^[0-9]*$")]  # epoch ms as a string ("" when unset)
Id = Annotated[str, msgspec.Meta(min_length=1)]  # an id left empty names nothing to query or cancel


class Envelope(msgspec.Struct, Generic[T]):
    """Every REST answer: ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``."""

    retCode: int
    result: T
    retMsg: str = ""
    time: int | None = None

    def __post_init__(self) -> None:
        _succeeded(self.retCode)


def _succeeded(ret_code: int) -> None:
    """Refuse an answer read as a success whose retCode is not 0.

    The classifier reads the first retCode of an answer starting '{"retCode":0,', a decoder the
    last: a second one, not 0, is an error answer, never data (a listed nothing).
    """
    if ret_code != 0:
        raise ValueError(f"retCode {ret_code} in an answer read as a success")


class ServerTime(msgspec.Struct):
    timeSecond: str
    timeNano: str


class Book(msgspec.Struct):
    """GET /v5/market/orderbook result, and the ``data`` of an orderbook stream message."""

    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    u: int
    ts: int | None = None
    seq: int | None = None

    bids = LevelsOf("b")  # (Decimal, Decimal) pairs, converted when read
    asks = LevelsOf("a")


class TickerRow(msgspec.Struct):
    symbol: str
    bid1Price: Decimal
    bid1Size: Decimal
    ask1Price: Decimal
    ask1Size: Decimal
    lastPrice: Decimal | None = None

    def __post_init__(self) -> None:
        # A NaN, an Infinity or a negative amount fails the schema here (a DecodeError), as the streams' do.
        check_amounts(self.bid1Price, self.bid1Size, self.ask1Price, self.ask1Size)
        if self.lastPrice is not None:
            check_amounts(self.lastPrice)


class TradeRow(msgspec.Struct):
    execId: Id
    symbol: str
    price: Decimal
    size: Decimal
    side: Side
    time: Annotated[str, msgspec.Meta(pattern=r"^[0-9]+$")]

    def __post_init__(self) -> None:
        check_amounts(self.price, self.size)


class PriceFilter(msgspec.Struct):
    """An instrument's ``priceFilter`` (docs/v5/market/instrument.mdx): spot states the tick alone."""

    tickSize: Decimal
    minPrice: Decimal | None = None  # linear
    maxPrice: Decimal | None = None  # linear

    def __post_init__(self) -> None:
        check_amounts(*(a for a in (self.tickSize, self.minPrice, self.maxPrice) if a is not None))


class LotSizeFilter(msgspec.Struct):
    """An instrument's ``lotSizeFilter``: spot and linear name their step and value floor each their own way."""

    basePrecision: Decimal | None = None  # spot: the quantity step
    qtyStep: Decimal | None = None  # linear: the quantity step
    minOrderQty: Decimal | None = None  # linear's floor; spot's is deprecated, "no longer check"
    maxOrderQty: Decimal | None = None  # linear: "for Limit and PostOnly order"; spot: deprecated
    maxLimitOrderQty: Decimal | None = None  # spot: what replaced maxOrderQty for Limit orders
    maxMktOrderQty: Decimal | None = None  # linear: "Maximum quantity for Market order"
    maxMarketOrderQty: Decimal | None = None  # spot: "Maximum Market order quantity"
    postOnlyMaxLimitOrderSize: Decimal | None = None  # spot: "Maximum limit order size for Post-only" (5x the limit)
    minOrderAmt: Decimal | None = None  # spot: the order value floor
    minNotionalValue: Decimal | None = None  # linear: the order value floor

    def __post_init__(self) -> None:
        check_amounts(*(a for a in (self.basePrecision, self.qtyStep, self.minOrderQty, self.maxOrderQty,
                                    self.maxLimitOrderQty, self.maxMktOrderQty, self.maxMarketOrderQty,
                                    self.postOnlyMaxLimitOrderSize, self.minOrderAmt, self.minNotionalValue)
                        if a is not None))


class InstrumentRow(msgspec.Struct):
    """One GET /v5/market/instruments-info entry (spot or linear)."""

    symbol: str
    baseCoin: str
    quoteCoin: str
    status: str
    priceFilter: PriceFilter
    lotSizeFilter: LotSizeFilter
    settleCoin: str = ""  # a contract's (linear, inverse); spot lists none


class Rows(msgspec.Struct, Generic[T]):
    """A ``{"category", "list"}`` result (tickers, recent trades)."""

    rows: list[T] = msgspec.field(name="list")
    category: str | None = None
    nextPageCursor: str | None = None


class FeeRateRow(msgspec.Struct):
    """One row of GET /v5/account/fee-rate (docs/v5/account/fee-rate.mdx)."""

    symbol: str
    makerFeeRate: Decimal
    takerFeeRate: Decimal

    def __post_init__(self) -> None:
        check_amounts(self.makerFeeRate, self.takerFeeRate, signed=True)  # a maker rebate is negative


class OrderRow(msgspec.Struct):
    """One order of GET /v5/order/realtime and of the private ``order`` stream."""

    orderId: Id
    orderLinkId: str
    symbol: str
    side: Side
    orderType: str
    orderStatus: str
    price: Decimal
    qty: Decimal
    cumExecQty: Decimal
    timeInForce: str | None = None
    createdTime: Millis | None = None  # the lists are sorted by it, newest first (docs/v5/order/open-order)
    updatedTime: Millis | None = None
    category: str | None = None
    marketUnit: str = ""  # a spot Market order's unit of ``qty``: "baseCoin" or "quoteCoin"
    smpType: str = "None"  # docs/v5/enum.mdx "smpType": None, CancelMaker, CancelTaker, CancelBoth

    def __post_init__(self) -> None:
        check_amounts(self.price, self.qty, self.cumExecQty)


class ExecutionRow(msgspec.Struct):
    """One execution of GET /v5/execution/list (docs/v5/order/execution) and of the private ``execution``
    stream (docs/v5/websocket/private/execution.mdx, which adds ``category``)."""

    execId: Id
    orderId: Id
    orderLinkId: str
    symbol: str
    side: Side
    execPrice: Decimal
    execQty: Decimal
    execFee: Decimal
    feeCurrency: str
    isMaker: bool
    execTime: Annotated[str, msgspec.Meta(pattern=r"^[0-9]+$")]
    execType: str = "Trade"
    category: str | None = None

    def __post_init__(self) -> None:
        check_amounts(self.execPrice, self.execQty)
        check_amounts(self.execFee, signed=True)  # a maker rebate is a negative fee


# A decimal the venue may leave empty ("" for none: a liquidation price past its bounds, leverage
# under portfolio margin; docs/v5/position/position.mdx): checked here, so reading one is exact and safe.
MaybeAmount = Annotated[str, msgspec.Meta(pattern=r"^(-?[0-9]+(\.[0-9]+)?)?$")]


class PositionRow(msgspec.Struct):
    """One position of GET /v5/position/list (docs/v5/position/position.mdx) and of the private ``position``
    stream (docs/v5/websocket/private/position.mdx): the list names the entry price ``avgPrice``, the stream
    ``entryPrice``. ``side`` is "" for an empty position."""

    symbol: str
    side: Literal["Buy", "Sell", ""]
    size: Decimal
    positionIdx: int = 0
    avgPrice: MaybeAmount = ""
    entryPrice: MaybeAmount = ""
    markPrice: MaybeAmount = ""
    unrealisedPnl: MaybeAmount = ""
    cumRealisedPnl: MaybeAmount = ""
    leverage: MaybeAmount = ""
    liqPrice: MaybeAmount = ""
    updatedTime: Millis = ""
    category: str | None = None

    def __post_init__(self) -> None:
        check_amounts(self.size)  # "always positive" (or 0 when flat)


class OrderIds(msgspec.Struct):
    """POST /v5/order/create and /v5/order/cancel result."""

    orderId: Id
    orderLinkId: str = ""


class CancelledAll(msgspec.Struct):
    """POST /v5/order/cancel-all result: the ids of the orders cancelled, and ``success`` ("1", "0") where given."""

    rows: list[OrderIds] = msgspec.field(name="list")
    success: str | None = None


class Placed(msgspec.Struct):
    """A placement's result: the create answer, or (after a reconcile) the realtime query's."""

    orderId: str | None = None
    orderLinkId: str | None = None
    rows: list[OrderRow] | None = msgspec.field(default=None, name="list")

    def __post_init__(self) -> None:
        # An acceptance that names no order is no answer: the caller could neither query nor cancel it.
        if self.rows is None and not self.orderId:
            raise ValueError("a placement's answer without its orderId")


class BatchRow(msgspec.Struct):
    """One order of a create-batch ``result.list`` (docs/v5/order/batch-place.mdx); a refused one's ids may be empty."""

    orderId: str = ""
    orderLinkId: str = ""


class BatchCode(msgspec.Struct):
    """One order's outcome in ``retExtInfo.list``: 0 placed, else the venue's error code and message."""

    code: int
    msg: str = ""


class BatchRows(msgspec.Struct):
    rows: list[BatchRow] = msgspec.field(name="list")


class BatchCodes(msgspec.Struct):
    rows: list[BatchCode] = msgspec.field(name="list")


class Batch(msgspec.Struct):
    """A create-batch answer: "two lists", the orders and their codes, "completely consistent" (in request order)."""

    retCode: int
    result: BatchRows
    retExtInfo: BatchCodes

    def __post_init__(self) -> None:
        if self.retCode != 0:  # as Envelope's: an error answer is never data
            raise ValueError(f"retCode {self.retCode} in an answer read as a success")


class CoinBalance(msgspec.Struct):
    coin: str
    walletBalance: Decimal
    locked: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        # Not walletBalance's sign: a unified account's balance of a borrowed coin may be below zero.
        check_amounts(self.walletBalance, signed=True)
        check_amounts(self.locked)


class WalletAccount(msgspec.Struct):
    coin: list[CoinBalance]
    accountType: str = ""


class Wallet(msgspec.Struct):
    accounts: list[WalletAccount] = msgspec.field(name="list")


class WithdrawId(msgspec.Struct):
    id: Id


class WithdrawRecord(msgspec.Struct):
    """One row of GET /v5/asset/withdraw/query-record (docs/v5/asset/withdraw/withdraw-record.mdx)."""

    withdrawId: Id
    coin: str
    amount: Decimal
    status: str
    toAddress: str
    chain: str = ""
    txID: str = ""  # "" when the withdrawal failed or was cancelled


class WithdrawRecords(msgspec.Struct):
    """Its ``result``: ``rows`` and the ``nextPageCursor`` of the next page ("" or absent: none)."""

    rows: list[WithdrawRecord] = msgspec.field(default_factory=list)
    nextPageCursor: str | None = None


# ----- WebSocket (docs/v5/ws/connect, ws/public/*, ws/private/*) -----

class WsFrame(msgspec.Struct):
    """Any frame: a topic push (``topic``/``data``) or an op answer (``op``/``success``)."""

    topic: str | None = None
    type: str | None = None
    ts: int | None = None
    creationTime: int | None = None  # a private push's "data created timestamp (ms)"
    data: msgspec.Raw = msgspec.Raw(b"")
    op: str | None = None
    success: bool | None = None
    ret_msg: str = ""
    req_id: str | None = None


class PublicTrade(msgspec.Struct):
    T: int
    s: str
    S: Side
    v: Decimal
    p: Decimal
    i: str

    def __post_init__(self) -> None:
        # One that is no amount (NaN, negative) fails here, counted, not in watch_trades' consumer.
        check_amounts(self.p, self.v)


class Acknowledged(msgspec.Struct):
    """A success answer with no ``result``: /v5/order/disconnected-cancel-all's is ``{"retCode": 0, "retMsg":
    "success"}`` alone (docs/v5/order/dcp.mdx)."""

    retCode: int
    retMsg: str = ""

    def __post_init__(self) -> None:
        _succeeded(self.retCode)


class DcpInfo(msgspec.Struct):
    """One product's DCP configuration (docs/v5/account/dcp-info.mdx): ``timeWindow`` in seconds, as a string."""

    product: str
    dcpStatus: str
    timeWindow: Annotated[str, msgspec.Meta(pattern=r"^[0-9]+$")]


class DcpInfos(msgspec.Struct):
    """GET /v5/account/query-dcp-info result: the products DCP is on for (an account without it: none)."""

    dcpInfos: list[DcpInfo] = []

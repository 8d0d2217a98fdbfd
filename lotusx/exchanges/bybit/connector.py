"""``Bybit``: the public API over the built stacks. Requests and field mapping only."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from decimal import Decimal
from operator import attrgetter
from typing import Any, Generic, Literal, NamedTuple, Protocol, TypeVar

import msgspec

from lotusx.account import (
    GAP_SLACK,
    TERMINAL,
    Backfill,
    GapStart,
    as_asked,
    cancel_once,
    checked_since,
    follow_balances,
    follow_fills,
    follow_orders,
    follow_positions,
    follow_trades,
    gap_start_ms,
    placement,
    windows,
    withdrawal_answer,
    withdrawn,
)
from lotusx.book import Gap, SnapshotDeltaSync
from lotusx.book.follow import resync_reason
from lotusx.book.sync import Outcome, readable
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit import schemas as s
from lotusx.exchanges.bybit.endpoints import SPOT, Category
from lotusx.exchanges.bybit.errors import code_error
from lotusx.exchanges.bybit.streams import (
    HEARTBEAT,
    PRIVATE,
    BookMessage,
    ExecutionMessage,
    OrderMessage,
    PositionMessage,
    TradeMessage,
    WalletMessage,
    auth,
    bybit_frames,
    login_ack,
    public_dialect,
)
from lotusx.kernel.client import json_body
from lotusx.kernel.errors import (
    AmbiguousOrderState,
    AmbiguousOutcome,
    ConfigError,
    DecodeError,
    DuplicateClientOrderId,
    InvalidRequest,
    LotusXError,
    NotFound,
    OrderRejected,
    ProtocolError,
    SubscriptionRejected,
    TimestampOutOfWindow,
)
from lotusx.kernel.ids import client_order_id
from lotusx.kernel.message import Endpoint, Request
from lotusx.kernel.service import Service
from lotusx.layers.clock import LoginClock
from lotusx.layers.retry import may_have_executed
from lotusx.models import (
    Amend,
    Balance,
    CancelledOrder,
    FeeRate,
    Fill,
    Instrument,
    NewOrder,
    Order,
    OrderBook,
    Position,
    SelfTradePrevention,
    Side,
    Ticker,
    Trade,
    Withdrawal,
    WithdrawalStatus,
    amend_amounts,
    check_count,
    check_several,
)
from lotusx.signers import BybitHmac
from lotusx.venue import Parts, close_all, parts_for
from lotusx.ws import Gap as Reconnected
from lotusx.ws import Lost, Malformed, RawStream, ReconnectWs, Resumed, subscribe_unless_closed
from lotusx.ws.conflate import conflate as newest_per_key  # a name apart from the watches' conflate= flag
from lotusx.ws.delivery import OVERFLOW_REASON
from lotusx.ws.dialect import LoginAck
from lotusx.ws.exact import exact_add
from lotusx.ws.outbound import admission

# docs/v5/enum "orderStatus", mapped onto the unified (Binance-style) vocabulary.
_STATUS = {"New": "NEW", "PartiallyFilled": "PARTIALLY_FILLED", "Filled": "FILLED", "Cancelled": "CANCELED",
           "PartiallyFilledCanceled": "CANCELED", "Rejected": "REJECTED", "Untriggered": "NEW",
           "Triggered": "NEW", "Deactivated": "CANCELED"}
# docs/v5/enum positionIdx: 1 is the buy side, 2 the sell side of hedge mode (0: one-way mode).
_LEG: dict[int, Side] = {1: "BUY", 2: "SELL"}
# NewOrder.self_trade_prevention as smpType (docs/v5/order/create-order.mdx, docs/v5/enum.mdx "smpType").
_SMP_TYPE = {"cancel_taker": "CancelTaker", "cancel_maker": "CancelMaker", "cancel_both": "CancelBoth"}
# An order row's smpType as Order.self_trade_prevention ("None" is not a key: no mode).
_SMP_OF: dict[str, SelfTradePrevention] = {"CancelTaker": "cancel_taker", "CancelMaker": "cancel_maker",
                                           "CancelBoth": "cancel_both"}
_SIDE: dict[str, Side] = {"BUY": "BUY", "SELL": "SELL", "Buy": "BUY", "Sell": "SELL"}
# orderbook.{50,200,1000} exist for spot and linear alike (docs/v5/websocket/public/orderbook); a book
# is streamed from the shallowest that holds the depth asked (50 pushes every 20 ms, 1000 every 200 ms).
_BOOK_DEPTHS = (50, 200, 1000)
# /v5/order/realtime and /v5/order/history pages hold 1..50 orders (docs v5/order/open-order, order-list).
# Past 100 pages (5000 orders) a walk is far likelier a venue handing out cursors forever than a real book.
_PAGE, _MAX_PAGES = 50, 100
_FILLS_PAGE = 100  # /v5/execution/list: "limit [1, 100]" (docs v5/order/execution)
# /v5/order/cancel-all: "Futures: cancel up to 500 orders" a call, none for spot (docs v5/order/cancel-all).
_CANCEL_ALL_CAP = 500
_WITHDRAWALS_PAGE = 50  # /v5/asset/withdraw/query-record: limit [1, 50] (docs/v5/asset/withdraw/withdraw-record.mdx)
# docs/v5/enum.mdx "withdrawStatus" onto Binance's words (lotusx.exchanges.binance.connector._WITHDRAW_STATUS) where
# they mean the same; the others are kept as Bybit names them.
_WITHDRAW_STATUS = {"SecurityCheck": "AWAITING_APPROVAL", "Pending": "PROCESSING", "success": "COMPLETED",
                    "CancelByUser": "CANCELLED", "Reject": "REJECTED", "Fail": "FAILURE"}
_POSITIONS_PAGE = 200  # /v5/position/list: limit [1, 200] (docs/v5/position/position.mdx)
_SETTLE_COINS = ("USDT", "USDC")  # linear's settle coins: USDT and USDC perpetuals (and USDC futures)
# instruments-info's status filter (docs/v5/enum.mdx "status"), the default (None: Trading) first: a fill can be
# of a contract in any of them, pre-market ones trading as PreLaunch and delisted ones settled as Delivery.
_STATUSES = (None, "PreLaunch", "Delivering", "Closed")
_INSTRUMENTS_PAGE = 1000  # /v5/market/instruments-info linear: limit [1, 1000] (docs/v5/market/instrument.mdx)
# /v5/order/history: "endTime - startTime <= 7 days" (docs v5/order/order-list).
_HISTORY_SPAN_MS = 7 * 24 * 3600 * 1000
_UNREADABLE_EVENT = "unreadable_event"  # the Gap reason of a private message that failed to parse
_UNREADABLE_BOOK = "unreadable message"  # the resync reason of a book message that failed its schema
_NO_SNAPSHOT = "no snapshot"  # a delta came to a book waiting for its snapshot
_EXPIRED_LOGIN = "Params Error"  # the auth answer's ret_msg for an ``expires`` the venue saw as past
_ENVELOPE: Any = s.Envelope  # parametrised at run time with each call's result type
_ROWS: Any = s.Rows  # parametrised at run time with each list's row type
T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


_TRADES_PAGE = {"spot": 60, "linear": 1000}
"""The most trades GET /v5/market/recent-trade lists (docs/v5/market/recent-trade.mdx, ``limit``:
spot [1,60], others [1,1000])."""

class Bybit:
    """Bybit v5 for one category. Build with :func:`lotusx.connect` ("bybit", or ``VENUE_LINEAR``)."""

    def __init__(self, parts: Parts, category: Category = SPOT) -> None:
        self.parts = parts_for("Bybit", "bybit", parts)
        self.category = category
        self.rest = parts.rest
        self.metrics = parts.metrics
        self._raw = RawStream(self._public)
        self._settles: dict[str, str] = {}  # symbol -> its contract's settle coin, asked once (see _settle_coin)

    async def _get(self, endpoint: Endpoint, params: Sequence[tuple[str, Any]], result: type[T]) -> T:
        query = [("category", self.category.name), *params]
        answer: s.Envelope[T] = await self.rest.get(endpoint.path, query, endpoint=endpoint, type=_ENVELOPE[result])
        return answer.result

    async def _post(self, endpoint: Endpoint, body: dict[str, Any], result: type[T]) -> T:
        answer: s.Envelope[T] = await self.rest.call(_post(endpoint, body), _ENVELOPE[result])
        return answer.result

    # ----- market data -----

    async def get_server_time(self) -> int:
        """Venue time in milliseconds."""
        return await server_time(self.rest.send)  # the clock sync's own reading, through the stack

    async def get_order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        """A REST snapshot of ``depth`` levels per side: up to 1000 on spot, 1000 on linear (docs/v5/market/orderbook).

        A deeper ask is the venue's ``InvalidRequest``.
        """
        check_count("depth", depth)
        raw: s.Book = await self._get(ep.ORDERBOOK, [("symbol", symbol), ("limit", depth)], s.Book)
        return OrderBook(symbol=raw.s, sequence=raw.u, timestamp=raw.ts,
                         bids=raw.bids, asks=raw.asks)  # exact, checked, built as they are read

    async def get_ticker(self, symbol: str) -> Ticker:
        """Best bid and ask."""
        rows: s.Rows[s.TickerRow] = await self._get(ep.TICKERS, [("symbol", symbol)], s.Rows[s.TickerRow])
        if not rows.rows:
            raise NotFound(f"no ticker for {symbol}")
        t = rows.rows[0]
        return Ticker(symbol=t.symbol, bid=t.bid1Price, bid_quantity=t.bid1Size, ask=t.ask1Price,
                      ask_quantity=t.ask1Size)

    async def get_trades(self, symbol: str, limit: int = 60) -> list[Trade]:
        """Recent public trades, oldest first (spot keeps the last 60)."""
        check_count("limit", limit)
        rows: s.Rows[s.TradeRow] = await self._get(ep.RECENT_TRADE, [("symbol", symbol), ("limit", limit)],
                                                   s.Rows[s.TradeRow])
        trades = [Trade(symbol=r.symbol, trade_id=r.execId, price=r.price, quantity=r.size, timestamp=int(r.time),
                        side=_SIDE[r.side]) for r in reversed(rows.rows)]
        # The venue lists them newest first: reversed, the trades of one millisecond (a taker sweeping
        # levels) are in the order they happened too, which a sort by time alone would leave newest first.
        return sorted(trades, key=lambda t: t.timestamp)

    async def get_instruments(self, symbols: Iterable[str] | None = None) -> dict[str, Instrument]:
        """Each symbol's trading rules, keyed by symbol: every listed one, or ``symbols`` (NotFound for one not listed).

        GET /v5/market/instruments-info (docs/v5/market/instrument.mdx) lists only symbols in
        ``Trading`` by default, and an unknown symbol as nothing (retCode 0): a symbol asked for and
        not listed is ``NotFound``. One symbol is asked by name; several, or all, are listed whole
        (linear page by page, following ``nextPageCursor``) and picked.
        """
        if isinstance(symbols, str):
            raise ConfigError(f"symbols is a collection of symbols: pass [{symbols!r}]")
        asked = None if symbols is None else list(dict.fromkeys(symbols))
        if asked == []:
            return {}
        found = {row.symbol: self._instrument(row) for row in await self._instrument_rows(
            [("symbol", asked[0])] if asked is not None and len(asked) == 1 else [])}
        if asked is None:
            return found
        missing = [symbol for symbol in asked if symbol not in found]
        if missing:
            raise NotFound(f"GET {ep.INSTRUMENTS_INFO.path}: {self.category.name} does not list "
                           f"{', '.join(missing)} (or not as Trading)")
        return {symbol: found[symbol] for symbol in asked}

    async def _instrument_rows(self, params: list[tuple[str, Any]]) -> list[s.InstrumentRow]:
        """Every row instruments-info answers; linear pages up to 1000 a call, spot answers at once ("Spot
        does not support pagination, so limit, cursor are invalid")."""
        if self.category.name == "spot":
            rows: s.Rows[s.InstrumentRow] = await self._get(ep.INSTRUMENTS_INFO, params, s.Rows[s.InstrumentRow])
            return rows.rows
        return await self._pages(ep.INSTRUMENTS_INFO, params, s.InstrumentRow, _INSTRUMENTS_PAGE, "instruments")

    def _instrument(self, row: s.InstrumentRow) -> Instrument:
        """The category's own fields: spot steps by basePrecision (also its floor: minOrderQty is "deprecated, no
        longer check", docs/v5/market/instrument.mdx), caps by maxLimitOrderQty and floors the value by
        minOrderAmt, with no price bounds; linear steps by qtyStep, floors the value by minNotionalValue.
        Both cap a Market order apart, lower than a Limit one (maxMarketOrderQty, maxMktOrderQty); spot caps
        a PostOnly one apart too, at 5x a Limit one (postOnlyMaxLimitOrderSize; linear's maxOrderQty covers it)."""
        lot, price = row.lotSizeFilter, row.priceFilter
        if self.category.name == "spot":
            step, least, most, floor = lot.basePrecision, lot.basePrecision, (
                lot.maxLimitOrderQty or lot.maxOrderQty), lot.minOrderAmt
            market, post_only = lot.maxMarketOrderQty, lot.postOnlyMaxLimitOrderSize
        else:
            step, least, most, floor = lot.qtyStep, lot.minOrderQty, lot.maxOrderQty, lot.minNotionalValue
            market, post_only = lot.maxMktOrderQty, None
        return Instrument(symbol=row.symbol, base=row.baseCoin, quote=row.quoteCoin, trading=row.status == "Trading",
                          tick_size=price.tickSize or None, min_price=price.minPrice or None,
                          max_price=price.maxPrice or None, step_size=step or None, min_quantity=least or None,
                          max_quantity=most or None, min_notional=floor or None,
                          max_market_quantity=market or None, max_post_only_quantity=post_only or None)

    async def get_fee_rates(self, symbol: str) -> FeeRate:
        """The account's maker and taker rates on ``symbol`` in this connector's category (GET /v5/account/fee-rate).

        ``makerFeeRate`` and ``takerFeeRate`` as the venue states them (docs/v5/account/fee-rate.mdx);
        ``buyer`` and ``seller`` 0: Bybit charges no side add-on (Binance's have them).
        An unknown symbol is ``NotFound``: the venue's "symbol invalid", or an answer without it.
        """
        rows: s.Rows[s.FeeRateRow] = await self._get(ep.FEE_RATE, [("symbol", symbol)], s.Rows[s.FeeRateRow])
        row = next((row for row in rows.rows if row.symbol == symbol), None)
        if row is None:
            raise NotFound(f"GET {ep.FEE_RATE.path}: no {self.category.name} fee rate for {symbol}")
        return FeeRate(symbol=symbol, maker=row.makerFeeRate, taker=row.takerFeeRate)

    # ----- trading -----

    async def place_order(self, order: NewOrder) -> Order:
        """Place ``order``; retry-safe through its orderLinkId (generated when missing).

        Bybit answers with the ids only, so the order comes back as submitted (status NEW,
        nothing filled, the self-trade prevention asked) unless a retry found it on the venue;
        :meth:`get_order` has its state.
        """
        cid, body = self._order_body(order)
        request = _post(self.category.order_create, body, client_order_id=cid)
        answer: s.Envelope[s.Placed] = placement(request, await self.rest.send(request), s.Envelope[s.Placed],
                                                 self.metrics, "bybit")
        placed = answer.result
        found = _find(placed.rows or [], [("orderLinkId", cid)])
        if found is not None:  # a retry reconciled: the order query's answer
            return as_asked(order, _order(found), quote=self._quote(found))
        return _submitted(order, placed.orderId or "", placed.orderLinkId or cid, body["timeInForce"])

    def _order_body(self, order: NewOrder) -> tuple[str, dict[str, Any]]:
        """``order``'s client id (generated when missing) and its /v5/order/create body; ConfigError if unsendable."""
        if order.self_trade_prevention is not None and order.self_trade_prevention not in _SMP_TYPE:
            # smpType has CancelTaker/CancelMaker/CancelBoth only (docs/v5/enum.mdx): dropping the mode
            # would let the order trade with the account's own, the opposite of what was asked.
            raise ConfigError(f"self_trade_prevention {order.self_trade_prevention!r} is Binance's (DECREMENT/"
                              "TRANSFER); Bybit's smpType has cancel_taker, cancel_maker and cancel_both only")
        cid = order.client_order_id or client_order_id()
        if order.quote_quantity is not None and self.category.name != "spot":
            raise ConfigError("quote_quantity is for spot MARKET orders only")
        maker = order.type == "LIMIT_MAKER"
        tif = "PostOnly" if maker else order.time_in_force or ("GTC" if order.type == "LIMIT" else None)
        unit = None
        if self.category.name == "spot" and order.type == "MARKET":
            unit = "quoteCoin" if order.quote_quantity is not None else "baseCoin"
        return cid, {"category": self.category.name, "symbol": order.symbol, "side": order.side.capitalize(),
                     "orderType": "Market" if order.type == "MARKET" else "Limit",
                     "qty": order.quantity if order.quantity is not None else order.quote_quantity,
                     "marketUnit": unit, "price": order.price,
                     "timeInForce": tif,
                     "orderLinkId": cid, "smpType": _SMP_TYPE.get(order.self_trade_prevention or "")}

    async def place_orders(self, orders: Sequence[NewOrder]) -> list[Order | LotusXError]:
        """Place several orders at once: one result per order, in order, each its ``Order`` or its typed error.

        POST /v5/order/create-batch (docs/v5/order/batch-place.mdx), at most ``category.batch_size``
        orders a request: spot 10 (the docs' most), linear 5 (the docs allow 20, but a batch is
        charged per order, docs/v5/rate-limit "Instructions for batch endpoints", and linear's 10/s,
        halved for fixed windows, holds 5). A longer list goes request after request, in order: a
        full request takes the pool's whole window, so sending them together would only queue them
        in the limiter, and in order the first orders (the levels nearest the touch, as a market
        maker lists them) reach the venue first.

        Each order gets an orderLinkId (generated when missing); a client id given twice, or an
        order :meth:`place_order` would refuse before sending, is a ``ConfigError`` in its slot
        (nothing sent for it). An order the venue refuses is the typed error :meth:`place_order`
        raises for its code (``OrderRejected``, ``InsufficientBalance``, ``RateLimited`` for the
        part of a batch past the rate limit...), the others placed. A placed order is built from the
        request, as :meth:`place_order` builds it (status NEW, nothing filled): the venue answers
        with the ids alone; :meth:`get_order` or :meth:`watch_orders` has its state.

        Never sent twice. A batch whose answer may have come after the venue acted (a timeout, a
        5xx or server-failure code, a connection lost after sending, an unreadable answer) is not
        re-sent: Retry's reconcile answers for one order, so the endpoint is ``UNSAFE`` (Retry
        re-sends only what provably never left) and each order is looked up here by its orderLinkId
        (:meth:`get_order`: the realtime list, then the history), as is an order whose own code is
        a server failure or a duplicate client id. Found, it is its ``Order``; not found, or the
        lookup failing, it is ``AmbiguousOrderState`` with its client id (the venue's lists may lag
        its engine; ask :meth:`get_order` later), counted as ``batch_not_found`` /
        ``batch_lookup_failed`` in ``ambiguous_orders_total`` (``layer_error`` for a layer's own
        error outside the ``LotusXError`` tree, not looked up). A failure that proves the request
        never left (no connection) is in every slot of that request once Retry gives up.
        """
        def asked(index: int) -> _Asked:
            order = orders[index]
            cid, body = self._order_body(order)
            return _Asked(index, order.symbol, ("orderLinkId", cid),
                          {k: v for k, v in body.items() if v is not None and k != "category"})

        async def accepted(taken: list[tuple[_Asked, s.BatchRow]]) -> list[Order | LotusXError]:
            return [_submitted(orders[asked.slot], row.orderId, asked.ids[1], asked.item.get("timeInForce"))
                    for asked, row in taken]

        def found(asked: _Asked, row: s.OrderRow) -> Order:
            return as_asked(orders[asked.slot], _order(row), quote=self._quote(row))

        return await self._batches(_Verb(self.category.order_create_batch, accepted, found), len(orders), asked)

    async def _batches(self, verb: _Verb[D], count: int, asked: Callable[[int], _Asked]) -> list[D | LotusXError]:
        """The ``count`` orders ``asked(slot)`` builds, sent ``category.batch_size`` a request, in order: each result.

        An order ``asked`` refuses (``ConfigError``), or one named by the same id as an earlier one,
        is a ``ConfigError`` in its slot, nothing sent for it.
        """
        slots: dict[int, D | LotusXError] = {}
        ready: list[_Asked] = []
        seen: set[tuple[str, str]] = set()
        for index in range(count):
            try:
                one = asked(index)
                if one.ids in seen:
                    raise ConfigError(f"{_ID_NAMES[one.ids[0]]} {one.ids[1]!r} is given to more than one order "
                                      "of the batch")
            except ConfigError as exc:
                slots[index] = exc
                continue
            seen.add(one.ids)
            ready.append(one)
        size = self.category.batch_size
        for start in range(0, len(ready), size):
            chunk = ready[start:start + size]
            for one, result in zip(chunk, await self._batch(verb, chunk), strict=True):
                slots[one.slot] = result
        return [slots[index] for index in range(count)]

    async def _batch(self, verb: _Verb[D], chunk: list[_Asked]) -> list[D | LotusXError]:
        """One batch request of ``chunk``: each order's result."""
        endpoint = verb.endpoint
        # A unit per order (docs/v5/rate-limit "Instructions for batch endpoints"): the cost is this request's own.
        charged = msgspec.structs.replace(endpoint, costs={ep.IP: 1, endpoint.name: len(chunk)})
        request = _post(charged, {"category": self.category.name, "request": [asked.item for asked in chunk]})
        outcomes: list[s.BatchRow | LotusXError]
        try:
            answer = (await self.rest.send(request)).decode(s.Batch)
        except LotusXError as exc:
            outcomes = [exc] * len(chunk)
        except Exception as exc:
            # A layer's own error (a bug, a user's asyncio.timeout) says nothing of whether the batch
            # left: as Retry does for one placement, each order is ambiguous, its id kept.
            return [self._ambiguous(request, asked, "layer_error", f"POST {endpoint.path}: order {asked.ids[1]} "
                                    f"state unknown, a layer raised {type(exc).__name__}", exc) for asked in chunk]
        else:
            outcomes = _outcomes(request, chunk, answer)
        taken = [(asked, row) for asked, row in zip(chunk, outcomes, strict=True) if isinstance(row, s.BatchRow)]
        failed = [(asked, exc) for asked, exc in zip(chunk, outcomes, strict=True) if isinstance(exc, LotusXError)]

        async def accepted() -> list[D | LotusXError]:
            return await verb.accepted(taken) if taken else []

        done, settled = await asyncio.gather(accepted(), asyncio.gather(
            *(self._settle(request, verb, asked, exc) for asked, exc in failed)))
        results = dict(zip([asked.slot for asked, _ in taken], done, strict=True))
        results.update(zip([asked.slot for asked, _ in failed], settled, strict=True))
        return [results[asked.slot] for asked in chunk]

    async def _settle(self, request: Request, verb: _Verb[D], asked: _Asked, outcome: LotusXError) -> D | LotusXError:
        """An order the venue did not accept: ``outcome`` when it proves the venue did nothing, else what looking
        the order up by its id finds."""
        if not (isinstance(outcome, DuplicateClientOrderId) or may_have_executed(outcome)):
            return outcome
        where = f"{request.method} {request.path}: order {asked.ids[1]} state unknown after {type(outcome).__name__}"
        try:
            row = await self._order_row(asked.symbol, [asked.ids])
        except NotFound:
            return self._ambiguous(request, asked, "batch_not_found", f"{where}, not found (yet)", outcome)
        except LotusXError as exc:
            return self._ambiguous(request, asked, "batch_lookup_failed",
                                   f"{where}, the lookup failed ({type(exc).__name__})", exc)
        try:
            found = verb.found(asked, row)
        except LotusXError as exc:  # the id names another order: DuplicateClientOrderId
            return exc
        if found is None:  # open, not as asked: the write may be on its way (Bybit acts asynchronously) or lost
            return self._ambiguous(request, asked, "batch_still_open", f"{where}, found {row.orderStatus} and not "
                                   "as asked: get_order or watch_orders has its outcome", outcome, row.orderLinkId)
        return found

    def _ambiguous(self, request: Request, asked: _Asked, cause: str, message: str, after: Exception,
                   cid: str = "") -> AmbiguousOrderState:
        self.metrics.ambiguous_orders.labels("bybit", request.endpoint.name, cause).inc()
        field, value = asked.ids
        if field == "orderLinkId":
            error = AmbiguousOrderState(message, client_order_id=value)
        else:
            error = AmbiguousOrderState(message, client_order_id=cid, order_id=value)
        error.__cause__ = after
        return error

    def _quote(self, row: s.OrderRow) -> Decimal | None:
        """The quote amount ``row`` was sized by: 0 when by quantity, ``None`` when the venue does not say.

        ``qty`` is in the order's ``marketUnit`` (docs v5/order/open-order); only spot Market
        orders may be sized in the quote coin.
        """
        if row.marketUnit == "quoteCoin":
            return row.qty
        if row.marketUnit == "baseCoin" or self.category.name != "spot" or row.orderType != "Market":
            return Decimal(0)
        return None

    async def cancel_order(self, symbol: str, *, order_id: str | int | None = None,
                           client_order_id: str | None = None) -> Order:
        """Cancel by venue order id or client order id; returns the order as the venue now has it.

        Bybit cancels asynchronously ("the acknowledgement ... indicates that the request was
        successfully accepted", docs v5/order/cancel-order): an order still open when read back
        right after the acknowledgement comes back ``PENDING_CANCEL``, never as a plain ``NEW``
        that reads as a cancel that did nothing; ``watch_orders`` has its final state.
        A read-back that fails (a 5xx, the venue's lists not caught up, the connector closed
        meanwhile) raises :class:`~lotusx.AmbiguousOutcome` saying the cancel was accepted, with
        the read's error as its cause: the acknowledgement carries only the ids, and whether the
        order was cancelled or filled first is unknown; never the read's own error, which would
        read as a cancel refused or an unknown order.
        An order already cancelled comes back as it is: a cancel retried after its answer was lost
        would otherwise report 110001 for the order its first attempt cancelled
        (see :func:`lotusx.account.cancel_once`).
        """
        async def cancel() -> Order:
            body = {"category": self.category.name, "symbol": symbol, **dict(_ids(order_id, client_order_id))}
            done: s.OrderIds = await self._post(self.category.order_cancel, body, s.OrderIds)
            return await self._cancelled(self.category.order_cancel, symbol, done.orderId)

        return await cancel_once(cancel(), lambda: self.get_order(
            symbol, order_id=order_id, client_order_id=client_order_id))

    async def cancel_orders(self, symbol: str, *, order_ids: Sequence[str | int] = (),
                            client_order_ids: Sequence[str] = ()) -> list[CancelledOrder | LotusXError]:
        """Cancel several orders of ``symbol`` at once: one result per id, ``order_ids``' first, then
        ``client_order_ids``', each a :class:`~lotusx.CancelledOrder` or its typed error.

        POST /v5/order/cancel-batch (docs/v5/order/batch-cancel.mdx), ``category.batch_size`` orders
        a request and charged a unit per order, as :meth:`place_orders`' create-batch (docs/v5/rate-limit
        "Instructions for batch endpoints"); a longer list goes request after request, in order.
        An order the venue refuses is its typed error (``NotFound`` for one unknown or already
        closed: no read-back, unlike :meth:`cancel_order`), the others cancelled. An id given twice
        is a ``ConfigError`` in its later slot (an order named once by each id is not caught here:
        the venue refuses the second cancel ``NotFound``). Bybit cancels asynchronously and
        acknowledges each order with its ``orderId`` and ``orderLinkId`` alone
        (docs/v5/order/batch-cancel.mdx): an accepted cancel is a ``CancelledOrder`` of those ids,
        ``order`` ``None``, as :meth:`cancel_all_orders` gives them. Not read back: a read per order
        would cost a request each (the realtime pool's 25/s spent by a few requotes a second) where
        speed matters most; ``watch_orders`` or :meth:`get_order` has each final state (cancelled,
        or filled first).
        Never sent twice: a batch whose answer may have come after the venue acted is not re-sent;
        each order is looked up by its id, as :meth:`place_orders` looks them up. Found closed, it is
        a ``CancelledOrder`` holding that ``Order`` (cancelled, or filled first); found open, not
        found or the lookup failing, it is ``AmbiguousOrderState`` (``order_id`` set when named by
        it), counted as ``batch_still_open``, ``batch_not_found`` or ``batch_lookup_failed``: a
        cancel may land after the lookup.
        """
        check_several("order_ids", order_ids)
        check_several("client_order_ids", client_order_ids)
        refs = [("orderId", str(order_id)) for order_id in order_ids]
        refs += [("orderLinkId", cid) for cid in client_order_ids]
        endpoint = self.category.order_cancel_batch

        def asked(index: int) -> _Asked:
            field, value = refs[index]
            return _Asked(index, symbol, refs[index], {"symbol": symbol, field: value})

        async def accepted(taken: list[tuple[_Asked, s.BatchRow]]) -> list[CancelledOrder | LotusXError]:
            return [CancelledOrder(order_id=row.orderId, client_order_id=row.orderLinkId, symbol=symbol)
                    for _, row in taken]

        def found(asked: _Asked, row: s.OrderRow) -> CancelledOrder | None:
            order = _order(row)
            if order.status not in TERMINAL:
                return None
            return CancelledOrder(order_id=order.order_id, client_order_id=order.client_order_id, symbol=symbol,
                                  order=order)

        return await self._batches(_Verb(endpoint, accepted, found), len(refs), asked)

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[Order | LotusXError]:
        """Amend several open orders of ``symbol`` at once: one result per :class:`~lotusx.Amend`, in order, each
        the ``Order`` as :meth:`amend_order` returns it or its typed error.

        POST /v5/order/amend-batch (docs/v5/order/batch-amend.mdx): the fields and semantics of
        :meth:`amend_order` (``quantity`` the order's whole size, ids kept), ``category.batch_size``
        orders a request, charged a unit per order and sent in order, as :meth:`place_orders`. An
        order the venue refuses is its typed error (``NotFound`` for one unknown or closed,
        ``OrderRejected`` for one its rules refuse), the others amended; an order named twice is a
        ``ConfigError`` in its later slot. The venue acknowledges with the ids alone and amends
        asynchronously: the orders a request amended are read back by one :meth:`get_open_orders`
        listing, each at the ``price`` and ``quantity`` asked while open, as :meth:`amend_order`
        gives it (not a read per order: the realtime pool, 25/s, would be spent by a few requotes a
        second); one not listed (filled or cancelled meanwhile) is read alone by :meth:`get_order`.
        A failed read is ``AmbiguousOutcome`` in the slot of each order it should have read (the
        amend was accepted; the order's state is unknown). Never sent twice: after a lost answer
        each order is looked up by its id; found resting as asked, or closed, it is that ``Order``;
        found otherwise, not found, or the lookup failing, ``AmbiguousOrderState``, as
        :meth:`cancel_orders`.
        """
        endpoint = self.category.order_amend_batch

        def asked(index: int) -> _Asked:
            amend = amends[index]
            [(field, value)] = _ids(amend.order_id, amend.client_order_id)
            item = {"symbol": symbol, field: value, "qty": amend.quantity, "price": amend.price}
            return _Asked(index, symbol, (field, value), {k: v for k, v in item.items() if v is not None})

        async def accepted(taken: list[tuple[_Asked, s.BatchRow]]) -> list[Order | LotusXError]:
            try:
                listed = {order.order_id: order for order in await self.get_open_orders(symbol)}
            except LotusXError as exc:
                return [_unread("amend", endpoint, symbol, row.orderId, exc) for _, row in taken]

            async def one(asked: _Asked, row: s.BatchRow) -> Order | LotusXError:
                amend = amends[asked.slot]
                try:
                    return await self._amended(endpoint, symbol, row.orderId, amend.price, amend.quantity,
                                               listed.get(row.orderId))
                except LotusXError as exc:
                    return exc

            return list(await asyncio.gather(*(one(asked, row) for asked, row in taken)))

        def found(asked: _Asked, row: s.OrderRow) -> Order | None:
            order, amend = _order(row), amends[asked.slot]
            return order if order.status in TERMINAL or _rests_as(order, amend.price, amend.quantity) else None

        return await self._batches(_Verb(endpoint, accepted, found), len(amends), asked)

    async def amend_order(self, symbol: str, *, order_id: str | int | None = None, client_order_id: str | None = None,
                          price: Decimal | None = None, quantity: Decimal | None = None) -> Order:
        """Give an open order a new ``price`` and/or ``quantity`` (POST /v5/order/amend); returns it as it rests after.

        The order id and client order id never change on Bybit. ``quantity`` is the order's whole
        size, what has filled included (docs/v5/order/amend-order.mdx ``qty``). A new price, or a
        larger quantity, puts the order at the back of its new price level (a price that crosses
        trades as a new order would).
        Bybit amends asynchronously and acknowledges with the ids alone, as it does a cancel: the
        order is read back, as :meth:`cancel_order` does, and an order still open shows the price and
        quantity asked (the read may come before the venue applied them; ``watch_orders`` confirms).
        A read-back that fails raises :class:`~lotusx.AmbiguousOutcome` saying the amend was
        accepted, the read's error its cause. An unknown, filled or cancelled order is ``NotFound``;
        an amend the order's rules refuse (110064: a quantity not above what has filled) is
        ``OrderRejected``, as on Binance.
        A refusal met by a re-send after a lost answer (the first attempt amended the order) is
        checked by reading the order: one that already rests as asked is the answer.
        """
        ids = _ids(order_id, client_order_id)
        amend_amounts(price, quantity)
        body = {"category": self.category.name, "symbol": symbol, **dict(ids), "qty": quantity, "price": price}
        try:
            done: s.OrderIds = await self._post(self.category.order_amend, body, s.OrderIds)
        except (InvalidRequest, OrderRejected) as exc:
            if isinstance(exc, NotFound):
                raise
            try:
                current = await self.get_order(symbol, order_id=order_id, client_order_id=client_order_id)
            except LotusXError:
                raise exc from None  # the venue's refusal is the answer; the read only looked for a lost one
            if current.status in TERMINAL or not _rests_as(current, price, quantity):
                raise
            return current
        return await self._amended(self.category.order_amend, symbol, done.orderId, price, quantity)

    async def _cancelled(self, endpoint: Endpoint, symbol: str, order_id: str) -> Order:
        """The order a cancel the venue acknowledged acted on: ``PENDING_CANCEL`` while it reads open."""
        # Not a CANCELED order made from the ids: Bybit cancels asynchronously, so the order may
        # fill before the cancel lands, and the acknowledgement gives no fill or price.
        order = await self._read_back("cancel", endpoint, symbol, order_id)
        if order.status not in TERMINAL:
            return msgspec.structs.replace(order, status="PENDING_CANCEL")
        return order

    async def _amended(self, endpoint: Endpoint, symbol: str, order_id: str, price: Decimal | None,
                       quantity: Decimal | None, listed: Order | None = None) -> Order:
        """The order an amend the venue acknowledged acted on: while open, at the ``price`` and ``quantity`` asked.

        ``listed`` is the order as an open-orders listing read after the amend showed it; without it,
        the order is read by its id."""
        order = listed if listed is not None else await self._read_back("amend", endpoint, symbol, order_id)
        if order.status in TERMINAL:
            return order
        # The ids alone came back, as from place_order: what was asked is what the order now rests at.
        return msgspec.structs.replace(order, price=price or order.price, quantity=quantity or order.quantity)

    async def _read_back(self, verb: str, endpoint: Endpoint, symbol: str, order_id: str) -> Order:
        """The order a write the venue acknowledged with its ids alone acted on; ``AmbiguousOutcome`` if unread."""
        try:
            return await self.get_order(symbol, order_id=order_id)
        except LotusXError as exc:
            raise _unread(verb, endpoint, symbol, order_id, exc) from exc

    async def cancel_all_orders(self, symbol: str) -> list[CancelledOrder]:
        """Cancel every open order of ``symbol`` in one request: the kill switch.

        Returns what the venue accepted to cancel, as :class:`~lotusx.CancelledOrder` ids with
        ``order`` left ``None``: Bybit acknowledges with ``{orderId, orderLinkId}`` alone and
        cancels asynchronously (docs v5/order/cancel-all), so an order's final state (cancelled,
        or filled first) is not known from the answer and is not made up; ``watch_orders`` has
        it, or ``get_order``. Reading each one back, as :meth:`cancel_order` does, would cost a
        request per order at the moment speed matters most. The same type as Binance's, whose
        answer holds each whole order.
        Nothing open is an empty list. Safe to repeat, and retried after a lost answer: a retry
        cancels what is open by then, so the list holds what the last attempt cancelled; what an
        earlier attempt took off comes on :meth:`watch_orders`. Linear cancels at most 500 orders a
        call ("picks up 500 orders randomly"): a full answer is followed by another call, until
        one cancels fewer. An answer with ``success`` "0" raises :class:`~lotusx.AmbiguousOutcome`:
        some orders may be open still. An unknown symbol is ``NotFound``.
        """
        if not symbol:  # spot without a symbol would cancel every spot order of the account
            raise ConfigError("cancel_all_orders needs a symbol")
        path = self.category.order_cancel_all.path
        cancelled: list[CancelledOrder] = []
        for _ in range(_MAX_PAGES):
            done: s.CancelledAll = await self._post(self.category.order_cancel_all,
                                                    {"category": self.category.name, "symbol": symbol},
                                                    s.CancelledAll)
            cancelled += [CancelledOrder(order_id=row.orderId, client_order_id=row.orderLinkId, symbol=symbol)
                          for row in done.rows]
            if done.success == "0":
                raise AmbiguousOutcome(f"POST {path}: the venue reported the cancel of every {symbol} order failed, "
                                       f"after {len(cancelled)} cancelled: some may be open still; "
                                       "cancel_all_orders again (safe) or get_open_orders")
            if len(done.rows) < _CANCEL_ALL_CAP:
                return cancelled
        raise ProtocolError(f"POST {path}: still {symbol} orders to cancel after {_MAX_PAGES} calls")

    async def get_order(self, symbol: str, *, order_id: str | int | None = None,
                        client_order_id: str | None = None) -> Order:
        """One order, open or closed, by venue order id or client order id.

        ``/v5/order/realtime`` first; a closed order it no longer keeps (past the recent 500, or
        after a venue restart, docs v5/order/open-order) comes from ``/v5/order/history``.
        """
        return _order(await self._order_row(symbol, _ids(order_id, client_order_id)))

    async def _order_row(self, symbol: str, ids: Sequence[tuple[str, str]]) -> s.OrderRow:
        for endpoint in (ep.ORDER_REALTIME, ep.ORDER_HISTORY):
            rows: s.Rows[s.OrderRow] = await self._get(endpoint, [("symbol", symbol), *ids], s.Rows[s.OrderRow])
            found = _find(rows.rows, ids)
            if found is not None:
                return found
        raise NotFound(f"GET {ep.ORDER_HISTORY.path}: no such order", code=110001)

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Every open order of one symbol, or of all (linear: USDT- and USDC-settled), newest created first.

        Follows ``nextPageCursor`` page by page (see :meth:`_walk`). Pages are not one snapshot:
        an order placed or cancelled during the walk may or may not be listed, but none is
        listed twice.
        """
        return await self._walk(ep.ORDER_REALTIME, symbol, [])

    async def get_order_history(self, symbol: str | None = None, *, since: int,
                                until: int | None = None) -> list[Order]:
        """Closed orders of one symbol, or of all (linear: USDT- and USDC-settled), dated ``since`` to ``until`` (ms).

        GET /v5/order/history, asked in windows of at most 7 days (the venue's limit) and
        walked page by page. ``until`` defaults to now. The venue keeps orders cancelled without
        a fill for 24 hours only, and its history "may delay" behind the matching engine (docs
        v5/order/order-list); the docs do not say which time the window selects by.
        """
        # The venue's now: this machine's would leave a venue ahead of it its newest orders out.
        end = until if until is not None else await self.parts.list_end(f"GET {ep.ORDER_HISTORY.path}")
        found: dict[str, Order] = {}
        for start, stop in windows(since, end, _HISTORY_SPAN_MS):
            for order in await self._walk(ep.ORDER_HISTORY, symbol, [("startTime", start), ("endTime", stop)]):
                found[order.order_id] = order
        return list(found.values())

    def _scopes(self, symbol: str | None) -> list[tuple[str, str | None]]:
        """What one list query is asked for: one symbol, or every one, which on linear is one query per settle
        coin (docs/v5/order/open-order: linear needs "either symbol, baseCoin or settleCoin"; USDT and USDC
        contracts alike are linear's, docs/v5/enum "category"); spot takes no settle coin: one query."""
        if symbol:
            return [("symbol", symbol)]
        if self.category.name == "linear":
            return [("settleCoin", coin) for coin in _SETTLE_COINS]
        return [("settleCoin", None)]

    async def get_fills(self, symbol: str, *, since: int, until: int | None = None) -> list[Fill]:
        """This account's fills of ``symbol`` from ``since`` to ``until`` (ms, default now), oldest first, with fees.

        GET /v5/execution/list, walked as :meth:`get_order_history` walks its list: windows of at
        most 7 days, pages of up to 100 followed by their cursor (docs/v5/order/execution). Funding
        fees, listed there too (execType Funding), are no fills and are left out.
        """
        end = until if until is not None else await self.parts.list_end(f"GET {ep.EXECUTION_LIST.path}")
        return await self._fills(symbol, since, end)

    async def _fills(self, symbol: str | None, since: int, end: int) -> list[Fill]:
        """The fills the execution list answers for ``symbol``, or the category (see :meth:`_scopes`), from
        ``since`` to ``end``, oldest first."""
        found: dict[str, Fill] = {}
        for start, stop in windows(since, end, _HISTORY_SPAN_MS):
            rows = [row for scope in self._scopes(symbol)
                    for row in await self._pages(ep.EXECUTION_LIST, [scope, ("startTime", start), ("endTime", stop)],
                                                 s.ExecutionRow, _FILLS_PAGE, "fills")]
            for row in reversed(rows):  # the venue lists newest first
                if _is_fill(row) and row.execId not in found:
                    found[row.execId] = await self._fill(row)
        # Stable: executions of one millisecond keep the venue's order (it sorts them by no documented key).
        return sorted(found.values(), key=lambda fill: fill.timestamp)

    async def _fill(self, row: s.ExecutionRow) -> Fill:
        """``row`` as a fill; one naming no fee coin (a linear one) pays in its contract's settle coin."""
        return _fill(row, None if row.feeCurrency else await self._settle_coin(row.symbol))

    async def _settle_coin(self, symbol: str) -> str:
        """The coin ``symbol``'s contract settles in: a linear fill's fee is paid in it, and its ``feeCurrency``
        is empty (docs/v5/order/execution's example); USDT and USDC contracts alike, so asked, not guessed.
        instruments-info lists only Trading symbols unless asked for another status (docs/v5/market/
        instrument.mdx): a contract delisted or delivering (its last fills, its Delivery) is looked for there too."""
        if symbol not in self._settles:
            coin = None
            for status in _STATUSES:
                rows = await self._instrument_rows([("symbol", symbol), ("status", status)])
                coin = next((row.settleCoin for row in rows if row.symbol == symbol and row.settleCoin), None)
                if coin is not None:
                    break
            if coin is None:
                raise ProtocolError(f"GET {ep.EXECUTION_LIST.path}: a {symbol} fill names no fee currency, and "
                                    f"{ep.INSTRUMENTS_INFO.path} no settle coin for it")
            self._settles[symbol] = coin
        return self._settles[symbol]

    async def _walk(self, endpoint: Endpoint, symbol: str | None, params: Sequence[tuple[str, Any]]) -> list[Order]:
        """Every order a paged list query answers for ``symbol``, or the category (see :meth:`_scopes` and
        :meth:`_pages`), newest created first as the venue sorts each list (docs/v5/order/open-order)."""
        rows = [row for scope in self._scopes(symbol)
                for row in await self._pages(endpoint, [scope, *params], s.OrderRow, _PAGE, "orders")]
        orders: dict[str, Order] = {}
        # Stable: one list's rows keep the venue's order; the settle coins' lists are merged by creation time.
        for row in sorted(rows, key=lambda row: int(row.createdTime or 0), reverse=True):
            # a venue paging by offset repeats an order when a newer one arrives
            orders.setdefault(row.orderId, _order(row))
        return list(orders.values())

    async def _pages(self, endpoint: Endpoint, params: Sequence[tuple[str, Any]], row: type[R], size: int,
                     what: str) -> list[R]:
        """Every row a paged list query answers, following ``nextPageCursor``, at most ``_MAX_PAGES`` pages.

        Each page is one call through the stack, so it is rate limited and retried like any other.
        """
        async def page(cursor: str | None) -> s.Rows[R]:
            rows: s.Rows[R] = await self._get(endpoint, [*params, ("limit", size), ("cursor", cursor)], _ROWS[row])
            return rows

        return await _walk_cursor(page, endpoint, what)

    async def get_positions(self, symbol: str | None = None, *, settle_coin: str = "USDT") -> list[Position]:
        """Open positions of one symbol, or of every symbol settled in ``settle_coin`` (linear only).

        GET /v5/position/list (docs/v5/position/position.mdx), walked page by page (200 a page) by
        its cursor. Linear needs a symbol or a settle coin; with a symbol the venue answers
        "regardless of having position or not" (a one-way flat row: side "", size "0"), so flat
        rows are left out: the list is what is held. Hedge mode's two legs (positionIdx 1 and 2)
        come as two positions, each with its side. A spot connector has no positions: ConfigError,
        before anything is sent.
        """
        return [_position(row) for row in await self._position_rows(symbol, settle_coin) if row.size]

    async def _position_rows(self, symbol: str | None, settle_coin: str) -> list[s.PositionRow]:
        if self.category.name == "spot":
            raise ConfigError("spot has no positions: get_positions and watch_positions are for a linear "
                              "connector (lotusx.connect(\"bybit-linear\", ...))")
        scope = ("symbol", symbol) if symbol else ("settleCoin", settle_coin)  # "symbol has a higher priority"
        return await self._pages(ep.POSITION_LIST, [scope], s.PositionRow, _POSITIONS_PAGE, "positions")

    async def get_balances(self) -> dict[str, Balance]:
        """Non-zero balances of the unified account, by coin: ``free`` is ``walletBalance - locked``.

        The same for every category, as the account is one. ``locked`` is "locked balance due to the
        Spot open order" (docs v5/account/wallet-balance): the initial margin a linear order or
        position holds (``totalOrderIM``, ``totalPositionIM``) is not taken from ``free``, nor is
        unrealised P&L added. What a derivatives order may still use is account-wide under cross
        margin (``totalAvailableBalance``, in USD), not a coin's balance.
        """
        wallet: s.Wallet = (await self.rest.get(ep.WALLET_BALANCE.path, {"accountType": "UNIFIED"},
                                                endpoint=ep.WALLET_BALANCE, type=s.Envelope[s.Wallet])).result
        return _balances(wallet.accounts)

    async def withdraw(self, withdrawal: Withdrawal) -> str:
        """Request a withdrawal from the funding wallet; returns its id. Never retried once sent.

        One whose outcome is unknown (its answer unreadable, or none: a timeout, a 5xx, a connection
        lost after sending, an error code the venue's docs give as no refusal: a server failure,
        "busy", a code they do not list) is ``AmbiguousWithdrawal``: check the account's withdrawal
        records before asking again (:meth:`get_withdrawals`). Bybit's record does not return the
        ``requestId`` (docs/v5/asset/withdraw/withdraw-record.mdx): look for its coin, amount and address.
        The same ``client_id`` sent again as ``requestId`` is what Bybit checks for idempotence
        (docs/v5/asset/withdraw/withdraw.mdx). A documented refusal (balance, address,
        whitelist, amount limits...) is raised as its typed error: nothing moved.
        """
        # The body's timestamp on the venue's clock, as the signature's (the first call after
        # connect, a stale offset): venue_ms syncs first.
        body = {"coin": withdrawal.asset, "chain": withdrawal.network, "address": withdrawal.address,
                "tag": withdrawal.tag, "amount": withdrawal.amount, "accountType": "FUND",
                "timestamp": await self.parts.venue_ms(f"POST {ep.WITHDRAW.path}"), "requestId": withdrawal.client_id}
        response = await withdrawal_answer(self.rest.send(_post(ep.WITHDRAW, body)), withdrawal.client_id)
        answer: s.Envelope[s.WithdrawId] = withdrawn(response, _ENVELOPE[s.WithdrawId], withdrawal.client_id)
        return answer.result.id

    async def get_withdrawals(self, asset: str | None = None, *,
                              client_id: str | None = None) -> list[WithdrawalStatus]:
        """Withdrawal records of the last 30 days (the venue's default window), on and off chain, newest first.

        GET /v5/asset/withdraw/query-record (docs/v5/asset/withdraw/withdraw-record.mdx), ``withdrawType`` 2
        (all: a withdrawal to a Bybit address goes off chain, and the default lists on chain only), 50 a page,
        walked by ``nextPageCursor``. Statuses (docs/v5/enum.mdx "withdrawStatus") read as Binance's words
        where they mean the same: SecurityCheck AWAITING_APPROVAL, Pending PROCESSING, success COMPLETED,
        CancelByUser CANCELLED, Reject REJECTED, Fail FAILURE; BlockchainConfirmed, MoreInformationRequired and
        Unknown, which Binance has no word for, stay Bybit's. ``client_id`` is always ``None``: the records do
        not carry the ``requestId``, so ``client_id=`` is a ``ConfigError``.
        """
        if client_id is not None:
            raise ConfigError("Bybit's withdrawal records do not carry the requestId (client_id), so they cannot "
                              "be searched by it: find the withdrawal by coin, amount and address in "
                              "get_withdrawals(asset), or send the same Withdrawal (same client_id) again, "
                              "which Bybit checks for idempotence")
        async def page(cursor: str | None) -> s.WithdrawRecords:
            # No category: the endpoint is the account's, not a product's (so not self._get).
            params = [("coin", asset), ("withdrawType", 2), ("limit", _WITHDRAWALS_PAGE), ("cursor", cursor)]
            answer: s.Envelope[s.WithdrawRecords] = await self.rest.get(
                ep.WITHDRAW_RECORD.path, params, endpoint=ep.WITHDRAW_RECORD, type=_ENVELOPE[s.WithdrawRecords])
            return answer.result

        return [_withdrawal(row) for row in await _walk_cursor(page, ep.WITHDRAW_RECORD, "withdrawals")]

    # ----- streams -----

    def _public(self) -> ReconnectWs:
        url = self.parts.ws_url + self.category.public_path
        return self.parts.opened(ReconnectWs(lambda: self.parts.socket(url), frames=bybit_frames(self.metrics),
                                             dialect=public_dialect(self.category), heartbeat=HEARTBEAT,
                                             metrics=self.metrics, clock=self.parts.local_clock,
                                             admit=admission(self.parts.rate_limit, ep.WS_CONNECT)))

    @asynccontextmanager
    async def _subscribed(self, topics: Sequence[str]) -> AsyncIterator[ReconnectWs]:
        async with self._public() as ws:
            await subscribe_unless_closed(ws, list(topics))
            yield ws

    async def watch_order_book(self, symbol: str, depth: int | None = 20, *,
                               conflate: bool = False) -> AsyncGenerator[OrderBook, None]:
        """The maintained book of ``symbol`` after every update, resynced on gaps and reconnects.

        ``depth`` levels a side (up to 1000), streamed from ``orderbook.50``, ``.200`` or ``.1000``.
        ``conflate=True``: the newest book when you read, not every one since (see :meth:`watch_order_books`).
        """
        async with aclosing(self.watch_order_books([symbol], depth, conflate=conflate)) as books:
            async for book in books:
                yield book

    async def watch_order_books(self, symbols: Iterable[str], depth: int | None = 20, *,
                                lost: Callable[[str, SubscriptionRejected], None] | None = None,
                                conflate: bool = False) -> AsyncGenerator[OrderBook, None]:
        """Maintained books of ``symbols``, on as few connections as the venue's caps allow.

        Every book comes, in order, to a consumer as fast as the venue. ``conflate=True`` is for one
        slower: the books are kept from every message in a task of their own, and each read gives the
        newest book of a symbol changed since it was last read (:func:`lotusx.ws.conflate`).

        A sequence gap resyncs only its own symbol; a dropped connection, only the books it carried.
        A symbol whose topic the venue refuses to subscribe again (after a reconnect, or when its
        book is resynced: delisted) ends the books with ``SubscriptionRejected`` naming the topic,
        unless ``lost`` is given: then ``lost(symbol, error)`` is called, no book of it comes any
        more, and the others go on (the last one lost ends them all the same).
        """
        check_several("symbols", symbols)
        check_count("depth", depth, none="every level")
        syncs = {symbol: SnapshotDeltaSync(symbol) for symbol in symbols}

        def current(book: OrderBook) -> bool:  # a book held for a slow reader, its stream not dropped since
            sync = syncs.get(book.symbol)  # none once its topic is lost
            return sync is not None and sync.synced

        books = self._follow_books(syncs, depth, lost)
        # conflate: the same books, every one of them kept, read in a task of their own
        handed_over = newest_per_key(books, key=attrgetter("symbol"), current=current) if conflate else books
        async with aclosing(handed_over) as handed:
            async for book in handed:
                yield book

    async def _follow_books(self, syncs: dict[str, SnapshotDeltaSync], depth: int | None,
                            lost: Callable[[str, SubscriptionRejected], None] | None
                            ) -> AsyncGenerator[OrderBook, None]:
        """The books of ``syncs`` (symbol -> its sync, a lost topic's removed), as :meth:`watch_order_books`."""
        topics = {_book_topic(symbol, depth): syncs[symbol] for symbol in syncs}
        asked: set[str] = set()  # topics subscribed afresh whose snapshot has not come yet

        def drop(topic: str, error: SubscriptionRejected) -> None:
            """The venue refused ``topic``: its book is gone, the caller told."""
            sync = topics.pop(topic)
            del syncs[sync.symbol]
            asked.discard(topic)
            if not topics or lost is None:
                raise error
            lost(sync.symbol, error)

        async with self._subscribed(list(topics)) as ws:
            async for message in ws:
                if isinstance(message, Lost):  # refused after a reconnect: no snapshot or delta would come
                    if message.stream in topics:
                        drop(message.stream, message.rejected())
                    continue
                if isinstance(message, Reconnected):  # resubscribed: the venue sends snapshots again
                    why = resync_reason(message)
                    for topic, sync in topics.items():
                        # Only the books of the connection that was lost: the others lost nothing,
                        # and reset they would get no snapshot but by a resubscribe each.
                        if why == OVERFLOW_REASON or ws.shard_of(topic) in (message.shard, None):
                            asked.discard(topic)
                            sync.reset()
                            self._resynced(sync.symbol, why)
                    continue
                unread = message.topic if type(message) is s.WsFrame else (
                    message.stream if type(message) is Malformed else None)
                if unread in topics:
                    # Our topic's push failed its schema (counted by Route) or was not JSON (counted by
                    # Parse): the book misses it, and a lost snapshot would leave it waiting for one forever.
                    sync, topic = topics[unread], unread
                    sync.reset()
                    outcome: Outcome | Gap | OrderBook = Gap(sync.symbol, _UNREADABLE_BOOK)
                elif not isinstance(message, BookMessage) or message.data.s not in syncs:
                    continue
                else:
                    sync, data, topic = syncs[message.data.s], message.data, message.topic
                    outcome = sync.on_message(message.kind, data.u, data.b, data.a, message.ts)
                    if outcome == "applied":
                        outcome = readable(sync, depth)
                    elif outcome == "snapshot":  # the venue's own word, read whole as it came
                        outcome = sync.book.view(depth)
                if isinstance(outcome, OrderBook):
                    asked.discard(topic)
                    yield outcome
                elif isinstance(outcome, Gap) or (outcome == "buffered" and topic not in asked):
                    # A delta on a book waiting for its snapshot: that snapshot came before the Gap
                    # that reset the book, or never. Bybit sends one only on a subscribe, so waiting
                    # would leave the book stalled until the next reconnect.
                    self._resynced(sync.symbol, outcome.reason if isinstance(outcome, Gap) else _NO_SNAPSHOT)
                    asked.add(topic)
                    # A fresh subscription starts with a snapshot; the other topics keep streaming.
                    await ws.unsubscribe([topic])
                    try:
                        await subscribe_unless_closed(ws, [topic])
                    except SubscriptionRejected as exc:  # the venue no longer has it (delisted)
                        drop(topic, exc)

    def _resynced(self, symbol: str, reason: str) -> None:
        self.metrics.book_resyncs.labels("bybit", symbol, reason).inc()

    async def watch_trades(self, symbol: str) -> AsyncGenerator[Trade, None]:
        """Public trades of ``symbol`` as they happen, with those a reconnect hid (:func:`lotusx.account.follow_trades`:
        from :meth:`get_trades`, at most 60 on spot, 1000 on linear)."""
        def trades(m: Any) -> list[Trade]:
            if not isinstance(m, TradeMessage):
                return []
            return [Trade(symbol=t.s, trade_id=t.i, price=t.p, quantity=t.v, timestamp=t.T, side=_SIDE[t.S])
                    for t in m.trades]

        def unread(m: Any) -> bool:  # our push, failing its schema (an untyped frame) or cut short (Malformed)
            return (m.topic if type(m) is s.WsFrame else m.stream if type(m) is Malformed else None) == topic

        page, topic = _TRADES_PAGE[self.category.name], f"publicTrade.{symbol}"
        # Its one topic refused after a reconnect (a Lost) ends it: follow_trades raises why.
        async with self._subscribed([topic]) as ws, aclosing(follow_trades(
                aiter(ws), trades=trades, fetch=lambda: self.get_trades(symbol, page), page=page, unread=unread,
                clock=self.parts.clock, metrics=self.metrics, exchange="bybit")) as found, self.parts.ended_by_close():
            async for trade in found:
                yield trade

    async def watch_ticker(self, symbol: str) -> AsyncGenerator[Ticker, None]:
        """Best bid/ask of ``symbol`` on every change, from the maintained book.

        The spot ``tickers`` topic carries no bid/ask, so the book is the one source that
        works for every category.
        """
        last: tuple[Any, Any] | None = None
        async with aclosing(self.watch_order_books([symbol], depth=1)) as books:
            async for book in books:
                if book.best_bid is None or book.best_ask is None or (book.best_bid, book.best_ask) == last:
                    continue
                last = (book.best_bid, book.best_ask)
                yield Ticker(symbol=symbol, bid=book.best_bid[0], bid_quantity=book.best_bid[1],
                             ask=book.best_ask[0], ask_quantity=book.best_ask[1], timestamp=book.timestamp)

    async def watch_orders(self, symbols: Iterable[str] = (), *, since: int | None = None
                           ) -> AsyncGenerator[Order, None]:
        """Order updates of this account in this category, reconciled by REST after each reconnect.

        ``symbols`` is taken for the same call as Binance's and not needed: Bybit's history
        covers every symbol of the category at once.

        The private stream is re-authenticated on reconnect; what it missed while it was down
        comes from ``get_open_orders()``, ``get_order_history()`` from the gap on (every symbol
        at once), and ``get_order()`` (:func:`lotusx.account.follow_orders`); an order last seen
        open that ``get_order()`` cannot find yet (the venue's lists lag its engine) is asked
        again after a short wait, within :data:`lotusx.account.RECONCILE_WAITS`. Not covered: an
        order cancelled without a fill more than 24 hours before the stream is back (the
        venue's history has dropped it), one the history has not caught up with when asked,
        and one placed before the watcher started, never updated while it watched, that
        closes during a gap (the history is asked from the gap on only).

        ``since`` (a venue time in ms, e.g. ``await get_server_time()`` taken before trading):
        once the ``order`` topic is subscribed, the watch reconciles from that time exactly as
        after a gap, then streams, so every order change since then is yielded with no race
        against the subscription: every open order (whenever placed), and every order the
        history lists as changed since ``since``. A ``since`` in the future or negative is a
        ``ConfigError`` before anything is sent; without it nothing is asked by REST until a reconnect.
        """
        check_several("watch_orders symbols", symbols)
        category = self.category.name
        start_at = checked_since("watch_orders", since, self.parts.clock.time())

        def updates(message: Any) -> list[Order]:
            if not isinstance(message, OrderMessage):
                return []
            return [_order(row) for row in message.orders if row.category in (None, category)]

        async def changed(gap_time: GapStart, known: frozenset[str]) -> list[Order]:
            start = gap_start_ms(gap_time, self.parts.clock.offset, HEARTBEAT.idle_timeout)
            # Until a little past now: the venue's clock is known to within the offset's error.
            return await self.get_order_history(since=start, until=int((self.parts.clock.time() + GAP_SLACK) * 1000))

        async def current(last: Order) -> Order:
            return await self.get_order(last.symbol, order_id=last.order_id)

        async with aclosing(self._private("order", start_at)) as messages, aclosing(follow_orders(
                messages, orders=updates, open_orders=self.get_open_orders, orders_since=changed,
                get_order=current, clock=self.parts.clock, metrics=self.metrics,
                exchange="bybit")) as orders, self.parts.ended_by_close():
            async for update in orders:
                yield update

    async def watch_fills(self, symbols: Iterable[str] = (), *, since: int | None = None
                          ) -> AsyncGenerator[Fill, None]:
        """This account's executions in this category (private ``execution`` stream), each once, with the ones a
        reconnect hid.

        ``symbols`` is taken for the same call as Binance's and not needed: after a gap one
        execution list query per settle coin covers every symbol of the category (linear: USDT and USDC
        contracts, as :meth:`watch_orders`' lists), and :func:`lotusx.account.follow_fills` yields the fills
        since the gap began not yielded yet, oldest first, each once by its ``execId``.

        Every execution but ``Funding`` is a fill, as in :meth:`get_fills`: ``Trade``, and on
        contracts ``AdlTrade``, ``BustTrade``, ``Delivery`` and the like, which change the
        position at a price and quantity of their own (docs/v5/enum.mdx "execType"), so an
        inventory kept from fills needs them; a funding fee trades nothing (its ``execQty`` is
        the position it was charged on). A fill naming no fee coin pays in its contract's
        settle coin, asked once per symbol (:meth:`get_fills` does the same); should that query
        fail (a 5xx past ``Retry``, a timeout), the message's fills are listed from their own time
        as after a gap, within the reconcile's retries, instead of ending the watch.

        ``since`` (a venue time in ms, e.g. ``await get_server_time()`` taken before trading):
        once the ``execution`` topic is subscribed, the fills since that time are fetched as
        after a gap (every symbol of the category), then the stream follows, each fill once:
        every fill since ``since`` with no race against the subscription. A ``since`` in the
        future or negative is a ``ConfigError`` before anything is sent; without it nothing is
        asked by REST until a reconnect.
        """
        check_several("watch_fills symbols", symbols)
        category = self.category.name
        start_at = checked_since("watch_fills", since, self.parts.clock.time())

        async def executions() -> AsyncGenerator[Any, None]:
            """The private stream, each execution message read into its fills (the fee coin may need a query)."""
            async with aclosing(self._private("execution", start_at)) as messages:
                async for message in messages:
                    if not isinstance(message, ExecutionMessage):
                        yield message
                        continue
                    rows = [row for row in message.executions if row.category in (None, category) and _is_fill(row)]
                    try:
                        read = [await self._fill(row) for row in rows]
                    except LotusXError:
                        # The fee coin's query failed (a 5xx past Retry, a timeout): these fills are
                        # listed from their own time instead, by the reconcile, which asks again within
                        # its budget and ends the watch with the error only once that is spent.
                        yield Backfill(min(int(row.execTime) for row in rows))
                        yield Resumed(self.parts.clock.time())
                        continue
                    yield read

        async def fetch(gap_time: GapStart, known: frozenset[str]) -> list[Fill]:
            start = gap_start_ms(gap_time, self.parts.clock.offset, HEARTBEAT.idle_timeout)
            # Until a little past now: the venue's clock is known to within the offset's error.
            until = int((self.parts.clock.time() + GAP_SLACK) * 1000)
            return await self._fills(None, start, until)

        async with aclosing(executions()) as messages, aclosing(follow_fills(
                messages, fills=_read_fills, fetch=fetch, clock=self.parts.clock, metrics=self.metrics,
                exchange="bybit")) as fills, self.parts.ended_by_close():
            async for fill in fills:
                yield fill

    async def watch_balances(self) -> AsyncGenerator[dict[str, Balance], None]:
        """Balance changes of the unified account (private stream); after a reconnect, the whole account.

        See :func:`lotusx.account.follow_balances`: a coin emptied while the stream was down
        comes as a zero balance, and a push older (by its ``creationTime``) than the last one
        yielded for a coin is dropped. The wallet query gives no time of its own (the envelope's
        ``time`` is when it answered, not when its data was), so it orders nothing.
        """
        def changed(message: Any) -> tuple[int | None, dict[str, Balance]] | None:
            if not isinstance(message, WalletMessage):
                return None
            return message.time, _balances(message.accounts, zeros=True)

        async def fetch() -> tuple[int | None, dict[str, Balance]]:
            return None, await self.get_balances()

        async with aclosing(self._private("wallet")) as messages, aclosing(follow_balances(
                messages, balances=changed, fetch=fetch, clock=self.parts.clock, metrics=self.metrics,
                exchange="bybit")) as changes, self.parts.ended_by_close():
            async for change in changes:
                yield change

    async def watch_positions(self, *, settle_coins: Iterable[str] = _SETTLE_COINS
                              ) -> AsyncGenerator[Position, None]:
        """Position changes of this account in this category (linear), each whole, from the private ``position``
        stream (docs/v5/websocket/private/position.mdx); after a reconnect, every open position.

        A position going flat comes with size 0 (side ``None`` in one-way mode, the leg's side in
        hedge mode). The venue pushes on every order created, amended or cancelled "regardless if
        there's any actual change", so the same position may come again unchanged. After a gap
        the open positions of ``settle_coins`` are fetched (:meth:`get_positions`, one walk per
        coin) and yielded, and one seen open before and absent now comes flat, its figures other
        than side and size unknown (``None``, entry price 0); see
        :func:`lotusx.account.follow_positions`. A push older (by ``updatedTime``) than the last
        one yielded for its position is dropped.
        """
        coins = tuple(settle_coins)
        if isinstance(settle_coins, str) or not coins:
            raise ConfigError(f"settle_coins is a collection of coins: pass ({settle_coins!r},)")
        category = self.category.name
        if category == "spot":
            await self._position_rows(None, coins[0])  # raises: spot has no positions

        def changed(message: Any) -> list[tuple[tuple[str, int], Position]]:
            if not isinstance(message, PositionMessage):
                return []
            return [((row.symbol, row.positionIdx), _position(row)) for row in message.positions
                    if row.category in (None, category)]

        async def fetch() -> dict[tuple[str, int], Position]:
            rows = [row for coin in coins for row in await self._position_rows(None, coin)]
            return {(row.symbol, row.positionIdx): _position(row) for row in rows if row.size}

        def flat(key: tuple[str, int], last: Position) -> Position:
            return Position(symbol=last.symbol, side=_LEG.get(key[1]), size=Decimal(0), entry_price=Decimal(0))

        async with aclosing(self._private("position")) as messages, aclosing(follow_positions(
                messages, positions=changed, fetch=fetch, flat=flat, clock=self.parts.clock, metrics=self.metrics,
                exchange="bybit")) as positions, self.parts.ended_by_close():
            async for position in positions:
                yield position

    async def _private(self, topic: Literal["order", "execution", "wallet", "position"],
                       since: int | None = None) -> AsyncGenerator[Any, None]:
        """The private stream of ``topic``; with ``since``, first a :class:`~lotusx.account.Backfill` from it and a
        ``Resumed``, once the topic is subscribed (logged in first): the followers reconcile from ``since`` then."""
        clock = self.parts.clock
        async with self._private_ws("a private stream (watch_orders, watch_fills, watch_balances, "
                                    "watch_positions)") as ws:
            await subscribe_unless_closed(ws, [topic])
            if since is not None and not ws.closed:
                yield Backfill(since)
                yield Resumed(clock.clock.time())
            async for message in ws:
                if type(message) is Malformed or (
                        type(message) is s.WsFrame and (message.topic or "").startswith(topic)):
                    # A frame that is not JSON (counted by Parse) or our topic's payload that failed
                    # its schema (counted by Route): what it said is lost, so it is asked by REST,
                    # as after a gap (the stream itself is live).
                    now = clock.clock.time()  # a Gap is marked on the local clock
                    yield Reconnected(_UNREADABLE_EVENT, now)
                    yield Resumed(now)
                    continue
                yield message

    def _private_ws(self, what: str) -> ReconnectWs:
        """A private stream (not started), logging in on each connection; ``what`` needs the credentials."""
        credentials = self.parts.need_credentials(what)
        signer, clock = BybitHmac(credentials.api_key, credentials.hmac_secret()), self.parts.clock

        stamps = LoginClock(clock)

        async def login() -> str:
            return auth(signer, await stamps.now_ms())

        def answered(message: Any) -> LoginAck | None:
            result = login_ack(message)
            # An ``expires`` already past on the venue's clock is refused with "Params Error"
            # (bybit-exchange/pybit issues 152 and 300): the clock is resynced and the login sent
            # again on a new connection. Refused again right after a resync, it was not the clock.
            if result == (False, _EXPIRED_LOGIN) and not stamps.refused():
                return TimestampOutOfWindow(f"WebSocket login refused ({_EXPIRED_LOGIN}): expires past the venue's "
                                            "clock?", venue_message=_EXPIRED_LOGIN)
            return result

        url = self.parts.ws_url + ep.PRIVATE_PATH
        dialect = dataclasses.replace(PRIVATE, login=login, login_ack=answered)
        return self.parts.opened(ReconnectWs(lambda: self.parts.socket(url), frames=bybit_frames(self.metrics),
                                             dialect=dialect, heartbeat=HEARTBEAT, metrics=self.metrics,
                                             clock=self.parts.local_clock,
                                             admit=admission(self.parts.rate_limit, ep.WS_CONNECT)))

    # ----- disconnection protection (DCP) -----

    async def set_disconnect_cancel(self, time_window: int, *, product: str | None = None) -> None:
        """Set ``product``'s DCP window to ``time_window`` seconds, 3 to 300 (POST /v5/order/disconnected-cancel-all).

        Disconnection Protection is Bybit's dead man's switch (docs/v5/order/dcp.mdx): once every
        private connection holding the product's ``dcp`` topic (:meth:`disconnect_cancel` holds
        one) is gone, and none is back within the window, the venue cancels every active order of
        the product. ``product`` is ``SPOT``, ``DERIVATIVES`` or ``OPTIONS``, by default this
        connector's (spot: SPOT, linear: DERIVATIVES); it is always sent, as the venue's own default
        is OPTIONS. A window out of range or another product is a ``ConfigError``, nothing sent.
        The account must have DCP switched on by its account manager ("only available for Ins
        clients"), and a new window takes "a certain time" to apply (the docs: ask again after
        10 s). Binance spot has no equivalent: its connector has no such method.
        """
        chosen = self._dcp_product(product)
        body = {"product": chosen, "timeWindow": _dcp_window(time_window)}
        await self.rest.call(_post(ep.DCP_SET, body), s.Acknowledged)  # no result: retCode and retMsg alone

    async def get_disconnect_cancel(self) -> dict[str, int]:
        """The DCP window in seconds of each product DCP is on for (GET /v5/account/query-dcp-info).

        ``{"SPOT": 10, "DERIVATIVES": 10}``: a product DCP is not switched on for is absent, and an
        account without DCP gets an empty dict (docs/v5/account/dcp-info.mdx).
        """
        answer: s.Envelope[s.DcpInfos] = await self.rest.get(ep.DCP_INFO.path, None, endpoint=ep.DCP_INFO,
                                                             type=s.Envelope[s.DcpInfos])
        return {row.product: int(row.timeWindow) for row in answer.result.dcpInfos if row.dcpStatus == "ON"}

    @asynccontextmanager
    async def disconnect_cancel(self, time_window: int | None = None, *,
                                product: str | None = None) -> AsyncIterator[ReconnectWs]:
        """DCP armed for the block: a private connection of its own holds ``product``'s ``dcp`` topic.

        The venue cancels every active order of the product once no private connection holding
        the topic is up and none is back within the window (docs/v5/order/dcp.mdx,
        docs/v5/websocket/private/dcp.mdx: ``dcp.spot``, ``dcp.future``, ``dcp.option``): so when
        this process or its network dies, its quotes do not outlive it by more than the window.
        The connection is kept up as every private stream is (heartbeat, re-login and resubscribe
        on reconnect), and entering returns once the venue confirmed the subscription.
        ``time_window`` (3 to 300 s), when given, is set first (:meth:`set_disconnect_cancel`);
        ``product`` defaults to this connector's.

        Leaving the block closes the connection, which to the venue is a disconnect like any
        other: the product's orders are cancelled once the window passes, unless a connection
        holding the topic (another block, another process of the account) is up by then.
        The block gets the stream holding the topic, for its ``stats`` (``connections`` is 0
        while it reconnects); it is read by the switch, not by the block. What no reconnect
        cures ends the switch (a login refused: ``AuthenticationError``; the topic refused
        after a reconnect: ``SubscriptionRejected``): nothing protects the orders from then on,
        so the block is stopped where it waits, as ``asyncio.timeout`` stops one, and the
        ``async with`` raises the switch's error (a quoter's own ``finally`` then pulls its
        quotes). A cancel of the block's task from outside stays a ``CancelledError``.
        """
        chosen = self._dcp_product(product)
        if time_window is not None:
            await self.set_disconnect_cancel(time_window, product=chosen)
        async with self._private_ws("disconnect_cancel") as ws:
            await ws.subscribe([_DCP_TOPIC[chosen]])
            block = asyncio.current_task()
            assert block is not None  # an async with runs in a task
            cancelling, inside, stopped = block.cancelling(), True, False

            def ended(holder: asyncio.Task[None]) -> None:
                nonlocal stopped
                if inside and not holder.cancelled() and holder.exception() is not None:
                    # Nothing protects the orders now: the block is stopped where it waits (as
                    # asyncio.timeout stops one), and its end raises the switch's error.
                    stopped = True
                    block.cancel()

            holder = asyncio.create_task(_hold(ws))
            holder.add_done_callback(ended)
            try:
                yield ws
            except asyncio.CancelledError:
                if stopped and block.uncancel() <= cancelling:  # our cancel, not the caller's
                    raise _ended_by(holder) from None
                raise
            else:
                if stopped:  # the block swallowed our cancel
                    block.uncancel()
                if holder.done() and not holder.cancelled() and holder.exception() is not None:
                    raise _ended_by(holder)  # the switch ended as the block did
            finally:
                inside = False
                holder.cancel()
                await asyncio.gather(holder, return_exceptions=True)

    def _dcp_product(self, product: str | None) -> str:
        if product is None:
            return _DCP_PRODUCT[self.category.name]
        if product not in _DCP_TOPIC:
            raise ConfigError(f"product is SPOT, DERIVATIVES or OPTIONS (docs/v5/order/dcp.mdx), got {product!r}")
        return product

    async def subscribe(self, streams: Sequence[str]) -> None:
        """Raw escape hatch: subscribe the shared public stream to venue topics (``orderbook.50.BTCUSDT``).

        Returns once the venue confirms them; a refused one is a ``SubscriptionRejected`` naming it,
        the others subscribed (see :meth:`lotusx.ws.ReconnectWs.subscribe`).
        """
        await self._raw.subscribe(streams)

    def stream(self) -> ReconnectWs:
        """Raw escape hatch: every decoded message of :meth:`subscribe`, and reconnects' ``Gap``/``Resumed``/``Lost``.

        A frame that is not JSON comes as a :class:`~lotusx.ws.Malformed` naming its topic
        (``.stream``, when the frame's head still names it): that topic lost a message.
        ``async for message in ex.stream()``, or ``await ex.stream().run(handler)`` to have each
        handed to a plain function as soon as it is decoded (:meth:`~lotusx.ws.ReconnectWs.run`).
        """
        return self._raw.stream()

    async def aclose(self) -> None:
        """Close every stream (a watcher's ``async for`` ends) and the REST pool."""
        # Each step even if an earlier one is cancelled: no stream or pool is left open behind it.
        await close_all(self._raw.aclose, self.parts.close_streams, self.rest.aclose)

    async def __aenter__(self) -> Bybit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Bybit({self.category.name!r}, {self.rest!r})"


async def server_time(call: Service) -> int:
    """GET /v5/market/time on an unlayered service, in ms: the clock sync's sample."""
    response = await call(Request(method="GET", path=ep.TIME.path, endpoint=ep.TIME))
    nanos = response.decode(s.Envelope[s.ServerTime]).result.timeNano  # garbled JSON: a DecodeError
    if not (nanos.isascii() and nanos.isdigit()):  # '²' is a digit to isdigit(), not to int()
        raise DecodeError(f"server time is not a whole number of ns: {nanos[:40]!r}", response=response)
    return int(nanos) // 1_000_000


def _post(endpoint: Endpoint, body: dict[str, Any], **ext: Any) -> Request:
    """A POST of ``body`` as JSON, its ``None`` values left out."""
    payload = {k: v for k, v in body.items() if v is not None}
    return Request(method="POST", path=endpoint.path, body=json_body(payload),
                   headers=(("Content-Type", "application/json"),), endpoint=endpoint, ext=ext)



def _book_topic(symbol: str, depth: int | None) -> str:
    """The topic of the shallowest book holding ``depth`` levels (the deepest past 1000; 50 for ``None``)."""
    levels = next((d for d in _BOOK_DEPTHS if depth is None or d >= depth), _BOOK_DEPTHS[-1])
    return f"orderbook.{levels}.{symbol}"


def _ids(order_id: str | int | None, client_order_id: str | None) -> list[tuple[str, str]]:
    if (order_id is None) == (client_order_id is None):
        raise ConfigError("give exactly one of order_id and client_order_id")
    return [("orderId", str(order_id))] if order_id is not None else [("orderLinkId", str(client_order_id))]


def _rests_as(order: Order, price: Decimal | None, quantity: Decimal | None) -> bool:
    return price in (None, order.price) and quantity in (None, order.quantity)


# The connector's names of the ids a batch order is named by, for errors.
_ID_NAMES = {"orderLinkId": "client_order_id", "orderId": "order_id"}


class _Asked(NamedTuple):
    """An order of a batch: its place in the caller's list, its symbol, the id naming it and its entry of the batch."""

    slot: int
    symbol: str
    ids: tuple[str, str]  # ("orderLinkId", client id) or ("orderId", venue id): how the venue and a lookup name it
    item: dict[str, Any]  # its entry of the request's list, None values left out


def _unread(verb: str, endpoint: Endpoint, symbol: str, order_id: str, exc: LotusXError) -> AmbiguousOutcome:
    """A write the venue acknowledged whose order could not be read back: accepted, its state unknown."""
    error = AmbiguousOutcome(f"POST {endpoint.path}: the venue accepted the {verb} of order {order_id} ({symbol}), "
                             f"but reading it back failed ({exc}): get_order or watch_orders has its outcome")
    error.__cause__ = exc
    return error


# What a batch gives each order: an Order (create-, amend-batch) or a CancelledOrder (cancel-batch).
D = TypeVar("D", Order, CancelledOrder)


@dataclasses.dataclass(frozen=True)
class _Verb(Generic[D]):
    """What differs between create-, cancel- and amend-batch: the endpoint, and an order's result."""

    endpoint: Endpoint
    # The orders of one request the venue accepted, each with its row of the answer (both ids): their
    # results, in order, a LotusXError in the slot of one whose result failed. Made once a request,
    # so that reading them back (amend) costs a request per batch, not per order.
    accepted: Callable[[list[tuple[_Asked, s.BatchRow]]], Awaitable[list[D | LotusXError]]]
    # An order looked up after its answer was lost: its result; None when its state does not tell.
    found: Callable[[_Asked, s.OrderRow], D | None]


def _outcomes(request: Request, chunk: list[_Asked], answer: s.Batch) -> list[s.BatchRow | LotusXError]:
    """Each order's outcome in a batch ``answer``: its row when accepted (the id it was named by filled in where
    the row left it empty), else its error."""
    rows, codes = answer.result.rows, answer.retExtInfo.rows
    if not len(rows) == len(codes) == len(chunk):
        unmatched = ProtocolError(f"POST {request.path}: {len(chunk)} orders sent, {len(rows)} results and "
                                  f"{len(codes)} codes back")
        return [unmatched] * len(chunk)
    outcomes: list[s.BatchRow | LotusXError] = []
    for asked, row, code in zip(chunk, rows, codes, strict=True):
        field, value = asked.ids
        named = getattr(row, field)
        if code.code == 0 and row.orderId and named == value:
            outcomes.append(row)
        elif code.code == 0 and row.orderId and not named:
            outcomes.append(msgspec.structs.replace(row, **{field: value}))
        elif code.code == 0:  # accepted, but naming no order or another one: looked up
            outcomes.append(ProtocolError(f"POST {request.path}: order {value} accepted as {named or 'no order'!r}"))
        else:
            outcomes.append(code_error(request, code.code, code.msg))
    return outcomes


def _submitted(order: NewOrder, order_id: str, cid: str, tif: str | None) -> Order:
    """``order`` as submitted: the venue acknowledged it with its ids alone."""
    maker = order.type == "LIMIT_MAKER"
    return Order(order_id=order_id, client_order_id=cid, symbol=order.symbol,
                 side=order.side, type=order.type, status="NEW", price=order.price or Decimal(0),
                 quantity=order.quantity if order.quantity is not None else order.quote_quantity or Decimal(0),
                 filled_quantity=Decimal(0), time_in_force="GTC" if maker else tif,
                 self_trade_prevention=order.self_trade_prevention)


def _is_fill(row: s.ExecutionRow) -> bool:
    """Whether an execution is a fill: every ``execType`` but ``Funding``, a fee that trades nothing."""
    return row.execType != "Funding"


def _read_fills(message: Any) -> list[Fill]:
    """The fills ``watch_fills`` read from an execution message (a list); none from a marker."""
    return message if isinstance(message, list) else []


def _fill(r: s.ExecutionRow, settle: str | None) -> Fill:
    return Fill(trade_id=r.execId, order_id=r.orderId, client_order_id=r.orderLinkId or None, symbol=r.symbol,
                side=_SIDE[r.side], price=r.execPrice, quantity=r.execQty, fee=r.execFee,
                fee_asset=r.feeCurrency or settle or "",
                maker=r.isMaker, timestamp=int(r.execTime))


def _order(r: s.OrderRow) -> Order:
    maker = r.timeInForce == "PostOnly"
    kind = "MARKET" if r.orderType == "Market" else "LIMIT_MAKER" if maker else "LIMIT"
    return Order(order_id=r.orderId, client_order_id=r.orderLinkId, symbol=r.symbol, side=_SIDE[r.side], type=kind,
                 status=_STATUS.get(r.orderStatus, r.orderStatus.upper()), price=r.price, quantity=r.qty,
                 filled_quantity=r.cumExecQty, time_in_force="GTC" if maker else r.timeInForce,
                 timestamp=int(r.updatedTime) if r.updatedTime else None, self_trade_prevention=_SMP_OF.get(r.smpType))


class _Page(Protocol[R_co]):
    """A page of a list Bybit walks by cursor: its rows, and the next page's cursor ("" or None: the last)."""

    @property
    def rows(self) -> Sequence[R_co]: ...

    @property
    def nextPageCursor(self) -> str | None: ...  # the venue's field name


async def _walk_cursor(page: Callable[[str | None], Awaitable[_Page[R]]], endpoint: Endpoint, what: str) -> list[R]:
    """Every row of the pages ``page(cursor)`` answers, following ``nextPageCursor``, at most ``_MAX_PAGES``.

    Each page is one call through the stack, so it is rate limited and retried like any other.
    """
    found: list[R] = []
    cursor: str | None = None
    cursors: set[str] = set()
    for _ in range(_MAX_PAGES):
        answer = await page(cursor)
        found += answer.rows
        cursor = answer.nextPageCursor
        if not cursor:
            return found
        if cursor in cursors:
            raise ProtocolError(f"GET {endpoint.path}: the venue sent the same page cursor twice")
        cursors.add(cursor)
    raise ProtocolError(f"GET {endpoint.path}: still more {what} after {_MAX_PAGES} pages")


def _withdrawal(r: s.WithdrawRecord) -> WithdrawalStatus:
    """A record as the venue wrote it; no ``client_id``, which Bybit's records do not carry."""
    return WithdrawalStatus(withdrawal_id=r.withdrawId, asset=r.coin, amount=r.amount, address=r.toAddress,
                            network=r.chain or None, tx_id=r.txID or None,
                            status=_WITHDRAW_STATUS.get(r.status, r.status))


def _position(r: s.PositionRow) -> Position:
    """A position as the venue wrote it; an empty figure is ``None``, never 0."""
    return Position(symbol=r.symbol, side=_SIDE.get(r.side) or _LEG.get(r.positionIdx), size=r.size,
                    entry_price=Decimal(r.avgPrice or r.entryPrice or 0), mark_price=_maybe(r.markPrice),
                    unrealised_pnl=_maybe(r.unrealisedPnl), realised_pnl=_maybe(r.cumRealisedPnl),
                    leverage=_maybe(r.leverage),
                    # "" when the venue has none; the stream's flat example writes "0", no price a
                    # position is liquidated at (docs/v5/websocket/private/position.mdx)
                    liquidation_price=_maybe(r.liqPrice) or None,
                    timestamp=int(r.updatedTime) if r.updatedTime else None)


def _maybe(text: str) -> Decimal | None:
    """A decimal the venue may leave empty (checked by its schema's pattern)."""
    return Decimal(text) if text else None


def _find(rows: Iterable[s.OrderRow], ids: Sequence[tuple[str, str]]) -> s.OrderRow | None:
    """The row of the order ``ids`` name: a venue answering with some other order has not found it."""
    [(field, value)] = ids
    return next((row for row in rows if getattr(row, field) == value), None)


def _balances(accounts: Iterable[s.WalletAccount], *, zeros: bool = False) -> dict[str, Balance]:
    """Balances by coin; ``zeros`` keeps emptied coins (a wallet push saying a coin went to 0 is news)."""
    # copy_negate and exact_add, not "-": a caller's decimal context would round the difference.
    return {c.coin: Balance(asset=c.coin, free=exact_add(c.walletBalance, c.locked.copy_negate()), locked=c.locked)
            for account in accounts for c in account.coin if zeros or c.walletBalance or c.locked}


# Disconnection Protection (docs/v5/order/dcp.mdx): the product a category's orders fall under ("Inverse Perp /
# Inverse Futures / USDT Perp / ... / Spot / options"), the private topic that arms it
# (docs/v5/websocket/private/dcp.mdx) and the window's bounds in seconds ("[3, 300]").
_DCP_PRODUCT = {"spot": "SPOT", "linear": "DERIVATIVES", "inverse": "DERIVATIVES", "option": "OPTIONS"}
_DCP_TOPIC = {"SPOT": "dcp.spot", "DERIVATIVES": "dcp.future", "OPTIONS": "dcp.option"}
_DCP_WINDOW = (3, 300)


def _dcp_window(time_window: int) -> int:
    """``time_window`` if it is whole seconds within the venue's bounds; else ``ConfigError``."""
    least, most = _DCP_WINDOW
    if isinstance(time_window, bool) or not isinstance(time_window, int) or not least <= time_window <= most:
        raise ConfigError(f"time_window is whole seconds from {least} to {most} (docs/v5/order/dcp.mdx), "
                          f"got {time_window!r}")
    return time_window


def _ended_by(holder: asyncio.Task[None]) -> BaseException:
    """The error that ended the DCP switch's reader ``holder`` (done, not cancelled, failed)."""
    error = holder.exception()
    assert error is not None
    return error


async def _hold(ws: ReconnectWs) -> None:
    """Read the DCP stream, so its reconnect markers never fill its queue, until it ends.

    It ends with the error no reconnect cures: a login refused (``AuthenticationError``), or its
    one topic refused after a reconnect (``SubscriptionRejected``: every stream of it lost).
    """
    async for _ in ws:
        pass

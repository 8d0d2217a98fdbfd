"""``Binance``: the public API over the built stacks. Requests and field mapping only."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from decimal import Decimal
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

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
    follow_trades,
    gap_start_ms,
    placement,
    windows,
    withdrawal_answer,
    withdrawn,
)
from lotusx.book import BookEvent, DiffSync, Gap, follow_books
from lotusx.exchanges.binance import endpoints as ep
from lotusx.exchanges.binance import schemas as s
from lotusx.exchanges.binance.streams import (
    DIALECT,
    USER_DIALECT,
    market_frames,
    message_rate,
    subscribe_request,
    subscribed,
    user_frames,
)
from lotusx.exchanges.binance.ws_api import PATH as WS_API_PATH
from lotusx.kernel.client import pairs
from lotusx.kernel.errors import (
    ConfigError,
    DecodeError,
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
from lotusx.layers.clock import LoginClock
from lotusx.log import get_logger
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
    SelfTradePrevention,
    Ticker,
    Trade,
    Withdrawal,
    WithdrawalStatus,
    amend_amounts,
    check_count,
    check_several,
)
from lotusx.venue import Parts, close_all, parts_for
from lotusx.ws import Gap as Reconnected
from lotusx.ws import (
    Heartbeat,
    Levels,
    Lost,
    Malformed,
    RawStream,
    ReconnectWs,
    Resumed,
    live_unless_closed,
    subscribe_unless_closed,
)
from lotusx.ws.conflate import conflate as newest_per_key  # a name apart from the watches' conflate= flag
from lotusx.ws.dialect import LoginAck
from lotusx.ws.exact import exact_add
from lotusx.ws.outbound import admission

_log = get_logger("lotusx.binance")
R = TypeVar("R")
# NewOrder.self_trade_prevention as selfTradePreventionMode (rest-api.md "New order"; enums.md "STP Modes",
# faqs/stp_faq.md): every mode but NONE, which is no mode (None sends nothing: the symbol's default).
_STP_MODE: dict[SelfTradePrevention, str] = {
    "cancel_taker": "EXPIRE_TAKER", "cancel_maker": "EXPIRE_MAKER", "cancel_both": "EXPIRE_BOTH",
    "decrement": "DECREMENT", "transfer": "TRANSFER"}
# An order's reported mode as Order.self_trade_prevention. NONE and an absent field (None) are not keys:
# no mode; nor is a mode added after enums.md's six. A requote re-sends the venue's own value (_cancel_replace).
_STP_OF: dict[str | None, SelfTradePrevention] = {venue: ours for ours, venue in _STP_MODE.items()}
_WITHDRAW_STATUS = {0: "EMAIL_SENT", 1: "CANCELLED", 2: "AWAITING_APPROVAL", 3: "REJECTED", 4: "PROCESSING",
                    5: "FAILURE", 6: "COMPLETED"}


# The venue pings every 20 s; AiohttpWs answers at once. No data for 60 s means a dead link.
_HEARTBEAT = Heartbeat(answer_pings=False, idle_timeout=60.0)
# GET /api/v3/allOrders and /api/v3/myTrades (rest-api.md "All orders", "Account trade list"): up to
# 1000 rows a call, startTime and endTime at most 24 hours apart. Past 100 pages in one window, paging
# is taken to be stuck.
_HISTORY_PAGE, _HISTORY_SPAN_MS, _MAX_PAGES = 1000, 24 * 3600 * 1000, 100
_UNREADABLE_EVENT = "unreadable_event"  # the Gap reason of a private event that failed to parse
_UNREADABLE_DIFF = "unreadable message"  # the resync reason of a depth diff that failed its schema (as Bybit's)
_TERMINATED = "event_stream_terminated"  # the Gap reason after the venue ended the user data subscription
# How far the venue clock estimate may run ahead of the venue: an order created this much before
# a placement began is still taken to be its own (a false "earlier order" is only a doubt raised).
_CLOCK_SLACK_MS = 500
# -2011 CANCEL_REJECTED "Unknown order sent." (errors.md): DELETE /api/v3/openOrders' answer to a symbol
# with nothing open. Any other -2011 message is no NotFound (lotusx.exchanges.binance.errors), so not caught.
_UNKNOWN_ORDER = -2011
# -2038 ORDER_AMEND_REJECTED "Order amend (quantity increase) is not supported." (errors.md): keepPriority's
# newQty not below the order's quantity; also what a re-send meets after its first attempt amended the order.
_AMEND_REJECTED = -2038
_new_client_order_id = client_order_id  # amend_order's parameter of that name hides the function
# rest-api.md "Cancel an Existing Order and Send a New Order", cancelRestrictions: the cancel succeeds
# only if the order's status is still the one read, so a fill between the read and the cancel-replace
# (NEW -> PARTIALLY_FILLED -> FILLED) fails the cancel (-2022 with the cancel's -2011 "Order was not
# canceled due to cancel restrictions.", errors.md) and no new order is attempted (STOP_ON_FAILURE).
_RESTRICTIONS = {"NEW": "ONLY_NEW", "PARTIALLY_FILLED": "ONLY_PARTIALLY_FILLED"}
_CANCEL_RESTRICTED = "cancel restrictions"
_REPLACE_ATTEMPTS = 3  # cancel-replaces refused by their restriction, each after a fresh read, before giving up


_TRADES_PAGE = 1000
"""The most trades GET /api/v3/trades and /api/v3/historicalTrades list (rest-api.md "Recent trades list",
"Old trade lookup": limit maximum 1000)."""
_CATCH_UP_PAGES = 10
"""Pages of historicalTrades ``watch_trades`` walks after a gap before it counts the rest lost: 10,000 trades,
250 of the 6000 weight a minute."""

class Binance:
    """Binance spot. Build with :func:`lotusx.connect` ("binance") or from :class:`Parts`."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts_for("Binance", "binance", parts)
        self.rest = parts.rest
        self.metrics = parts.metrics
        self._raw = RawStream(self._ws)

    # ----- market data -----

    async def get_server_time(self) -> int:
        """Venue time in milliseconds."""
        return (await self.rest.get(ep.TIME.path, endpoint=ep.TIME, type=s.ServerTime)).serverTime

    async def get_order_book(self, symbol: str, depth: int = 100) -> OrderBook:
        """A REST snapshot of ``depth`` levels per side (1 to 5000)."""
        check_count("depth", depth)
        raw = await self._depth(symbol, depth)
        return _book(symbol, raw)

    async def _depth(self, symbol: str, limit: int) -> s.Depth:
        endpoint = ep.depth(limit)
        return await self.rest.get(endpoint.path, {"symbol": symbol, "limit": limit}, endpoint=endpoint, type=s.Depth)

    async def get_ticker(self, symbol: str) -> Ticker:
        """Best bid and ask."""
        t = await self.rest.get(ep.BOOK_TICKER.path, {"symbol": symbol}, endpoint=ep.BOOK_TICKER, type=s.BookTicker)
        return Ticker(symbol=t.symbol, bid=t.bidPrice, bid_quantity=t.bidQty, ask=t.askPrice, ask_quantity=t.askQty)

    async def get_trades(self, symbol: str, limit: int = 500) -> list[Trade]:
        """Recent public trades, oldest first (``limit`` 1 to 1000)."""
        check_count("limit", limit)
        rows = await self.rest.get(ep.TRADES.path, {"symbol": symbol, "limit": limit}, endpoint=ep.TRADES,
                                   type=list[s.RestTrade])
        return _trades(symbol, rows)

    async def _trades_after(self, last: Trade) -> list[Trade]:
        """Up to a page of public trades of ``last``'s symbol from the one after it, in id order."""
        endpoint = ep.HISTORICAL_TRADES
        rows = await self.rest.get(endpoint.path, {"symbol": last.symbol, "fromId": int(last.trade_id) + 1,
                                                   "limit": _TRADES_PAGE}, endpoint=endpoint, type=list[s.RestTrade])
        return _trades(last.symbol, rows)

    async def get_instruments(self, symbols: Iterable[str] | None = None) -> dict[str, Instrument]:
        """Each symbol's trading rules, keyed by symbol: every listed one, or ``symbols`` (NotFound for one not listed).

        One request either way: GET /api/v3/exchangeInfo weighs 20 with or without ``symbols=``
        (rest-api.md "Exchange information").
        """
        query = None
        if symbols is not None:
            if isinstance(symbols, str):
                raise ConfigError(f"symbols is a collection of symbols: pass [{symbols!r}]")
            asked = list(dict.fromkeys(symbols))
            if not asked:
                return {}
            query = {"symbols": msgspec.json.encode(asked).decode()}  # a JSON array, as rest-api.md shows it
        info = await self.rest.get(ep.EXCHANGE_INFO.path, query, endpoint=ep.EXCHANGE_INFO, type=s.ExchangeInfo)
        return {i.symbol: self._instrument(i) for i in info.symbols}

    @staticmethod
    def _instrument(info: s.SymbolInfo) -> Instrument:
        """filters.md: PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE's cap, and the value floor of NOTIONAL or the legacy
        MIN_NOTIONAL.

        A 0 disables a PRICE_FILTER rule ("disabled on tickSize == 0"): ``None``, no rule. A 0 in
        LOT_SIZE or a floor is read the same way (a 0 step or maximum would allow no order at all).
        Both floors listed: both apply, so the higher one. ``trading``: status TRADING and spot
        trading allowed (a symbol listed for margin alone refuses a spot order).
        """
        by_type = {f.filterType: f for f in info.filters}
        price, lot = by_type.get("PRICE_FILTER"), by_type.get("LOT_SIZE")
        floors = [f.minNotional for f in (by_type.get("NOTIONAL"), by_type.get("MIN_NOTIONAL")) if f and f.minNotional]
        # MARKET_LOT_SIZE binds MARKET orders on top of LOT_SIZE (filters.md): the lower maxQty is theirs.
        market_lot = by_type.get("MARKET_LOT_SIZE")
        market = None
        if market_lot and market_lot.maxQty:
            market = min(f.maxQty for f in (lot, market_lot) if f and f.maxQty)
        return Instrument(
            symbol=info.symbol, base=info.baseAsset, quote=info.quoteAsset,
            trading=info.status == "TRADING" and info.isSpotTradingAllowed,
            tick_size=(price and price.tickSize) or None, min_price=(price and price.minPrice) or None,
            max_price=(price and price.maxPrice) or None, step_size=(lot and lot.stepSize) or None,
            min_quantity=(lot and lot.minQty) or None, max_quantity=(lot and lot.maxQty) or None,
            min_notional=max(floors) if floors else None,
            max_market_quantity=market)

    async def get_fee_rates(self, symbol: str) -> FeeRate:
        """The account's maker, taker, buyer and seller rates on ``symbol`` (GET /api/v3/account/commission, weight 20).

        Each is what a fill is charged in all: the standard, tax and special commissions added
        (faqs/commission_faq.md "How is the commission calculated?": each is the received amount
        times its rate, and "the total commission are summed up"). The FAQ charges a fill its role's
        rate plus its side's ("Notional value * (taker + seller)"): ``FeeRate.for_fill`` adds them.
        Left out: the BNB ``discount``. It lowers the standard part only, and only when the fee is
        paid in BNB (which depends on the BNB balance at the fill), so it cannot be applied to these
        sums; and the docs disagree on what its figure is (rest-api.md: the standard commission "is
        reduced by this rate", 0.75 in its example; the FAQ multiplies the standard commission by
        it, 0.25 in its). An unknown symbol is ``NotFound`` (-1121).
        """
        rates = await self.rest.get(ep.COMMISSION.path, {"symbol": symbol}, endpoint=ep.COMMISSION,
                                    type=s.CommissionRates)
        parts = [rates.standardCommission, rates.taxCommission, *filter(None, [rates.specialCommission])]
        # exact_add: a caller's decimal context would round the sum.
        maker = taker = buyer = seller = Decimal(0)
        for part in parts:
            maker, taker = exact_add(maker, part.maker), exact_add(taker, part.taker)
            buyer, seller = exact_add(buyer, part.buyer), exact_add(seller, part.seller)
        return FeeRate(symbol=rates.symbol, maker=maker, taker=taker, buyer=buyer, seller=seller)

    # ----- trading -----

    async def place_order(self, order: NewOrder) -> Order:
        """Place ``order``; retry-safe through its client order id (generated when missing)."""
        cid = order.client_order_id or client_order_id()
        # timeInForce belongs to LIMIT only; MARKET and LIMIT_MAKER reject it (-1106 PARAM_NOT_REQUIRED):
        # NewOrder allows them only the one their type behaves as anyway, left out here.
        tif = (order.time_in_force or "GTC") if order.type == "LIMIT" else None
        stp = order.self_trade_prevention and _STP_MODE[order.self_trade_prevention]
        query = pairs([("symbol", order.symbol), ("side", order.side), ("type", order.type), ("timeInForce", tif),
                       ("quantity", order.quantity), ("quoteOrderQty", order.quote_quantity),
                       ("price", order.price), ("newClientOrderId", cid), ("newOrderRespType", "RESULT"),
                       ("selfTradePreventionMode", stp)])
        request = Request(method="POST", path=ep.PLACE_ORDER.path, query=query, endpoint=ep.PLACE_ORDER,
                          ext={"client_order_id": cid})
        asked_ms = self.parts.clock.time() * 1000  # venue time, before the first attempt left
        result = placement(request, await self.rest.send(request), s.OrderResult, self.metrics, "binance")
        if result.transactTime is None:  # an order query's answer, not a placement's: a retry reconciled
            # A filled order's client id is taken again (rest-api.md POST /api/v3/order): reusable.
            earlier = result.time is not None and result.time < asked_ms - _CLOCK_SLACK_MS
            return as_asked(order, _order(result), quote=result.origQuoteOrderQty, reusable=True, earlier=earlier,
                            metrics=self.metrics, exchange="binance", endpoint=ep.PLACE_ORDER.name)
        return _order(result)

    async def place_orders(self, orders: Sequence[NewOrder]) -> list[Order | LotusXError]:
        """Place several orders: one result per order, in order, each its ``Order`` or what :meth:`place_order` raised.

        Binance spot has no REST batch of independent orders (rest-api.md's trading endpoints: one
        order, cancel-replace, amend, and order lists, whose orders are linked), so each order goes
        through :meth:`place_order`, all at once: the limiter paces them (REQUEST_WEIGHT and the
        ORDERS count, as for any placement), and each is retry-safe through its client order id
        (generated when missing), a lost answer reconciled as for one order. A client id given to
        more than one order is a ``ConfigError`` in its later slots, nothing sent for them.
        """
        return await _concurrently([(_named(None, order.client_order_id), partial(self.place_order, order))
                                    for order in orders])

    async def cancel_orders(self, symbol: str, *, order_ids: Sequence[str | int] = (),
                            client_order_ids: Sequence[str] = ()) -> list[CancelledOrder | LotusXError]:
        """Cancel several orders of ``symbol``: one result per id, ``order_ids``' first, then ``client_order_ids``',
        each a :class:`~lotusx.CancelledOrder` holding the ``Order`` :meth:`cancel_order` returns (the type
        :meth:`cancel_all_orders` and Bybit's ``cancel_orders`` give), or what it raised.

        Binance spot has no REST batch cancel of chosen orders (rest-api.md's trading endpoints:
        DELETE /api/v3/order cancels one, DELETE /api/v3/openOrders every open order of a symbol),
        so each goes through :meth:`cancel_order`, all at once, paced by the limiter; each is safe to
        repeat, a lost answer retried. An id given twice is a ``ConfigError`` in its later slot,
        nothing sent for it.
        """
        check_several("order_ids", order_ids)
        check_several("client_order_ids", client_order_ids)
        async def cancel(order_id: str | int | None, client_order_id: str | None) -> CancelledOrder:
            return _cancelled(await self.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id))

        calls = [(_named(order_id, None), partial(cancel, order_id, None)) for order_id in order_ids]
        calls += [(_named(None, cid), partial(cancel, None, cid)) for cid in client_order_ids]
        return await _concurrently(calls)

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[Order | LotusXError]:
        """Amend several open orders of ``symbol``: one result per :class:`~lotusx.Amend`, in order, each the
        ``Order`` :meth:`amend_order` returns or what it raised.

        Binance spot has no REST batch amend (rest-api.md: PUT /api/v3/order/amend/keepPriority and
        POST /api/v3/order/cancelReplace take one order each), so each goes through
        :meth:`amend_order`, all at once, with its semantics (a new price is a cancel-replace: a new
        order id and client order id). An order named twice is a ``ConfigError`` in its later slot,
        nothing sent for it. The orders given a new price (each a cancel-replace, which reads its
        order first) are read by one GET /api/v3/openOrders of the symbol (weight 6) instead of a
        GET /api/v3/order each (weight 4); one not listed (closed meanwhile), or all of them if the
        listing fails, read alone, as :meth:`amend_order` reads.
        """
        listed = await self._open_by_id(symbol) if sum(a.price is not None for a in amends) > 1 else {}

        def read(a: Amend) -> s.OrderResult | None:
            # Only a cancel-replace reads first: keepPriority reads after a refusal, which must be fresh.
            key = f"id:{a.order_id}" if a.order_id is not None else f"cid:{a.client_order_id}"
            return listed.get(key) if a.price is not None else None

        return await _concurrently([
            (_named(a.order_id, a.client_order_id),
             partial(self._amend, symbol, a.order_id, a.client_order_id, a.price, a.quantity, read(a)))
            for a in amends])

    async def _open_by_id(self, symbol: str) -> dict[str, s.OrderResult]:
        """The open orders of ``symbol`` as GET /api/v3/openOrders answers them, by ``id:<orderId>`` and
        ``cid:<clientOrderId>``; empty if the listing fails (each amend then reads its own order)."""
        try:
            rows = await self.rest.get(ep.OPEN_ORDERS.path, {"symbol": symbol}, endpoint=ep.OPEN_ORDERS,
                                       type=list[s.OrderResult])
        except LotusXError:
            return {}
        return {key: row for row in rows for key in (f"id:{row.orderId}", f"cid:{row.clientOrderId}")}

    async def cancel_order(self, symbol: str, *, order_id: str | int | None = None,
                           client_order_id: str | None = None) -> Order:
        """Cancel by venue order id or client order id; an order already cancelled comes back as it is.

        A cancel retried after its answer was lost would otherwise report -2011 (unknown order)
        for the order its first attempt cancelled (see :func:`lotusx.account.cancel_once`).
        """
        async def cancel() -> Order:
            return _order(await self.rest.delete(ep.CANCEL_ORDER.path, _ids(symbol, order_id, client_order_id),
                                                 endpoint=ep.CANCEL_ORDER, type=s.OrderResult))

        return await cancel_once(cancel(), lambda: self.get_order(
            symbol, order_id=order_id, client_order_id=client_order_id))

    async def amend_order(self, symbol: str, *, order_id: str | int | None = None, client_order_id: str | None = None,
                          price: Decimal | None = None, quantity: Decimal | None = None) -> Order:
        """Give an open order a new ``price`` and/or ``quantity``; returns the order as it rests after the amend.

        ``quantity`` is the order's whole size, what has filled included, as on Bybit (and as
        keepPriority's ``newQty``): an order of 1.0 that has filled 0.4, amended to 0.8, can fill
        0.4 more. A lower ``quantity`` alone is amended in place (PUT /api/v3/order/amend/keepPriority): the
        order keeps its order id and its place in the queue. Its client order id is kept when it
        was named by it; named by ``order_id``, it gets a fresh one (the venue would draw one anyway).
        Anything else (a new price, a larger quantity) is POST /api/v3/order/cancelReplace
        (STOP_ON_FAILURE): the order is cancelled and a new one of the same side, type and time in
        force placed, at the back of its price level, for ``quantity`` less what had filled (without
        a ``quantity``, what was left to fill). **The order id and the client order id change** (the
        new client id generated as :meth:`place_order`'s). This reads the order first (GET
        /api/v3/order); a ``quantity`` not above what has filled is ``OrderRejected``, nothing sent.
        The new order keeps the order's self-trade prevention: it is sent the selfTradePreventionMode
        read, whatever it is (DECREMENT and TRANSFER too), never left to the symbol's default.
        The cancel is restricted to the status read (``cancelRestrictions`` ONLY_NEW or
        ONLY_PARTIALLY_FILLED): if a fill changed it in between, the venue cancels nothing and places
        nothing, and the order is read again and the cancel-replace sized afresh, three attempts in
        all, the last refusal raised as the venue's ``InvalidRequest`` (code -2011, "cancel
        restrictions"). So an order resting untouched (NEW) is replaced exactly; one already
        partially filled may still fill further between the read and the cancel, and those fills
        are then not taken off the new order (the venue offers no restriction on the filled amount).
        An unknown or closed order is ``NotFound`` (nothing changed). A cancel-replace whose cancel
        succeeded but whose new order was refused is ``OrderRejected`` with code -2021 and a message
        saying the original was CANCELLED: nothing rests then. A cancel-replace whose answer is lost
        is looked up by its new client id, never sent again; not found, ``AmbiguousOrderState``
        carrying that id.
        """
        return await self._amend(symbol, order_id, client_order_id, price, quantity, None)

    async def _amend(self, symbol: str, order_id: str | int | None, client_order_id: str | None,
                     price: Decimal | None, quantity: Decimal | None, read: s.OrderResult | None) -> Order:
        """:meth:`amend_order`; ``read``: the order as the venue listed it just before, if it was (amend_orders)."""
        ids = _ids(symbol, order_id, client_order_id)
        amend_amounts(price, quantity)
        # ``read``: the order as GET /api/v3/order (or openOrders) answered, for its venue STP mode
        if price is None and quantity is not None:
            kept = client_order_id or _new_client_order_id()
            request = Request(method="PUT", path=ep.AMEND_KEEP_PRIORITY.path, endpoint=ep.AMEND_KEEP_PRIORITY,
                              query=pairs([*ids, ("newClientOrderId", kept), ("newQty", quantity)]))
            try:
                return _amended(await self.rest.call(request, s.Amended))
            except InvalidRequest as exc:
                if exc.code != _AMEND_REJECTED:
                    raise
                try:
                    read = await self._read(ids)
                except LotusXError:
                    raise exc from None  # the refusal is the answer; the read only looked for a lost one
                current = _order(read)
                if current.status not in TERMINAL and current.client_order_id == kept and current.quantity == quantity:
                    return current  # a re-send after a lost answer: its first attempt amended the order
                if current.status in TERMINAL or quantity < current.quantity:
                    raise
                # A larger quantity: only a cancel-replace gives it.
        attempts = 1
        while True:
            if read is None:
                read = await self._read(ids)
            current = _order(read)
            if current.status in TERMINAL:
                raise NotFound(f"amend_order: order {current.order_id} ({symbol}) is {current.status}: "
                               "nothing to amend")
            # The new order carries what is left of the whole size asked: fills stay counted.
            left = exact_add(quantity or current.quantity, current.filled_quantity.copy_negate())
            if left <= 0:
                raise OrderRejected(f"amend_order: quantity {quantity} of order {current.order_id} ({symbol}) is not "
                                    f"above the {current.filled_quantity} already filled: nothing was sent")
            try:
                return await self._cancel_replace(current, price or current.price, left, read.selfTradePreventionMode)
            except InvalidRequest as exc:
                if not _cancel_restricted(exc) or attempts == _REPLACE_ATTEMPTS:
                    raise
            attempts += 1
            read = None  # its status changed since the read (a fill): read it again

    async def _cancel_replace(self, current: Order, price: Decimal, quantity: Decimal, stp: str | None) -> Order:
        """The cancel-replace of ``current``; ``stp`` is its selfTradePreventionMode as the venue reported it.

        The new order is sent that mode as it is: without one it would take the symbol's
        defaultSelfTradePreventionMode (faqs/stp_faq.md), not the mode the order was placed with
        (a mode newer than lotusx's names too). Absent from the
        answer read (``None``), none is sent, as a placement without one.
        """
        cid = _new_client_order_id()
        # timeInForce belongs to LIMIT only, as in place_order (LIMIT_MAKER refuses it).
        tif = current.time_in_force if current.type == "LIMIT" else None
        query = pairs([("symbol", current.symbol), ("side", current.side), ("type", current.type),
                       ("cancelReplaceMode", "STOP_ON_FAILURE"), ("cancelOrderId", current.order_id),
                       ("cancelRestrictions", _RESTRICTIONS.get(current.status)),
                       ("timeInForce", tif), ("quantity", quantity), ("price", price), ("newClientOrderId", cid),
                       ("newOrderRespType", "RESULT"), ("selfTradePreventionMode", stp)])
        request = Request(method="POST", path=ep.CANCEL_REPLACE.path, query=query, endpoint=ep.CANCEL_REPLACE,
                          ext={"client_order_id": cid})
        response = await self.rest.send(request)
        replaced = placement(request, response, s.Replaced, self.metrics, "binance")
        # No newOrderResponse: the answer was lost and Retry found the new order by its client id.
        return _order(replaced.newOrderResponse or placement(request, response, s.OrderResult, self.metrics,
                                                               "binance"))

    async def cancel_all_orders(self, symbol: str) -> list[CancelledOrder]:
        """Cancel every open order of ``symbol`` (those of order lists too) in one request: the kill switch.

        Returns what this request cancelled, each with its full :class:`~lotusx.Order` as the venue
        reports it (``CancelledOrder.order``, status CANCELED): Binance answers with each order's
        cancel report. The same type as Bybit's, whose answer holds the ids alone.
        Nothing open is an empty list: the venue answers that with -2011 "Unknown order sent."
        (not in the docs; seen in binance-connector-python issue #185), read here as nothing to do.
        Safe to repeat, and retried after a lost answer: a retry cancels what is open by then, so
        the list holds what the last attempt cancelled; what an earlier attempt took off comes on
        :meth:`watch_orders`. An unknown symbol is ``NotFound`` (-1121).
        """
        try:
            rows = await self.rest.delete(ep.CANCEL_ALL.path, {"symbol": symbol}, endpoint=ep.CANCEL_ALL,
                                          type=list[msgspec.Raw])
        except NotFound as exc:
            if exc.code in ep.CANCEL_ALL.answer_codes:
                return []
            raise
        return [_cancelled(order) for order in _cancel_reports(rows)]

    async def get_order(self, symbol: str, *, order_id: str | int | None = None,
                        client_order_id: str | None = None) -> Order:
        """One order, by venue order id or client order id."""
        return _order(await self._read(_ids(symbol, order_id, client_order_id)))

    async def _read(self, ids: list[tuple[str, Any]]) -> s.OrderResult:
        """GET /api/v3/order as the venue answers it (amend_order keeps its selfTradePreventionMode as it is)."""
        return await self.rest.get(ep.GET_ORDER.path, ids, endpoint=ep.GET_ORDER, type=s.OrderResult)

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders of one symbol, or of all (a much heavier call)."""
        endpoint = ep.OPEN_ORDERS if symbol else ep.ALL_OPEN_ORDERS
        rows = await self.rest.get(endpoint.path, {"symbol": symbol}, endpoint=endpoint, type=list[s.OrderResult])
        return [_order(r) for r in rows]

    async def get_order_history(self, symbol: str, *, since: int, until: int | None = None) -> list[Order]:
        """Every order of ``symbol``, in any state, the venue dates from ``since`` to ``until`` (ms, default now).

        GET /api/v3/allOrders, asked in windows of at most 24 hours (the venue's limit), each
        read a page of up to 1000 orders at a time, oldest first: a full page is followed by one
        starting at its newest order's time (orders of that millisecond come twice, kept once).
        The docs do not say which time the window selects by; creation time is assumed. A window
        that does not end within ``_MAX_PAGES`` pages, or 1000 orders of one millisecond, raise
        ``ProtocolError``: the answer would otherwise be silently short.
        """
        # The venue's now: this machine's would leave a venue ahead of it its newest orders out.
        end = until if until is not None else await self.parts.list_end(f"GET {ep.ALL_ORDERS.path}")
        found: dict[str, Order] = {}
        for start, stop in windows(since, end, _HISTORY_SPAN_MS):
            await self._history_window(symbol, start, stop, found)
        return list(found.values())

    async def _history_window(self, symbol: str, start: int, end: int, found: dict[str, Order]) -> None:
        for row in await self._window(ep.ALL_ORDERS, "orders", symbol, start, end, list[s.OrderResult],
                                      lambda row: row.time):
            found[str(row.orderId)] = _order(row)

    async def get_fills(self, symbol: str, *, since: int, until: int | None = None) -> list[Fill]:
        """This account's fills of ``symbol`` from ``since`` to ``until`` (ms, default now), oldest first, with fees.

        GET /api/v3/myTrades, walked as :meth:`get_order_history` walks allOrders: windows of at
        most 24 hours, pages of up to 1000 fills, each page from the newest fill time of the last
        (rest-api.md "Account trade list": startTime and endTime at most 24 hours apart; 20
        weight a call). The venue gives no client order id here: ``client_order_id`` is ``None``.
        """
        end = until if until is not None else await self.parts.list_end(f"GET {ep.MY_TRADES.path}")
        # A self-trade is two rows of one trade id, the buyer's and the seller's: keyed by both ids.
        found: dict[tuple[int, int], Fill] = {}
        for start, stop in windows(since, end, _HISTORY_SPAN_MS):
            for row in await self._window(ep.MY_TRADES, "fills", symbol, start, stop, list[s.MyTrade],
                                          lambda row: row.time):
                found[(row.id, row.orderId)] = _fill(row)
        return sorted(found.values(), key=lambda fill: (fill.timestamp, int(fill.trade_id)))

    async def _window(self, endpoint: Endpoint, what: str, symbol: str, start: int, end: int,
                      rows_type: type[list[R]], time: Callable[[R], int | None]) -> list[R]:
        """Every row of one time window of a list ``endpoint``, page after page, oldest first.

        A full page of ``_HISTORY_PAGE`` is followed by one starting at its newest row's ``time``
        (rows of that millisecond come twice: the caller keeps them once). A window that does not
        end within ``_MAX_PAGES`` pages, or a full page of one millisecond, raise ``ProtocolError``:
        the answer would otherwise be silently short.
        """
        found: list[R] = []
        for _ in range(_MAX_PAGES):
            rows = await self.rest.get(endpoint.path, {"symbol": symbol, "startTime": start, "endTime": end,
                                                       "limit": _HISTORY_PAGE},
                                       endpoint=endpoint, type=rows_type)
            found += rows
            if len(rows) < _HISTORY_PAGE:
                return found
            newest = max(time(row) or start for row in rows)
            if newest <= start:
                raise ProtocolError(f"GET {endpoint.path}: {_HISTORY_PAGE} {what} at {start} ms, cannot page on")
            start = newest
        raise ProtocolError(f"GET {endpoint.path}: still more {what} after {_MAX_PAGES} pages")

    async def get_balances(self) -> dict[str, Balance]:
        """Non-zero balances by asset."""
        return (await self._account())[1]

    async def _account(self) -> tuple[int | None, dict[str, Balance]]:
        """The account's last update time ("updateTime", ms) and its non-zero balances by asset."""
        account = await self.rest.get(ep.ACCOUNT.path, {"omitZeroBalances": True}, endpoint=ep.ACCOUNT,
                                      type=s.Account)
        return account.updateTime, {b.asset: Balance(asset=b.asset, free=b.free, locked=b.locked)
                                    for b in account.balances}

    async def withdraw(self, withdrawal: Withdrawal) -> str:
        """Request a withdrawal; returns the venue's withdrawal id. Never retried once sent.

        One whose outcome is unknown (its answer unreadable, or none: a timeout, a 5xx, a connection
        lost after sending, an error code the venue's docs give as no refusal: a server failure,
        "busy", a code they do not list) is ``AmbiguousWithdrawal``: look it up by its ``client_id``
        (``get_withdrawals(client_id=...)``; send one, none is generated) before asking again. A
        documented refusal (balance, address, whitelist, amount limits...) is raised as its typed
        error: nothing moved.
        """
        params = [("coin", withdrawal.asset), ("address", withdrawal.address), ("amount", withdrawal.amount),
                  ("network", withdrawal.network), ("addressTag", withdrawal.tag),
                  ("withdrawOrderId", withdrawal.client_id)]
        request = Request(method="POST", path=ep.WITHDRAW.path, query=pairs(params), endpoint=ep.WITHDRAW)
        response = await withdrawal_answer(self.rest.send(request), withdrawal.client_id)
        return withdrawn(response, s.WithdrawId, withdrawal.client_id).id

    async def get_withdrawals(self, asset: str | None = None, *,
                              client_id: str | None = None) -> list[WithdrawalStatus]:
        """Withdrawal history, newest first; ``client_id``: only the one sent with that ``Withdrawal.client_id``
        (the venue's ``withdrawOrderId``, searched over its last 7 days), how an ``AmbiguousWithdrawal`` is
        looked up: an empty list means none left under it (developers.binance.com/docs/wallet/capital/
        withdraw-history)."""
        rows = await self.rest.get(ep.WITHDRAW_HISTORY.path, {"coin": asset, "withdrawOrderId": client_id},
                                   endpoint=ep.WITHDRAW_HISTORY, type=list[s.WithdrawRecord])
        return [WithdrawalStatus(withdrawal_id=r.id, asset=r.coin, amount=r.amount, address=r.address,
                                 network=r.network, tx_id=r.txId, status=_WITHDRAW_STATUS.get(r.status, str(r.status)),
                                 client_id=r.withdrawOrderId or None)
                for r in rows]

    # ----- streams -----

    def _ws(self) -> ReconnectWs:
        url = self.parts.ws_url + "/stream"
        return self.parts.opened(ReconnectWs(
            lambda: self.parts.socket(url), frames=market_frames(self.metrics), dialect=DIALECT, heartbeat=_HEARTBEAT,
            outbound=message_rate(self.parts.clock, self.metrics), metrics=self.metrics,
            clock=self.parts.local_clock, admit=admission(self.parts.rate_limit, ep.WS_CONNECT)))

    @asynccontextmanager
    async def _subscribed(self, streams: Sequence[str]) -> AsyncIterator[ReconnectWs]:
        ws = self._ws()
        async with ws:
            await subscribe_unless_closed(ws, list(streams))
            yield ws

    async def watch_order_book(self, symbol: str, depth: int | None = 20, *,
                               conflate: bool = False) -> AsyncGenerator[OrderBook, None]:
        """The maintained book of ``symbol`` after every update, resynced on gaps and reconnects.

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
        slower: the books are kept from every diff in a task of their own, and each read gives the
        newest book of a symbol changed since it was last read (:func:`lotusx.ws.conflate`).

        A sequence gap resyncs only its own symbol; a dropped connection, only the books it carried.
        A symbol whose stream the venue refuses to resubscribe after a reconnect (delisted) ends
        the books with ``SubscriptionRejected`` naming its stream, unless ``lost`` is given: then
        ``lost(symbol, error)`` is called, no book of it comes any more, and the others go on
        (the last one lost ends them all the same). See :func:`lotusx.book.follow_books`.
        """
        check_several("symbols", symbols)
        check_count("depth", depth, none="every level")
        names = {symbol.upper(): symbol for symbol in symbols}
        streams = {f"{symbol.lower()}@depth@100ms": name for name, symbol in names.items()}

        def event(message: Any) -> tuple[str, BookEvent | Gap] | None:
            if isinstance(message, s.DepthUpdate):
                return message.s, BookEvent(message.U, message.u, message.b, message.a, message.E)
            if type(message) is Malformed and message.stream in streams:  # one of our diffs is lost
                name = streams[message.stream]
                return name, Gap(name, _UNREADABLE_DIFF)
            return None

        async def snapshot(name: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
            raw = await self._depth(names[name], 1000)
            return raw.bids, raw.asks, raw.lastUpdateId

        stream_of = {name: stream for stream, name in streams.items()}
        syncs = {name: DiffSync(name) for name in names}

        def current(book: OrderBook) -> bool:  # a book held for a slow reader, its stream not dropped since
            return syncs[book.symbol].synced

        async with self._subscribed(list(streams)) as ws, aclosing(follow_books(
                syncs.values(), aiter(ws), event=event, snapshot=snapshot,
                reconnected=lambda message: isinstance(message, Reconnected), resynced=self._resynced,
                depth=depth, shard=lambda name: ws.shard_of(stream_of[name]), stream=stream_of.__getitem__,
                lost=lost)) as books, aclosing(
                    newest_per_key(books, key=attrgetter("symbol"), current=current) if conflate else books) as handed:
            # aclosing: the follower's finally cancels snapshots in flight at once
            async for book in handed:
                yield book

    def _resynced(self, symbol: str, reason: str) -> None:
        self.metrics.book_resyncs.labels("binance", symbol, reason).inc()

    async def watch_trades(self, symbol: str) -> AsyncGenerator[Trade, None]:
        """Public trades of ``symbol`` as they happen, each once in id order, with those a reconnect or a lost push hid
        (:func:`lotusx.account.follow_trades`: Binance numbers a symbol's trades 1, 2, 3..., so those after the last
        one yielded are listed from GET /api/v3/historicalTrades, 1000 a page at 25 weight, 10 pages at most)."""
        def trades(m: Any) -> list[Trade]:
            if not isinstance(m, s.TradeEvent):
                return []
            return [Trade(symbol=m.s, trade_id=str(m.t), price=m.p, quantity=m.q, timestamp=m.T,
                          side="SELL" if m.m else "BUY")]

        stream = f"{symbol.lower()}@trade"
        # Its one stream refused after a reconnect (a Lost) ends it: follow_trades raises why.
        async with self._subscribed([stream]) as ws, aclosing(follow_trades(
                aiter(ws), trades=trades, fetch=partial(self.get_trades, symbol, _TRADES_PAGE), page=_TRADES_PAGE,
                fetch_after=self._trades_after, skipped=_skipped, pages=_CATCH_UP_PAGES,
                unread=lambda m: type(m) is Malformed and m.stream == stream,
                clock=self.parts.clock, metrics=self.metrics, exchange="binance")) as found, \
                self.parts.ended_by_close():
            async for trade in found:
                yield trade

    async def watch_ticker(self, symbol: str) -> AsyncGenerator[Ticker, None]:
        """Best bid/ask of ``symbol`` on every change."""
        async with self._subscribed([f"{symbol.lower()}@bookTicker"]) as ws:
            async for m in ws:
                if isinstance(m, Lost):  # as in watch_trades
                    raise m.rejected()
                if isinstance(m, s.BookTickerEvent):
                    yield Ticker(symbol=m.s, bid=m.b, bid_quantity=m.B, ask=m.a, ask_quantity=m.A)

    async def watch_orders(self, symbols: Iterable[str] = (), *, since: int | None = None
                           ) -> AsyncGenerator[Order, None]:
        """Order updates of this account (user data stream), reconciled by REST after each reconnect.

        See :func:`lotusx.account.follow_orders`: what the stream missed while it was down comes
        from ``get_open_orders()``, ``get_order_history()`` from the gap on, and ``get_order()``
        once it is live again.

        ``since`` (a venue time in ms, e.g. ``await get_server_time()`` taken before trading):
        once the user data subscription is acknowledged, the watch reconciles from that time
        exactly as after a gap, then streams, so every order change since then is yielded with
        no race against the subscription: every open order (whenever placed), and every order of
        a symbol it knows of (below: name them in ``symbols``) that changed since ``since``. A
        ``since`` in the future or negative is a ``ConfigError`` before anything is sent; without
        it nothing is asked by REST until a reconnect.

        Binance lists past orders one symbol at a time, so an order placed *and* closed within
        a gap is found only on a symbol the watcher knows of: one in ``symbols``, one of an
        order it has seen (every open one, and the 10 000 most recently finished), or one with
        an open order now. An order on any other symbol that opened and closed within one gap
        is never reported: name every symbol you trade to rule that out. Each symbol costs 20 weight per
        reconnect (more when a gap spans over 24 hours or 1000 orders). Also unreported: an
        order placed before the watcher started and never updated while it watched, that
        closes during a gap (the history is asked from the gap on only); with ``since``, the
        same holds for an order placed before ``since`` that closes between ``since`` and the
        stream going live (rest-api.md "All orders" does not say which of an order's times
        ``startTime`` compares; the simulator compares the time it was placed).
        """
        named = _symbols("watch_orders", symbols)
        start_at = checked_since("watch_orders", since, self.parts.clock.time())

        async def changed(gap_time: GapStart, known: frozenset[str]) -> list[Order]:
            start = gap_start_ms(gap_time, self.parts.clock.offset, _HEARTBEAT.idle_timeout)
            # Until a little past now: the venue's clock is known to within the offset's error.
            until = int((self.parts.clock.time() + GAP_SLACK) * 1000)
            found: list[Order] = []
            for symbol in sorted(named | known):
                found += await self.get_order_history(symbol, since=start, until=until)
            return found

        async def current(last: Order) -> Order:
            return await self.get_order(last.symbol, order_id=last.order_id)

        # Closed explicitly, innermost last: the socket is gone when our aclose() returns.
        async with aclosing(self._user_events(start_at)) as events, aclosing(follow_orders(
                events, orders=_execution, open_orders=self.get_open_orders, orders_since=changed,
                get_order=current, clock=self.parts.clock, metrics=self.metrics,
                exchange="binance")) as updates, self.parts.ended_by_close():
            async for update in updates:
                yield update

    async def watch_fills(self, symbols: Iterable[str] = (), *, since: int | None = None
                          ) -> AsyncGenerator[Fill, None]:
        """This account's executions (user data stream ``executionReport`` of execution type TRADE), each once,
        with the ones a reconnect hid.

        See :func:`lotusx.account.follow_fills`: after a gap the fills since it began come from
        :meth:`get_fills`, those not yielded yet, oldest first. A fill is known by its trade id
        and order id: a self-trade's two rows (buyer's and seller's) are two fills. A streamed
        fill has its order's client id; a fetched one ``None`` (myTrades gives none). The fee
        asset is ``""`` when the venue names none (``N`` is null: no commission).

        Binance lists fills one symbol at a time, so a fill made within a gap is found only on
        a symbol the watcher knows of: one in ``symbols``, or one of a fill or an order report
        it has seen. A fill on any other symbol made within a gap is never reported: name every
        symbol you trade to rule that out. Each symbol costs 20 weight per reconnect (more when
        a gap spans over 24 hours or 1000 fills).

        ``since`` (a venue time in ms, e.g. ``await get_server_time()`` taken before trading):
        once the user data subscription is acknowledged, the fills since that time are fetched
        as after a gap (of the symbols in ``symbols``: name every one you trade, nothing else is
        known yet), then the stream follows, each fill once: every fill since ``since`` with no
        race against the subscription. A ``since`` in the future or negative is a
        ``ConfigError`` before anything is sent; without it nothing is asked by REST until a reconnect.
        """
        named = _symbols("watch_fills", symbols)
        start_at = checked_since("watch_fills", since, self.parts.clock.time())
        seen: set[str] = set()  # symbols of every order report this watch saw (a venue's few)

        def fills(event: Any) -> list[Fill]:
            if not isinstance(event, s.ExecutionReport):
                return []
            seen.add(event.s)
            return [_trade_fill(event)] if event.x == "TRADE" else []

        async def fetch(gap_time: GapStart, known: frozenset[str]) -> list[Fill]:
            start = gap_start_ms(gap_time, self.parts.clock.offset, _HEARTBEAT.idle_timeout)
            until = int((self.parts.clock.time() + GAP_SLACK) * 1000)
            found: list[Fill] = []
            for symbol in sorted(named | known | seen):
                found += await self.get_fills(symbol, since=start, until=until)
            return found

        async with aclosing(self._user_events(start_at)) as events, aclosing(follow_fills(
                events, fills=fills, fetch=fetch, clock=self.parts.clock, metrics=self.metrics,
                exchange="binance")) as executions, self.parts.ended_by_close():
            async for fill in executions:
                yield fill

    async def watch_balances(self) -> AsyncGenerator[dict[str, Balance], None]:
        """Balance changes of this account (user data stream); after a reconnect, the whole account.

        See :func:`lotusx.account.follow_balances`: an asset emptied while the stream was down
        comes as a zero balance, and a balance older than the one last yielded (by the time of
        the account update it shows, "u", and the account's "updateTime") is dropped. The
        ``balanceUpdate`` deltas are not read: their new balances come in ``outboundAccountPosition``.
        """
        async with aclosing(self._user_events()) as events, aclosing(follow_balances(
                events, balances=_positions, fetch=self._account, clock=self.parts.clock, metrics=self.metrics,
                exchange="binance")) as changes, self.parts.ended_by_close():
            async for change in changes:
                yield change

    async def _user_events(self, since: int | None = None) -> AsyncGenerator[Any, None]:
        """Account events of the user data subscription on the WebSocket API, with Gap/Resumed markers.

        With ``since``, first a :class:`~lotusx.account.Backfill` from it and a ``Resumed``, put once
        the subscription is acknowledged (``live()``): the followers reconcile from ``since`` then.

        Since 2026-02-20 the listen keys are gone (CHANGELOG.md 2026-01-21): every connection to
        ``/ws-api/v3`` subscribes with a signed ``userDataStream.subscribe.signature`` (the
        dialect's login, so a reconnect subscribes again with a fresh timestamp) and the events
        come wrapped in ``{"subscriptionId", "event"}`` (user-data-stream.md).
        """
        credentials = self.parts.need_credentials("the user data stream (watch_orders, watch_fills, watch_balances)")
        signer, clock, ids = self.parts.venue.signer(credentials), self.parts.clock, itertools.count(1)
        stamps = LoginClock(clock)  # -1021 to a subscription: the next one syncs the clock first

        async def subscription() -> str:
            return subscribe_request(signer, credentials.api_key, await stamps.now_ms(), next(ids))

        def answered(message: Any) -> LoginAck | None:
            result = subscribed(message)
            if isinstance(result, TimestampOutOfWindow):
                stamps.refused()
            return result

        url = self.parts.ws_api_url + WS_API_PATH
        dialect = dataclasses.replace(USER_DIALECT, login=subscription, login_ack=answered)
        async with self.parts.opened(ReconnectWs(lambda: self.parts.socket(url), frames=user_frames(self.metrics),
                                                 dialect=dialect, heartbeat=_HEARTBEAT, metrics=self.metrics,
                                                 clock=self.parts.local_clock,
                                                 admit=admission(self.parts.rate_limit, ep.WS_API_CONNECT))) as ws:
            # The subscription is the dialect's login: live() returns once the venue acknowledged it.
            if since is not None and await live_unless_closed(ws):
                yield Backfill(since)
                yield Resumed(clock.clock.time())
            async for event in ws:
                if type(event) is Malformed:
                    if event.reason != "unknown":  # an event type we do not model is no loss
                        # What it said is lost: asked by REST, as after a gap (the stream is live).
                        now = clock.clock.time()  # a Gap is marked on the local clock
                        yield Reconnected(_UNREADABLE_EVENT, now)
                        yield Resumed(now)
                    continue
                if type(event) is s.EventStreamTerminated:
                    # No more events on this subscription: subscribe again on a new connection.
                    # The Gap, then the Resumed once subscribed, make the followers ask REST.
                    ws.reconnect(_TERMINATED)
                    continue
                yield event

    async def subscribe(self, streams: Sequence[str]) -> None:
        """Raw escape hatch: subscribe the shared raw stream to venue stream names.

        Returns once the venue confirms them; a refused one is a ``SubscriptionRejected`` naming it,
        the others subscribed (see :meth:`lotusx.ws.ReconnectWs.subscribe`).
        """
        await self._raw.subscribe(streams)

    def stream(self) -> ReconnectWs:
        """Raw escape hatch: every decoded message of :meth:`subscribe`, and reconnects' ``Gap``/``Resumed``/``Lost``.

        A stream's event that fails its schema, or a frame that is not JSON, comes as a
        :class:`~lotusx.ws.Malformed` naming the stream (``.stream``, when the frame's head still
        names it): that stream lost a message. ``async for message in ex.stream()``,
        or ``await ex.stream().run(handler)`` to have each handed to a plain function as soon as
        it is decoded (:meth:`~lotusx.ws.ReconnectWs.run`).
        """
        return self._raw.stream()

    async def aclose(self) -> None:
        """Close every stream (a watcher's ``async for`` ends) and the REST pool."""
        # Each step even if an earlier one is cancelled: no stream or pool is left open behind it.
        await close_all(self._raw.aclose, self.parts.close_streams, self.rest.aclose)

    async def __aenter__(self) -> Binance:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Binance({self.rest!r})"


def _ids(symbol: str, order_id: str | int | None, client_order_id: str | None) -> list[tuple[str, Any]]:
    if (order_id is None) == (client_order_id is None):
        raise ConfigError("give exactly one of order_id and client_order_id")
    return [("symbol", symbol), ("orderId", order_id), ("origClientOrderId", client_order_id)]


def _named(order_id: str | int | None, client_order_id: str | None) -> str | None:
    """How an order of a batch is named, for the duplicate check: ``None`` when it has no id yet."""
    if order_id is not None:
        return f"order_id {str(order_id)!r}"
    return None if client_order_id is None else f"client_order_id {client_order_id!r}"


def _cancelled(order: Order) -> CancelledOrder:
    return CancelledOrder(order_id=order.order_id, client_order_id=order.client_order_id, symbol=order.symbol,
                          order=order)


async def _concurrently(calls: Sequence[tuple[str | None, Callable[[], Awaitable[R]]]]) -> list[R | LotusXError]:
    """Each ``(name, call)`` at once: its result (``Order``, ``CancelledOrder``) or its ``LotusXError`` in its slot,
    in order.

    A call named as an earlier one is a ``ConfigError`` in its slot, never made.
    """
    async def one(call: Callable[[], Awaitable[R]]) -> R | LotusXError:
        try:
            return await call()
        except LotusXError as exc:
            return exc

    async def refused(name: str) -> LotusXError:
        return ConfigError(f"{name} is given to more than one order of the batch")

    seen: set[str] = set()
    started = []
    for name, call in calls:
        started.append(refused(name) if name is not None and name in seen else one(call))
        if name is not None:
            seen.add(name)
    return list(await asyncio.gather(*started))


def _positions(event: Any) -> tuple[int | None, dict[str, Balance]] | None:
    if not isinstance(event, s.AccountPosition):
        return None
    # "u", not the event time "E": it dates the state shown, as the REST account's updateTime does.
    return event.u, {b.a: Balance(asset=b.a, free=b.f, locked=b.l) for b in event.B}


def _execution(event: Any) -> list[Order]:
    if not isinstance(event, s.ExecutionReport):
        return []
    # Dated by "T", when the order changed, not "E", when the report was sent: after a gap the
    # REST answers, dated by their update time, are ordered against it (lotusx.account._news).
    return [Order(order_id=str(event.i), client_order_id=event.C or event.c, symbol=event.s,
                  side="BUY" if event.S == "BUY" else "SELL", type=event.o, status=event.X, price=event.p,
                  quantity=event.q, filled_quantity=event.z, time_in_force=event.f,
                  timestamp=event.T if event.T is not None else event.E, self_trade_prevention=_STP_OF.get(event.V))]


def _symbols(watch: str, symbols: Iterable[str]) -> frozenset[str]:
    """The symbols named to a watch that reconciles one symbol at a time, checked now: they are first
    asked for after a reconnect, where the venue's refusal would end the watcher."""
    if isinstance(symbols, str):  # frozenset("BTCUSDT") would be its letters
        raise ConfigError(f"{watch} symbols is a list of symbols, got the str {symbols!r}: pass [{symbols!r}]")
    named = frozenset(symbols)
    if odd := sorted(symbol for symbol in named if not symbol or symbol != symbol.upper()):
        raise ConfigError(f"{watch} symbols are Binance's upper-case names (BTCUSDT), got {odd}")
    return named


def _trade_fill(event: s.ExecutionReport) -> Fill:
    """The execution a TRADE report tells (user-data-stream.md "Order Update": ``L``, ``l``, ``n``, ``N``, ``m``)."""
    return Fill(trade_id=str(event.t), order_id=str(event.i), client_order_id=event.c, symbol=event.s,
                side="BUY" if event.S == "BUY" else "SELL", price=event.L, quantity=event.l, fee=event.n,
                fee_asset=event.N or "", maker=event.m, timestamp=event.T if event.T is not None else event.E)


def _fill(r: s.MyTrade) -> Fill:
    return Fill(trade_id=str(r.id), order_id=str(r.orderId), client_order_id=None, symbol=r.symbol,
                side="BUY" if r.isBuyer else "SELL", price=r.price, quantity=r.qty, fee=r.commission,
                fee_asset=r.commissionAsset, maker=r.isMaker, timestamp=r.time)
def _cancel_reports(rows: list[msgspec.Raw]) -> list[Order]:
    """The orders in DELETE /api/v3/openOrders' answer: each entry an order's cancel report, or an order list's."""
    orders: list[Order] = []
    try:
        for row in rows:
            reports = msgspec.json.decode(row, type=s.CancelledList).orderReports
            orders += [_order(r) for r in reports] if reports is not None else [
                _order(msgspec.json.decode(row, type=s.OrderResult))]
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodeError(f"DELETE {ep.CANCEL_ALL.path}: cannot decode a cancel report: {exc}") from None
    return orders


def _order(r: s.OrderResult) -> Order:
    return Order(order_id=str(r.orderId), client_order_id=r.origClientOrderId or r.clientOrderId, symbol=r.symbol,
                 side="BUY" if r.side == "BUY" else "SELL", type=r.type, status=r.status, price=r.price,
                 quantity=r.origQty, filled_quantity=r.executedQty, time_in_force=r.timeInForce,
                 timestamp=r.updateTime or r.transactTime, self_trade_prevention=_STP_OF.get(r.selfTradePreventionMode))


def _cancel_restricted(exc: InvalidRequest) -> bool:
    """A cancel-replace whose cancel its cancelRestrictions refused: the order's status moved on; nothing changed."""
    return exc.code == _UNKNOWN_ORDER and _CANCEL_RESTRICTED in (exc.venue_message or "").lower()


def _amended(answer: s.Amended) -> Order:
    r = answer.amendedOrder
    return Order(order_id=str(r.orderId), client_order_id=r.clientOrderId, symbol=r.symbol,
                 side="BUY" if r.side == "BUY" else "SELL", type=r.type, status=r.status, price=r.price,
                 quantity=r.qty, filled_quantity=r.executedQty, time_in_force=r.timeInForce,
                 timestamp=answer.transactTime, self_trade_prevention=_STP_OF.get(r.selfTradePreventionMode))



def _trades(symbol: str, rows: list[s.RestTrade]) -> list[Trade]:
    return [Trade(symbol=symbol, trade_id=str(r.id), price=r.price, quantity=r.qty, timestamp=r.time,
                  side="SELL" if r.isBuyerMaker else "BUY") for r in rows]


def _skipped(prev: Trade, later: Trade) -> int:
    """The trades between two of one symbol: Binance numbers them 1, 2, 3... (rest-api.md "Old trade lookup"
    lists them from an id)."""
    return int(later.trade_id) - int(prev.trade_id) - 1


def _book(symbol: str, raw: s.Depth) -> OrderBook:
    return OrderBook(symbol=symbol, sequence=raw.lastUpdateId, bids=Levels(raw.bids), asks=Levels(raw.asks))

"""Binance spot REST dialect (binance/binance-spot-api-docs rest-api.md, errors.md).

Handlers translate between the wire and the shared engine; admission (keys, signatures,
weights) lives in :mod:`lotusx.sim.binance_guard`.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from lotusx.kernel.errors import InsufficientBalance, InvalidRequest, LotusXError, NotFound, OrderRejected
from lotusx.sim.binance_guard import OrderCount, Signed, Throttle, mandatory, verify
from lotusx.sim.binance_wire import (
    CLIENT_ID,
    DAY_MS,
    DEPTH_LIMITS,
    NEVER,
    Refused,
    bounded,
    decimal,
    error,
    error_body,
    f8,
    illegal,
    order_json,
    order_params,
    order_ref,
    query_json,
    required,
    symbol_of,
    trade_json,
)
from lotusx.sim.common import answer
from lotusx.sim.engine import OPEN, Engine, Order
from lotusx.sim.venue import Venue

DEFAULT_STP = "NONE"
"""The symbols' defaultSelfTradePreventionMode: without a mode an order may trade with its own account's."""
ALLOWED_STP = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
"""The symbols' allowedSelfTradePreventionModes. No DECREMENT or TRANSFER: their prevented quantity (taken
off both orders, faqs/stp_faq.md) would run through every lock, walk and report of the engine, so the sim
refuses them as Binance refuses a mode a symbol does not allow (-1013)."""
SignedHandler = Callable[[web.Request, Signed], Awaitable[web.Response]]
# cancelRestrictions' values and the one status each lets a cancel through (rest-api.md "Cancel order").
_RESTRICTED_TO = {"ONLY_NEW": "NEW", "ONLY_PARTIALLY_FILLED": "PARTIALLY_FILLED"}


Route = tuple[str, str]
"""A REST route: (HTTP method, path)."""


@dataclass(frozen=True)
class Trading:
    """A trading call's logic, shared by REST and the WS API: ``core`` answers the verified call's result
    or raises the venue's error; ``places``: it counts on the account's ORDERS windows."""

    core: Callable[[Signed], Any]
    places: bool = False


@dataclass(frozen=True)
class Outcome:
    """How a trading call ended: HTTP status, body (result, or ``{"code", "msg"[, "data"]}``) and the ORDERS
    count when it counted one."""

    status: int
    body: Any
    orders: OrderCount | None


@dataclass
class Withdrawal:
    """One withdrawal and when it was applied (its status follows from its age)."""

    id: str
    account: str
    coin: str
    network: str
    address: str
    amount: Decimal
    apply_ms: int
    withdraw_order_id: str
    done: bool = False


class BinanceRest:
    """The REST routes of the Binance dialect."""

    def __init__(self, venue: Venue, throttle: Throttle) -> None:
        self.venue = venue
        self.throttle = throttle
        self.engine: Engine = venue.engines["spot"]
        self.withdrawals: list[Withdrawal] = []
        self.listen_keys: dict[str, str] = {}
        # The trading calls the WS API serves too (lotusx.sim.binance_wsapi.TRADING), by REST route.
        self.trading: dict[Route, Trading] = {
            ("POST", "/api/v3/order"): Trading(self.place, places=True),
            ("DELETE", "/api/v3/order"): Trading(self.cancel),
            ("POST", "/api/v3/order/cancelReplace"): Trading(self.cancel_replace, places=True),
            ("PUT", "/api/v3/order/amend/keepPriority"): Trading(self.keep_priority),  # counts 0 orders
            ("DELETE", "/api/v3/openOrders"): Trading(self.cancel_all),
            ("GET", "/api/v3/order"): Trading(self.query),
            ("GET", "/api/v3/openOrders"): Trading(self.open_orders),
        }

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        signed = self._signed
        return [
            web.get("/api/v3/ping", self.ping), web.get("/api/v3/time", self.time),
            web.get("/api/v3/exchangeInfo", self.exchange_info), web.get("/api/v3/depth", self.depth),
            web.get("/api/v3/trades", self.trades), web.get("/api/v3/historicalTrades", self.historical_trades),
            web.get("/api/v3/ticker/bookTicker", self.book_ticker),
            *(web.route(verb, path, signed(self._answered((verb, path)))) for verb, path in self.trading),
            web.get("/api/v3/allOrders", signed(self.all_orders)),
            web.get("/api/v3/myTrades", signed(self.my_trades)),
            web.get("/api/v3/account", signed(self.account)),
            web.get("/api/v3/account/commission", signed(self.commission)),
            web.post("/sapi/v1/capital/withdraw/apply", signed(self.withdraw)),
            web.get("/sapi/v1/capital/withdraw/history", signed(self.withdraw_history)),
            web.post("/api/v3/userDataStream", self.listen_key), web.put("/api/v3/userDataStream", self.listen_key),
            web.delete("/api/v3/userDataStream", self.listen_key),
        ]

    def _signed(self, handler: SignedHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            try:
                signed = verify(self.venue, request.headers.get("X-MBX-APIKEY"),
                                request.rel_url.raw_query_string, await request.text())
                return await handler(request, signed)
            except LotusXError as exc:
                return error(exc)
        return route

    # ===== public =====

    async def ping(self, request: web.Request) -> web.Response:
        """GET /api/v3/ping."""
        return answer({})

    async def time(self, request: web.Request) -> web.Response:
        """GET /api/v3/time."""
        return answer({"serverTime": self.venue.now_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        """GET /api/v3/exchangeInfo: rate limits and symbols with their filters.

        ``symbol=`` or ``symbols=`` (a JSON array) narrows the list; a symbol not listed is -1121
        (rest-api.md "Exchange information": "the endpoint will throw an error saying the symbol is invalid").
        """
        lim = self.venue.config.limits
        try:
            markets = [self.engine.market(s) for s in _asked(request.query)] or list(self.engine.markets.values())
        except LotusXError as exc:
            return error(exc)
        return answer({"timezone": "UTC", "serverTime": self.venue.now_ms(), "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": lim.request_weight},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": lim.orders_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": lim.orders_1d},
        ], "exchangeFilters": [], "symbols": [{
            "symbol": m.symbol, "status": "TRADING", "baseAsset": m.base, "quoteAsset": m.quote,
            "baseAssetPrecision": 8, "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "quoteOrderQtyMarketAllowed": True,
            "isSpotTradingAllowed": True, "permissions": ["SPOT"],
            "defaultSelfTradePreventionMode": DEFAULT_STP, "allowedSelfTradePreventionModes": ALLOWED_STP,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": f8(m.tick), "maxPrice": f8(m.max_price),
                 "tickSize": f8(m.tick)},
                {"filterType": "LOT_SIZE", "minQty": f8(m.step), "maxQty": f8(m.max_qty), "stepSize": f8(m.step)},
                # avgPriceMins 0: a MARKET order is valued at the last price (filters.md), as the sim does. The
                # maxNotional is maxPrice * maxQty, so it never binds where PRICE_FILTER and LOT_SIZE do not.
                {"filterType": "NOTIONAL", "minNotional": f8(m.min_notional), "applyMinToMarket": True,
                 "maxNotional": f8(m.max_price * m.max_qty), "applyMaxToMarket": False, "avgPriceMins": 0},
            ]} for m in markets]})

    async def depth(self, request: web.Request) -> web.Response:
        """GET /api/v3/depth: ``lastUpdateId`` continues into the diff stream's ``U``."""
        try:
            book = self.engine.books[self.engine.market(symbol_of(request.query)).symbol]
            limit = int(request.query.get("limit", "100"))
            if limit not in DEPTH_LIMITS:
                raise InvalidRequest("Illegal characters found in parameter 'limit'; legal range is '1-5000'.",
                                     code=-1100)
        except ValueError:
            return error(InvalidRequest(mandatory("limit"), code=-1102))
        except LotusXError as exc:
            return error(exc)
        return answer({"lastUpdateId": book.update_id,
                       "bids": [[f8(p), f8(q)] for p, q in book.levels("BUY", limit)],
                       "asks": [[f8(p), f8(q)] for p, q in book.levels("SELL", limit)]})

    async def trades(self, request: web.Request) -> web.Response:
        """GET /api/v3/trades: the most recent trades, oldest first (limit default 500, max 1000)."""
        try:
            symbol = self.engine.market(symbol_of(request.query)).symbol
            limit = bounded(request.query, "limit", 500, 1, 1000)
        except LotusXError as exc:
            return error(exc)
        return answer([trade_json(f) for f in self.engine.trades[symbol][-limit:]])

    async def historical_trades(self, request: web.Request) -> web.Response:
        """GET /api/v3/historicalTrades: trades from ``fromId`` on, oldest first (rest-api.md "Old trade lookup":
        limit default 500, max 1000; no fromId, the most recent). Security type NONE: no API key."""
        try:
            symbol = self.engine.market(symbol_of(request.query)).symbol
            limit = bounded(request.query, "limit", 500, 1, 1000)
            first = request.query.get("fromId")
            if first is not None and not first.isdigit():
                raise InvalidRequest(illegal("fromId", "^[0-9]{1,20}$"), code=-1100)
        except LotusXError as exc:
            return error(exc)
        kept = self.engine.trades[symbol]
        chosen = kept[-limit:] if first is None else [f for f in kept if f.trade_id >= int(first)][:limit]
        return answer([trade_json(f) for f in chosen])

    async def book_ticker(self, request: web.Request) -> web.Response:
        """GET /api/v3/ticker/bookTicker for one symbol or all."""
        symbols = [request.query["symbol"]] if "symbol" in request.query else list(self.engine.books)
        try:
            tickers = [self._book_ticker(self.engine.market(s).symbol) for s in symbols]
        except LotusXError as exc:
            return error(exc)
        return answer(tickers[0] if "symbol" in request.query else tickers)

    def _book_ticker(self, symbol: str) -> dict[str, str]:
        book = self.engine.books[symbol]
        (bid, bid_qty), (ask, ask_qty) = (book.levels("BUY", 1) or [(Decimal(0), Decimal(0))])[0], (
            book.levels("SELL", 1) or [(Decimal(0), Decimal(0))])[0]
        return {"symbol": symbol, "bidPrice": f8(bid), "bidQty": f8(bid_qty), "askPrice": f8(ask),
                "askQty": f8(ask_qty)}

    # ===== signed =====

    def perform(self, route: Route, signed: Signed) -> Outcome:
        """One trading call, whichever wire brought it (REST or the WS API): its status, body and ORDERS count.

        An order placement counts on the account's ORDERS windows first, valid or not, and over a
        limit is refused with -1015 (429) without being carried out.
        """
        call = self.trading[route]
        counted = self.throttle.count_order(signed.account) if call.places else None
        try:
            if counted is not None and counted.exceeded is not None:
                raise self.throttle.too_many_orders(counted)
            return Outcome(200, call.core(signed), counted)
        except LotusXError as exc:
            return Outcome(*error_body(exc), counted)

    def _answered(self, route: Route) -> SignedHandler:
        """The REST handler of a trading call: its outcome as the body, ORDER-COUNT headers when it counted one."""
        async def handler(request: web.Request, signed: Signed) -> web.Response:
            out = self.perform(route, signed)
            return answer(out.body, out.status, None if out.orders is None else out.orders.headers())
        return handler

    def place(self, signed: Signed) -> dict[str, Any]:
        """POST /api/v3/order with newOrderRespType ACK, RESULT or FULL."""
        p = signed.params
        symbol = self.engine.market(symbol_of(p)).symbol
        side, type_ = required(p, "side"), required(p, "type")
        client_id = p.get("newClientOrderId")
        if client_id is not None and not CLIENT_ID.match(client_id):
            raise InvalidRequest(illegal("newClientOrderId", CLIENT_ID.pattern), code=-1100)
        order_params(p, type_)
        tif = p.get("timeInForce", "GTC")
        stp = p.get("selfTradePreventionMode", DEFAULT_STP)
        order = self.engine.place(signed.account, symbol, side, type_, quantity=decimal(p, "quantity"),
                                  price=decimal(p, "price"), tif=tif, client_id=client_id,
                                  quote_qty=decimal(p, "quoteOrderQty"),
                                  min_notional=self.engine.markets[symbol].min_notional,
                                  stp=None if stp == "NONE" else stp)
        return order_json(order, p.get("newOrderRespType", "FULL" if type_ in ("LIMIT", "MARKET") else "ACK"))

    def cancel(self, signed: Signed) -> dict[str, Any]:
        """DELETE /api/v3/order by orderId or origClientOrderId; ``newClientOrderId`` names the cancel itself."""
        try:
            cancel_id = signed.params.get("newClientOrderId") or secrets.token_hex(11)
            if not CLIENT_ID.match(cancel_id):
                raise InvalidRequest(illegal("newClientOrderId", CLIENT_ID.pattern), code=-1100)
            order = self.engine.cancel(signed.account, self.engine.market(symbol_of(signed.params)).symbol,
                                       *order_ref(signed.params), cancel_client_id=cancel_id)
        except NotFound:
            raise OrderRejected("Unknown order sent.", code=-2011) from None
        return self._cancel_report(order, cancel_id)

    def keep_priority(self, signed: Signed) -> dict[str, Any]:
        """PUT /api/v3/order/amend/keepPriority: a lower quantity in place, id and queue place kept.

        ``newQty`` must be below the order's quantity, else -2038 "Order amend (quantity increase) is
        not supported." (errors.md); the order is renamed ``newClientOrderId``, a random one if none.
        """
        p = signed.params
        symbol = self.engine.market(symbol_of(p)).symbol
        ref = order_ref(p)
        new_qty = decimal(p, "newQty")
        if new_qty is None:
            raise InvalidRequest(mandatory("newQty"), code=-1102)
        cid = p.get("newClientOrderId") or secrets.token_hex(11)
        if not CLIENT_ID.match(cid):
            raise InvalidRequest(illegal("newClientOrderId", CLIENT_ID.pattern), code=-1100)
        order = self.engine.find(signed.account, symbol, *ref)
        if order.status in OPEN and not order.filled < new_qty < order.quantity:
            raise OrderRejected("Order amend (quantity increase) is not supported.", code=-2038)
        old_cid = order.client_id
        order = self.engine.amend(signed.account, symbol, *ref, quantity=new_qty, new_client_id=cid)
        amended = {k: v for k, v in order_json(order, "RESULT").items() if k not in ("transactTime", "origQty")}
        return {"transactTime": self.venue.now_ms(), "executionId": order.update_ms, "amendedOrder": {
            **amended, "origClientOrderId": old_cid, "qty": f8(order.quantity)}}

    def cancel_replace(self, signed: Signed) -> dict[str, Any]:
        """POST /api/v3/order/cancelReplace, cancelReplaceMode=STOP_ON_FAILURE only (rest-api.md).

        A cancel that fails is -2022 (HTTP 400), nothing placed; a new order refused after the cancel
        is -2021 (HTTP 409): the original is gone. Both carry ``data`` with each half's answer.
        ``cancelRestrictions`` (rest-api.md "Regarding cancelRestrictions"): ONLY_NEW or
        ONLY_PARTIALLY_FILLED cancels only an order of that status, else the cancel fails with -2011
        "Order was not canceled due to cancel restrictions."; any other value is -1145.
        ``selfTradePreventionMode`` is the new order's, as POST /api/v3/order takes it (the symbol's
        default without one); a mode the symbol does not allow is -1013, nothing cancelled.
        """
        p = signed.params
        symbol = self.engine.market(symbol_of(p)).symbol
        if p.get("cancelReplaceMode") != "STOP_ON_FAILURE":
            raise InvalidRequest("The sim serves cancelReplaceMode=STOP_ON_FAILURE only.", code=-1102)
        side, type_ = required(p, "side"), required(p, "type")
        client_id = p.get("newClientOrderId")
        if client_id is not None and not CLIENT_ID.match(client_id):
            raise InvalidRequest(illegal("newClientOrderId", CLIENT_ID.pattern), code=-1100)
        order_params(p, type_)
        restriction = p.get("cancelRestrictions")
        if restriction not in (None, *_RESTRICTED_TO):
            raise InvalidRequest("Invalid cancelRestrictions", code=-1145)
        # The new order's mode, as POST /api/v3/order takes it. Refused before the cancel: "Filters
        # ... are evaluated before the processing of the cancellation" (rest-api.md; assumed of this check).
        stp = p.get("selfTradePreventionMode", DEFAULT_STP)
        if stp not in ALLOWED_STP:
            raise InvalidRequest("Invalid self-trade prevention mode.", code="stp")
        ref = order_ref({"orderId": p["cancelOrderId"]} if "cancelOrderId" in p else
                        {"origClientOrderId": p["cancelOrigClientOrderId"]} if "cancelOrigClientOrderId" in p
                        else {})
        cancel_id = p.get("cancelNewClientOrderId") or secrets.token_hex(11)
        try:
            target = self.engine.find(signed.account, symbol, *ref)
            if restriction is not None and target.status in OPEN and target.status != _RESTRICTED_TO[restriction]:
                raise _cancel_failed("Order was not canceled due to cancel restrictions.")
            old = self.engine.cancel(signed.account, symbol, *ref, cancel_client_id=cancel_id)
        except NotFound:
            raise _cancel_failed("Unknown order sent.") from None
        cancelled = self._cancel_report(old, cancel_id)
        try:
            order = self.engine.place(signed.account, symbol, side, type_, quantity=decimal(p, "quantity"),
                                      price=decimal(p, "price"), tif=p.get("timeInForce", "GTC"),
                                      client_id=client_id, min_notional=self.engine.markets[symbol].min_notional,
                                      stp=None if stp == "NONE" else stp)
        except LotusXError as exc:
            raise Refused("Order cancel-replace partially failed.", code=-2021, status=409, data={
                "cancelResult": "SUCCESS", "newOrderResult": "FAILURE", "cancelResponse": cancelled,
                "newOrderResponse": error_body(exc)[1]}) from None
        return {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS", "cancelResponse": cancelled,
                "newOrderResponse": order_json(order, p.get("newOrderRespType", "FULL"))}

    def cancel_all(self, signed: Signed) -> list[dict[str, Any]]:
        """DELETE /api/v3/openOrders: every open order of the symbol, each answered with its cancel report.

        The sim has no order lists, so no list entries. With nothing open the venue answers -2011
        "Unknown order sent.", as a cancel of an unknown order (not in rest-api.md; seen in
        binance/binance-connector-python issue #185). One generated cancel id names the whole
        request, as in the docs' example (every report's "clientOrderId" alike).
        """
        symbol = self.engine.market(symbol_of(signed.params)).symbol
        cancel_id = secrets.token_hex(11)
        orders = self.engine.cancel_all(signed.account, symbol, cancel_client_id=cancel_id)
        if not orders:
            raise OrderRejected("Unknown order sent.", code=-2011)
        return [self._cancel_report(order, cancel_id) for order in orders]

    def _cancel_report(self, order: Order, cancel_id: str) -> dict[str, Any]:
        """An order's cancel report, as DELETE /api/v3/order and /api/v3/openOrders answer it."""
        body = order_json(order, "RESULT")
        body.pop("transactTime")
        body.pop("workingTime")
        body.pop("fills", None)
        return {**body, "origClientOrderId": order.client_id, "clientOrderId": cancel_id,
                "transactTime": self.venue.now_ms()}

    def query(self, signed: Signed) -> dict[str, Any]:
        """GET /api/v3/order by orderId or origClientOrderId."""
        return query_json(self.engine.find(signed.account, self.engine.market(symbol_of(signed.params)).symbol,
                                           *order_ref(signed.params)))

    def open_orders(self, signed: Signed) -> list[dict[str, Any]]:
        """GET /api/v3/openOrders, for one symbol or all."""
        symbol = self.engine.market(signed.params["symbol"]).symbol if "symbol" in signed.params else None
        return [query_json(o) for o in self.engine.open_orders(signed.account, symbol)]

    async def all_orders(self, request: web.Request, signed: Signed) -> web.Response:
        """GET /api/v3/allOrders: one symbol's orders in any state, oldest first, ``limit`` of them (1-1000, 500).

        From ``orderId`` on when it is given; else the orders created within ``startTime`` and
        ``endTime`` (each optional, at most 24 hours apart: -1127); else the most recent ones.
        The docs do not say which time the window selects by: here it is creation time.
        """
        p = signed.params
        try:
            symbol = self.engine.market(symbol_of(p)).symbol
            limit = bounded(p, "limit", 500, 1, 1000)
            first, start, end = (bounded(p, name, None, 0, NEVER) for name in ("orderId", "startTime", "endTime"))
            if start is not None and end is not None and end - start > DAY_MS:
                raise InvalidRequest("More than 24 hours between startTime and endTime.", code=-1127)
        except LotusXError as exc:
            return error(exc)
        orders = self.engine.orders_of(signed.account, symbol)
        if first is not None:
            chosen = [o for o in orders if o.order_id >= first][:limit]
        elif start is not None or end is not None:
            low, high = start or 0, NEVER if end is None else end
            chosen = [o for o in orders if low <= o.time_ms <= high][:limit]
        else:
            chosen = orders[-limit:]
        return answer([query_json(o) for o in chosen])

    async def my_trades(self, request: web.Request, signed: Signed) -> web.Response:
        """GET /api/v3/myTrades: one symbol's fills of the account, oldest first, ``limit`` of them (1-1000, 500).

        rest-api.md "Account trade list": of one ``orderId`` when given; from trade ``fromId`` on;
        else those within ``startTime`` and ``endTime`` (each optional, at most 24 hours apart:
        -1127); else the most recent ones. A self-trade is two rows of one id (buyer and seller).
        """
        p = signed.params
        try:
            symbol = self.engine.market(symbol_of(p)).symbol
            limit = bounded(p, "limit", 500, 1, 1000)
            order, first, start, end = (bounded(p, name, None, 0, NEVER)
                                        for name in ("orderId", "fromId", "startTime", "endTime"))
            if start is not None and end is not None and end - start > DAY_MS:
                raise InvalidRequest("More than 24 hours between startTime and endTime.", code=-1127)
        except LotusXError as exc:
            return error(exc)
        rows = [e for e in self.engine.executions(signed.account, symbol) if order in (None, e.order.order_id)]
        if first is not None:
            chosen = [e for e in rows if e.fill.trade_id >= first][:limit]
        elif start is not None or end is not None:
            low, high = start or 0, NEVER if end is None else end
            chosen = [e for e in rows if low <= e.fill.time_ms <= high][:limit]
        else:
            chosen = rows[-limit:]
        return answer([{"symbol": symbol, "id": e.fill.trade_id, "orderId": e.order.order_id, "orderListId": -1,
                        "price": f8(e.fill.price), "qty": f8(e.fill.qty), "quoteQty": f8(e.fill.price * e.fill.qty),
                        "commission": f8(e.fee), "commissionAsset": e.fee_asset, "time": e.fill.time_ms,
                        "isBuyer": e.order.side == "BUY", "isMaker": e.maker, "isBestMatch": True} for e in chosen])

    async def account(self, request: web.Request, signed: Signed) -> web.Response:
        """GET /api/v3/account."""
        balances = self.engine.accounts.get(signed.account, {})
        return answer({"makerCommission": 0, "takerCommission": 0, "canTrade": True, "canWithdraw": True,
                       "canDeposit": True, "updateTime": self.venue.now_ms(), "accountType": "SPOT",
                       "balances": [{"asset": a, "free": f8(b.free), "locked": f8(b.locked)}
                                    for a, b in sorted(balances.items())], "permissions": ["SPOT"]})

    async def commission(self, request: web.Request, signed: Signed) -> web.Response:
        """GET /api/v3/account/commission: the sim's fee rates (buyer/seller add-ons too) as the standard
        commission; no tax, special, discount.

        What the engine charges a fill (rest-api.md "Query Commission Rates" for the shape).
        """
        try:
            symbol = self.engine.market(symbol_of(signed.params)).symbol
        except LotusXError as exc:
            return error(exc)
        nothing = {"maker": f8(Decimal(0)), "taker": f8(Decimal(0)), "buyer": f8(Decimal(0)),
                   "seller": f8(Decimal(0))}
        fees = self.engine.fees
        standard = {"maker": f8(fees.maker), "taker": f8(fees.taker), "buyer": f8(fees.buyer),
                    "seller": f8(fees.seller)}
        return answer({"symbol": symbol, "standardCommission": standard,
                       "specialCommission": nothing, "taxCommission": nothing,
                       "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                                    "discount": f8(Decimal(0))}})

    async def withdraw(self, request: web.Request, signed: Signed) -> web.Response:
        """POST /sapi/v1/capital/withdraw/apply: locks the amount until the withdrawal completes."""
        p = signed.params
        try:
            coin, address = required(p, "coin"), required(p, "address")
            amount = decimal(p, "amount")
            if amount is None or amount <= 0:
                raise InvalidRequest(mandatory("amount"), code=-1102)
            self.engine.lock(signed.account, coin, amount)
        except InsufficientBalance:
            return answer({"code": -4026, "msg": "User has insufficient balance"}, 400)
        except LotusXError as exc:
            return error(exc)
        item = Withdrawal(secrets.token_hex(16), signed.account, coin, p.get("network", coin), address, amount,
                          self.venue.now_ms(), p.get("withdrawOrderId", ""))
        self.withdrawals.append(item)
        return answer({"id": item.id})

    async def withdraw_history(self, request: web.Request, signed: Signed) -> web.Response:
        """GET /sapi/v1/capital/withdraw/history: status 4 (Processing) then 6 (Completed)."""
        delay_ms = self.venue.config.withdraw_delay * 1000
        out = []
        for w in reversed(self.withdrawals):
            if (w.account != signed.account or signed.params.get("coin", w.coin) != w.coin
                    or signed.params.get("withdrawOrderId", w.withdraw_order_id) != w.withdraw_order_id):
                continue
            if not w.done and self.venue.now_ms() - w.apply_ms >= delay_ms:
                w.done = True
                self.engine.balance(w.account, w.coin).locked -= w.amount
            row = {"id": w.id, "amount": f8(w.amount), "transactionFee": "0", "coin": w.coin,
                   "status": 6 if w.done else 4, "address": w.address, "network": w.network,
                   "txId": f"0x{w.id}" if w.done else "", "applyTime": w.apply_ms, "transferType": 0,
                   "info": "", "confirmNo": 1 if w.done else 0, "walletType": 0}
            if w.withdraw_order_id:  # "not returned if there is none" (withdraw-history)
                row["withdrawOrderId"] = w.withdraw_order_id
            out.append(row)
        return answer(out)

    async def listen_key(self, request: web.Request) -> web.Response:
        """POST/PUT/DELETE /api/v3/userDataStream (USER_STREAM: API key, no signature)."""
        key = self.venue.keys.get(request.headers.get("X-MBX-APIKEY", ""))
        if key is None:
            return error(LotusXError("Invalid API-key, IP, or permissions for action.", code=-2015, status=401))
        if request.method == "POST":
            listen_key = secrets.token_urlsafe(45)[:60]
            self.listen_keys[listen_key] = key.account
            return answer({"listenKey": listen_key})
        params = dict(request.query) | dict(await request.post())
        if self.listen_keys.get(str(params.get("listenKey", ""))) != key.account:
            return answer({"code": -1125, "msg": "This listenKey does not exist."}, 400)
        if request.method == "DELETE":
            del self.listen_keys[str(params["listenKey"])]
        return answer({})


def _cancel_failed(msg: str) -> Refused:
    """-2022: the cancel half refused with -2011 ``msg``; no new order was attempted (STOP_ON_FAILURE)."""
    return Refused("Order cancel-replace failed.", code=-2022, status=400, data={
        "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
        "cancelResponse": {"code": -2011, "msg": msg}, "newOrderResponse": None})


SYMBOLS = r'^\[("[A-Z0-9-_.]{1,20}")(,"[A-Z0-9-_.]{1,20}")*\]$'  # the sim's own rule (the docs print none)


def _asked(query: Mapping[str, str]) -> list[str]:
    """The symbols an exchangeInfo query names (``symbol``, or ``symbols`` as a JSON array of strings); none: all."""
    if "symbols" not in query:
        return [symbol_of(query)] if "symbol" in query else []
    try:
        symbols = orjson.loads(query["symbols"])
    except orjson.JSONDecodeError:
        symbols = None
    if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) for s in symbols):
        raise InvalidRequest(illegal("symbols", SYMBOLS), code=-1100)
    return symbols

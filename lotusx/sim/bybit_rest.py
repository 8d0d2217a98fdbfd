"""Bybit v5 REST dialect (bybit-exchange.github.io/docs/v5: guide "Authentication", "Rate Limit",
market/*, order/*, account/wallet-balance, asset/withdraw; error codes from docs/v5/error).

Every answer is HTTP 200 with ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``. A signed
request carries X-BAPI-API-KEY, X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW (default 5000) and
X-BAPI-SIGN = hex HMAC-SHA256(secret, timestamp + apiKey + recvWindow + (queryString | body)),
and is accepted when ``server - recvWindow <= timestamp < server + 1000``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from lotusx.kernel.errors import DuplicateClientOrderId, InsufficientBalance, LotusXError, NotFound, OrderRejected
from lotusx.sim.bybit_dcp import PRODUCTS
from lotusx.sim.bybit_dcp import WINDOW as DCP_WINDOW
from lotusx.sim.bybit_wire import (
    LINK_ID,
    Reject,
    keyset_page,
    number,
    order_json,
    page,
    position_json,
    ref,
    spot_filters,
    ticker,
    window,
)
from lotusx.sim.common import answer, plain
from lotusx.sim.engine import OPEN, ZERO, Engine, Execution, Market, Order
from lotusx.sim.venue import Venue

__all__ = ["BybitRest", "Outcome", "bybit_forced", "recv_window", "sign_valid"]

SIDES = {"Buy": "BUY", "Sell": "SELL"}
TYPES = {"Limit": "LIMIT", "Market": "MARKET"}
BOOK_LIMITS = {"spot": (1, 1000, 1), "linear": (1, 1000, 25)}
"""(min, max, default) of /v5/market/orderbook ``limit`` per category (docs/v5/market/orderbook; spot's was 200
until the docs' 2026-05 revision)."""
EXECUTION_LIMITS = (1, 100, 50)
"""(min, max, default) of /v5/execution/list ``limit`` (docs/v5/order/execution)."""
LINEAR_CANCEL_ALL = 500
"""The most orders one linear /v5/order/cancel-all cancels (docs/v5/order/cancel-all)."""
POSITION_LIMITS = (1, 200, 20)
"""(min, max, default) of /v5/position/list ``limit`` (docs/v5/position/position.mdx)."""
SMP_TYPES = {"None": None, "CancelTaker": "EXPIRE_TAKER", "CancelMaker": "EXPIRE_MAKER", "CancelBoth": "EXPIRE_BOTH"}
"""smpType (docs/v5/enum.mdx) as the engine's self-trade prevention: the incoming order's decides (docs/v5/smp.mdx)."""
TRADE_LIMITS = {"spot": (60, 60), "linear": (1000, 500)}
"""(max, default) of /v5/market/recent-trade ``limit`` per category."""
BATCH_PATH = "/v5/order/create-batch"
CANCEL_BATCH_PATH = "/v5/order/cancel-batch"
AMEND_BATCH_PATH = "/v5/order/amend-batch"
BATCH_PATHS = frozenset({BATCH_PATH, CANCEL_BATCH_PATH, AMEND_BATCH_PATH})
BATCH_MAX = {"spot": 10, "linear": 20}
"""Orders per batch request, the same for create, cancel and amend (docs/v5/order/batch-place.mdx,
batch-cancel.mdx, batch-amend.mdx: "20 orders (linear), 10 orders (spot)")."""

@dataclass(frozen=True)
class SimWithdrawal:
    """One withdrawal and when it was made (its status follows from its age, as the Binance sim's)."""

    id: int
    account: str
    coin: str
    chain: str
    address: str
    tag: str
    amount: Decimal
    create_ms: int


@dataclass(frozen=True)
class Call:
    """A verified private call."""

    account: str
    params: Mapping[str, Any]
    headers: dict[str, str]
    admitted: int = 1
    """Orders of a batch within the rate limit (the first ones); the rest fail one by one."""


@dataclass(frozen=True)
class WithExt:
    """A handler's result with a ``retExtInfo`` of its own (a batch's per-order codes)."""

    result: Any
    ext: Any


@dataclass(frozen=True)
class Outcome:
    """A private call's answer, whichever wire carries it: the envelope's pieces and its X-Bapi-Limit* counts."""

    ret_code: int
    ret_msg: str
    result: Any
    ext: Any
    limits: dict[str, str]


PrivateHandler = Callable[[Call], Awaitable[Any]]


def bybit_forced(status: int) -> web.Response:
    """Forced throttling: 429 is Bybit's system-level protection, 418 maps to its 403 IP ban."""
    if status == 429:
        return web.Response(status=429, text="System level frequency protection")
    return web.Response(status=403, text="access too frequent")


def sign_valid(secret: str, payload: str, signature: str) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of ``payload``."""
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.lower().encode())


def recv_window(headers: Mapping[str, str], server: int) -> tuple[int, int]:
    """X-BAPI-TIMESTAMP and X-BAPI-RECV-WINDOW (default 5000) of a request ``server`` ms accepts, or 10002.

    Accepted when ``server - recvWindow <= timestamp < server + 1000`` (guide "Authentication";
    docs/v5/websocket/trade/guideline.mdx gives /v5/trade's header the same rule).
    """
    try:
        timestamp = int(headers["X-BAPI-TIMESTAMP"])
        window = int(headers.get("X-BAPI-RECV-WINDOW", "5000"))
    except (KeyError, ValueError, TypeError):
        raise Reject(10002, "invalid request, please check your timestamp and recv_window param") from None
    if not server - window <= timestamp < server + 1000:
        raise Reject(10002, "invalid request, please check your server timestamp or recv_window param. "
                            f"req_timestamp[{timestamp}],server_timestamp[{server}],recv_window[{window}]")
    return timestamp, window


class BybitRest:
    """The REST routes of the Bybit dialect."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.limiter = FixedWindowRateLimiter(MemoryStorage())
        self.limit = RateLimitItemPerSecond(venue.config.limits.bybit_per_second)
        self.withdrawals: list[SimWithdrawal] = []
        self.trading: dict[str, PrivateHandler] = {
            "/v5/order/create": self.create, "/v5/order/amend": self.amend, "/v5/order/cancel": self.cancel,
            BATCH_PATH: self.create_batch, AMEND_BATCH_PATH: self.amend_batch, CANCEL_BATCH_PATH: self.cancel_batch}
        """The order calls the WS Trade API serves too (lotusx.sim.bybit_trade), by their REST path."""

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        private = self._private
        return [
            web.get("/v5/market/time", self._public(self.time)),
            web.get("/v5/market/instruments-info", self._public(self.instruments)),
            web.get("/v5/market/orderbook", self._public(self.orderbook)),
            web.get("/v5/market/recent-trade", self._public(self.recent_trades)),
            web.get("/v5/market/tickers", self._public(self.tickers)),
            *(web.post(path, private(handler)) for path, handler in self.trading.items()),
            web.post("/v5/order/cancel-all", private(self.cancel_all)),
            web.get("/v5/order/realtime", private(self.realtime)),
            web.get("/v5/order/history", private(self.history)),
            web.get("/v5/execution/list", private(self.executions)),
            web.get("/v5/position/list", private(self.positions)),
            web.get("/v5/account/wallet-balance", private(self.wallet)),
            web.get("/v5/account/fee-rate", private(self.fee_rate)),
            web.post("/v5/asset/withdraw/create", private(self.withdraw)),
            web.get("/v5/asset/withdraw/query-record", private(self.withdraw_records)),
        ]

    def envelope(self, result: Any, ret_code: int = 0, ret_msg: str = "OK",
                 headers: Mapping[str, str] | None = None) -> web.Response:
        """The v5 answer envelope."""
        ext: Any = {}
        if isinstance(result, WithExt):
            result, ext = result.result, result.ext
        return answer({"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": ext,
                       "time": self.venue.now_ms()}, headers=headers)

    def _public(self, handler: Callable[[Mapping[str, str]], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            try:
                return self.envelope(handler(request.query))
            except Reject as exc:
                return self.envelope({}, exc.ret_code, exc.ret_msg)
        return route

    def _private(self, handler: PrivateHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            try:
                account, params = await self._verify(request)
            except Reject as exc:
                return self.envelope({}, exc.ret_code, exc.ret_msg)
            out = await self.perform(request.path, handler, account, params)
            return self.envelope(WithExt(out.result, out.ext), out.ret_code, out.ret_msg, out.limits)
        return route

    async def perform(self, path: str, handler: PrivateHandler, account: str, params: Mapping[str, Any]) -> Outcome:
        """One private call of ``account``, whichever wire brought it (REST or /v5/trade): the envelope's pieces.

        It counts on the account's limit of ``path`` first, and is refused 10006 without being carried
        out when none of it is admitted.
        """
        limits, admitted = self._admit(account, path, params)
        try:
            if not admitted:
                raise Reject(10006, "Too many visits!")
            result = await handler(Call(account, params, limits, admitted))
        except Reject as exc:
            return Outcome(exc.ret_code, exc.ret_msg, {}, {}, limits)
        if isinstance(result, WithExt):
            return Outcome(0, "OK", result.result, result.ext, limits)
        return Outcome(0, "OK", result, {}, limits)

    async def _verify(self, request: web.Request) -> tuple[str, Any]:
        """The account and parsed parameters of a correctly signed request."""
        api_key = request.headers.get("X-BAPI-API-KEY", "")
        key = self.venue.keys.get(api_key)
        if key is None or key.secret is None:
            raise Reject(10003, "API key is invalid.")
        timestamp, window = recv_window(request.headers, self.venue.now_ms())
        body = await request.text()
        payload = request.rel_url.raw_query_string if request.method == "GET" else body
        if not sign_valid(key.secret, f"{timestamp}{api_key}{window}{payload}", request.headers.get("X-BAPI-SIGN", "")):
            raise Reject(10004, "Error sign, please check your signature generation algorithm.")
        try:
            params = dict(request.query) if request.method == "GET" else orjson.loads(body or "{}")
        except orjson.JSONDecodeError:
            raise Reject(10001, "params error: body is not JSON") from None
        return key.account, params

    def _admit(self, account: str, path: str, params: Any) -> tuple[dict[str, str], int]:
        """Count a call on the account's limit of ``path``: the X-Bapi-Limit* headers and the units admitted.

        The limit is per second per UID and endpoint (docs/v5/rate-limit/rate-limit.mdx "API Rate Limit"),
        shared by REST and the WS Trade API ("The account rate limit is shared between websocket and http
        batch orders", docs/v5/websocket/trade/guideline.mdx). A batch consumes a unit per order, and the
        orders past the limit fail while the ones within it go through ("Instructions for batch endpoints").
        """
        batch = params.get("request") if path in BATCH_PATHS and isinstance(params, dict) else None
        wanted = len(batch) if isinstance(batch, list) and batch else 1
        admitted = 0
        while admitted < wanted and self.limiter.hit(self.limit, account, path):
            admitted += 1
        reset, remaining = self.limiter.get_window_stats(self.limit, account, path)
        limits = {"X-Bapi-Limit": str(self.limit.amount), "X-Bapi-Limit-Status": str(remaining if admitted else -1),
                  "X-Bapi-Limit-Reset-Timestamp": str(int(reset * 1000))}
        return limits, admitted

    # ===== public =====

    def engine(self, params: Mapping[str, Any]) -> tuple[str, Engine]:
        """The category's engine, or 10001."""
        category = str(params.get("category", ""))
        if category not in self.venue.engines:
            raise Reject(10001, f"params error: category {category or 'missing'} is not supported")
        return category, self.venue.engines[category]

    def symbol(self, engine: Engine, params: Mapping[str, Any]) -> str:
        """A listed symbol, or 10001."""
        symbol = str(params.get("symbol", ""))
        if symbol not in engine.markets:
            raise Reject(10001, "params error: symbol invalid")
        return symbol

    def covers(self, category: str, engine: Engine, params: Mapping[str, Any]) -> Callable[[str], bool]:
        """Which symbols a list holds besides ``symbol``'s: none when one is asked; on linear, those of
        ``baseCoin`` and of ``settleCoin`` (a sim contract settles in its quote coin, as its
        instruments-info says); else all.

        docs/v5/order/open-order.mdx: linear needs "either symbol, baseCoin or settleCoin" (10001 here
        without), settleCoin "spot: not supported"; order-list.mdx and execution.mdx take both too. Spot's
        are ignored: the docs do not say what they do there.
        """
        if category != "linear" or params.get("symbol"):
            return lambda symbol: True  # a symbol's list is asked of the engine by that symbol
        base, settle = params.get("baseCoin") or None, params.get("settleCoin") or None
        return lambda symbol: (base in (None, engine.markets[symbol].base)
                               and settle in (None, engine.markets[symbol].quote))

    def time(self, params: Mapping[str, str]) -> Any:
        """GET /v5/market/time."""
        now = self.venue.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def instruments(self, params: Mapping[str, str]) -> Any:
        """GET /v5/market/instruments-info, each category's fields as docs/v5/market/instrument.mdx lists them.

        Spot steps quantities by ``basePrecision`` with the ``minOrderAmt`` value floor and states no
        price bounds; linear steps by ``qtyStep`` with ``minNotionalValue`` and ``priceFilter`` bounds. Linear
        pages (``limit`` 1-1000, default 500; ``cursor`` the previous ``nextPageCursor``); spot does not.
        An unknown symbol lists nothing (retCode 0). Every sim market is ``Trading``: a ``status`` filter
        naming another (PreLaunch, Delivering, Closed; docs/v5/enum.mdx "status") lists nothing.
        """
        category, engine = self.engine(params)
        trading = params.get("status", "Trading") == "Trading"
        markets = [m for m in engine.markets.values() if trading and params.get("symbol", m.symbol) == m.symbol]
        if category == "spot":
            return {"category": category, "list": [_instrument(category, m) for m in markets]}
        markets, cursor = _instrument_page(markets, params)
        return {"category": category, "nextPageCursor": cursor, "list": [_instrument(category, m) for m in markets]}

    def orderbook(self, params: Mapping[str, str]) -> Any:
        """GET /v5/market/orderbook: ``u`` and ``seq`` match the WS orderbook stream."""
        category, engine = self.engine(params)
        book = engine.books[self.symbol(engine, params)]
        low, high, default = BOOK_LIMITS[category]
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else default
        if not low <= limit <= high:
            raise Reject(10001, f"params error: limit must be in [{low}, {high}]")
        now = self.venue.now_ms()
        return {"s": book.market.symbol, "b": [[plain(p), plain(q)] for p, q in book.levels("BUY", limit)],
                "a": [[plain(p), plain(q)] for p, q in book.levels("SELL", limit)], "ts": now, "u": book.flushes,
                "seq": book.update_id, "cts": now}

    def recent_trades(self, params: Mapping[str, str]) -> Any:
        """GET /v5/market/recent-trade, newest first."""
        category, engine = self.engine(params)
        symbol = self.symbol(engine, params)
        top, default = TRADE_LIMITS[category]
        limit = min(int(params["limit"]) if params.get("limit", "").isdigit() else default, top)
        return {"category": category, "list": [
            {"execId": str(f.trade_id), "symbol": symbol, "price": plain(f.price), "size": plain(f.qty),
             "side": "Buy" if f.taker.side == "BUY" else "Sell", "time": str(f.time_ms), "isBlockTrade": False}
            for f in reversed(engine.trades[symbol][-limit:])]}

    def tickers(self, params: Mapping[str, str]) -> Any:
        """GET /v5/market/tickers (best levels and last price; 24h figures are the sim's whole history)."""
        category, engine = self.engine(params)
        symbols = [self.symbol(engine, params)] if "symbol" in params else list(engine.books)
        return {"category": category, "list": [ticker(engine, s) for s in symbols]}

    # ===== private =====

    async def create(self, call: Call) -> Any:
        """POST /v5/order/create."""
        category, engine = self.engine(call.params)
        p = call.params
        symbol = self.symbol(engine, p)
        side, type_ = SIDES.get(p.get("side", "")), TYPES.get(p.get("orderType", ""))
        if side is None or type_ is None:
            raise Reject(10001, "params error: side or orderType invalid")
        qty, price = number(p, "qty"), number(p, "price")
        tif = str(p.get("timeInForce", "GTC" if type_ == "LIMIT" else "IOC"))
        if tif == "PostOnly":
            type_, tif = "LIMIT_MAKER", "GTC"
        by_quote = category == "spot" and type_ == "MARKET" and p.get(
            "marketUnit", "quoteCoin" if side == "BUY" else "baseCoin") == "quoteCoin"
        link_id = str(p["orderLinkId"]) if p.get("orderLinkId") else None
        if link_id is not None and not LINK_ID.match(link_id):
            raise Reject(10001, "params error: orderLinkId invalid")
        smp = p.get("smpType") or "None"
        if smp not in SMP_TYPES:
            raise Reject(10001, "params error: smpType invalid")
        if category == "spot":
            spot_filters(engine.markets[symbol], type_, qty, price, by_quote)
        try:
            order = engine.place(call.account, symbol, side, type_, quantity=None if by_quote else qty,
                                 price=price if type_ != "MARKET" else None, tif=tif, client_id=link_id,
                                 quote_qty=qty if by_quote else None, client_ids_reusable=False,
                                 cancel_crossing_maker=True, min_notional=engine.markets[symbol].min_notional,
                                 stp=SMP_TYPES[smp])
        except InsufficientBalance:
            raise (Reject(170131, "Insufficient balance.") if category == "spot"
                   else Reject(110007, "Insufficient available balance")) from None
        except DuplicateClientOrderId:
            raise Reject(110072, "OrderLinkedID is duplicate") from None
        except OrderRejected as exc:
            if exc.message == "Filter failure: NOTIONAL":
                raise (Reject(170140, "Order value exceeded lower limit") if category == "spot"
                       else Reject(110094, "Order notional value below the lower limit")) from None
            raise Reject(10001, f"params error: {exc.message}") from None
        except LotusXError as exc:
            raise Reject(10001, f"params error: {exc.message}") from None
        return {"orderId": str(order.order_id), "orderLinkId": order.client_id}

    async def create_batch(self, call: Call) -> Any:
        """POST /v5/order/create-batch: each order of ``request`` placed as /v5/order/create places it.

        docs/v5/order/batch-place.mdx. A refused order keeps its orderLinkId with an empty orderId
        (the docs show no refusal: assumed). See :meth:`_each`.
        """
        return await self._each(call, self.create, {"createAt": ""})

    async def cancel_batch(self, call: Call) -> Any:
        """POST /v5/order/cancel-batch: each order of ``request`` cancelled as /v5/order/cancel cancels it.

        docs/v5/order/batch-cancel.mdx; its example shows a refused row with an empty orderId and
        the orderLinkId asked. The sim refuses an unknown order 110001, as its single cancel
        does (the docs' spot example shows 170213 "Order does not exist."; both read as not found).
        """
        return await self._each(call, self.cancel, {})

    async def amend_batch(self, call: Call) -> Any:
        """POST /v5/order/amend-batch: each order of ``request`` amended as /v5/order/amend does (batch-amend.mdx)."""
        return await self._each(call, self.amend, {})

    async def _each(self, call: Call, handler: PrivateHandler, extra: dict[str, str]) -> Any:
        """A batch: ``handler`` for each order of ``request``, its ids in ``result.list``, its code in ``retExtInfo``.

        At most 10 orders (spot) or 20 (linear) a request, else 10001 for the whole; the two lists
        hold each order's ids and code in the request's order. A refused order's row echoes the ids
        asked. The orders past the rate limit are refused 10006, the others carried out
        (docs/v5/rate-limit/rate-limit.mdx "Instructions for batch endpoints"). A row of
        create-batch also has ``createAt`` (``extra``), set when placed.
        """
        category, _ = self.engine(call.params)
        orders = call.params.get("request")
        if not isinstance(orders, list) or not orders or not all(isinstance(o, dict) for o in orders):
            raise Reject(10001, "params error: request must be a non-empty list of orders")
        if len(orders) > BATCH_MAX[category]:
            raise Reject(10001, f"params error: at most {BATCH_MAX[category]} orders per request")
        rows, codes = [], []
        for n, order in enumerate(orders):
            row = {"category": category, "symbol": str(order.get("symbol", "")), "orderId": "",
                   "orderLinkId": str(order.get("orderLinkId", "")), **extra}
            try:
                if n >= call.admitted:
                    raise Reject(10006, "Too many visits!")
                done = await handler(Call(call.account, {**order, "category": category}, call.headers))
            except Reject as exc:
                codes.append({"code": exc.ret_code, "msg": exc.ret_msg})
            else:
                row |= {"orderId": done["orderId"], "orderLinkId": done["orderLinkId"] or ""}
                row |= {k: str(self.venue.now_ms()) for k in extra}
                codes.append({"code": 0, "msg": "OK"})
            rows.append(row)
        return WithExt({"list": rows}, {"list": codes})

    async def fee_rate(self, call: Call) -> Any:
        """GET /v5/account/fee-rate of one symbol: the rates its category's engine charges (docs/v5/account/fee-rate).

        Spot's answer names its category; derivatives' "does not have this field". An unknown symbol
        is 10001 "symbol invalid", as elsewhere in the sim (the docs do not say).
        """
        category, engine = self.engine(call.params)
        rows = [{"symbol": self.symbol(engine, call.params), "takerFeeRate": plain(engine.fees.taker),
                 "makerFeeRate": plain(engine.fees.maker)}]
        return {"category": category, "list": rows} if category == "spot" else {"list": rows}

    async def cancel(self, call: Call) -> Any:
        """POST /v5/order/cancel by orderId or orderLinkId."""
        _, engine = self.engine(call.params)
        try:
            order = engine.cancel(call.account, self.symbol(engine, call.params), *ref(call.params))
        except NotFound:
            raise Reject(110001, "Order does not exist.") from None
        return {"orderId": str(order.order_id), "orderLinkId": order.client_id}

    async def amend(self, call: Call) -> Any:
        """POST /v5/order/amend by orderId or orderLinkId: ``qty`` and/or ``price`` in place, the ids kept.

        docs/v5/order/amend-order.mdx: only unfilled or partially filled orders (else 110001 "Order
        does not exist."); the answer holds the ids alone. A new price or a larger qty puts the
        order at the back of its level; a PostOnly that would take is cancelled, as on create.
        """
        category, engine = self.engine(call.params)
        qty, price = number(call.params, "qty"), number(call.params, "price")
        if qty is None and price is None:
            raise Reject(10001, "params error: qty or price is required")
        try:
            order = engine.amend(call.account, self.symbol(engine, call.params), *ref(call.params), quantity=qty,
                                 price=price, cancel_crossing_maker=True)
        except NotFound:
            raise Reject(110001, "Order does not exist.") from None
        except InsufficientBalance:
            raise (Reject(170131, "Insufficient balance.") if category == "spot"
                   else Reject(110007, "Insufficient available balance")) from None
        except LotusXError as exc:
            raise Reject(10001, f"params error: {exc.message}") from None
        return {"orderId": str(order.order_id), "orderLinkId": order.client_id}

    async def cancel_all(self, call: Call) -> Any:
        """POST /v5/order/cancel-all of one symbol: the ids cancelled and ``success`` "1" (an empty list when none).

        Linear cancels at most 500 a call (docs v5/order/cancel-all: "picks up 500 orders
        randomly"; here the oldest). Without a symbol spot would cancel every spot order and linear
        needs a baseCoin or settleCoin instead: the sim serves the symbol form only.
        """
        category, engine = self.engine(call.params)
        if not call.params.get("symbol"):
            raise Reject(10001, "params error: the sim cancels all orders of one symbol only")
        orders = engine.cancel_all(call.account, self.symbol(engine, call.params),
                                   limit=LINEAR_CANCEL_ALL if category == "linear" else None)
        return {"list": [{"orderId": str(o.order_id), "orderLinkId": o.client_id} for o in orders], "success": "1"}

    async def realtime(self, call: Call) -> Any:
        """GET /v5/order/realtime: open orders a page at a time, or one order by id whatever its state.

        A list holds one symbol's orders, or (linear) those of ``baseCoin`` and ``settleCoin`` (see ``covers``).
        """
        category, engine = self.engine(call.params)
        symbol = call.params.get("symbol")
        order_id, link_id = ref(call.params, required=False)
        cursor = ""
        if order_id is not None or link_id is not None:
            orders = self._by_id(engine, call, order_id, link_id)
            if self.venue.chaos.closed_orders_forgotten:
                orders = [o for o in orders if o.status in OPEN]
        else:
            if category == "linear" and not (symbol or call.params.get("baseCoin") or call.params.get("settleCoin")):
                raise Reject(10001, "params error: symbol, baseCoin or settleCoin is required")
            covered = self.covers(category, engine, call.params)
            orders, cursor = page((o for o in engine.open_orders(call.account, symbol) if covered(o.symbol)),
                                  call.params)
        return {"category": category, "nextPageCursor": cursor, "list": [order_json(o, category) for o in orders]}

    async def history(self, call: Call) -> Any:
        """GET /v5/order/history: one order by id whatever its state, or closed orders a page at a time.

        A list holds the closed orders created within the request's window (see ``window``), of
        one symbol or all (linear: see ``covers``), newest first and paged like /v5/order/realtime. The
        docs do not say which time the window selects by: here it is creation time. (The sim keeps every
        order.)
        """
        category, engine = self.engine(call.params)
        order_id, link_id = ref(call.params, required=False)
        cursor = ""
        if order_id is not None or link_id is not None:
            orders = self._by_id(engine, call, order_id, link_id)
        else:
            start, end = window(call.params, self.venue.now_ms())
            symbol = self.symbol(engine, call.params) if call.params.get("symbol") else None
            covered = self.covers(category, engine, call.params)
            closed = [o for o in engine.orders_of(call.account, symbol)
                      if o.status not in OPEN and start <= o.time_ms <= end and covered(o.symbol)]
            orders, cursor = page(closed, call.params)
        return {"category": category, "nextPageCursor": cursor, "list": [order_json(o, category) for o in orders]}

    async def executions(self, call: Call) -> Any:
        """GET /v5/execution/list: the account's executions within the window (as /v5/order/history's), newest first.

        Of one symbol or all (linear: see ``covers``), paged by ``cursor``, ``limit`` 1-100 (default 50); each
        side of a fill its own ``execId`` (docs/v5/order/execution). Only ``execType`` Trade: the sim has no
        funding or delivery.
        """
        category, engine = self.engine(call.params)
        start, end = window(call.params, self.venue.now_ms())
        symbol = self.symbol(engine, call.params) if call.params.get("symbol") else None
        covered = self.covers(category, engine, call.params)
        within = [e for e in engine.executions(call.account, symbol)
                  if start <= e.fill.time_ms <= end and covered(e.fill.symbol)]
        rows, cursor = keyset_page(within, call.params, lambda e: e.seq, EXECUTION_LIMITS)
        return {"category": category, "nextPageCursor": cursor, "list": [execution_json(e, category) for e in rows]}

    async def positions(self, call: Call) -> Any:
        """GET /v5/position/list (linear only here; docs/v5/position/position.mdx).

        With ``symbol`` the position "regardless of having position or not" (a flat one-way row:
        side "", size "0"); else ``settleCoin`` is required and lists those of size above zero,
        newest first, paged by ``cursor`` (``limit`` 1-200, default 20). Spot has no positions: the
        docs list category ``linear``, ``inverse`` and ``option`` only.
        """
        category, engine = self.engine(call.params)
        if category != "linear":
            raise Reject(10001, f"params error: category {category} has no positions")
        now = self.venue.now_ms()
        cursor = ""
        if call.params.get("symbol"):
            rows = [self.venue.positions.of(call.account, self.symbol(engine, call.params), now)]
        elif call.params.get("settleCoin"):
            coin = call.params["settleCoin"]
            held = [p for p in self.venue.positions.account(call.account)
                    if p.size and engine.markets[p.symbol].quote == coin]
            rows, cursor = keyset_page(held, call.params, lambda p: p.seq, POSITION_LIMITS)
        else:
            raise Reject(10001, "params error: symbol or settleCoin is required")
        return {"category": category, "nextPageCursor": cursor, "list": [position_json(p, engine) for p in rows]}

    def _by_id(self, engine: Engine, call: Call, order_id: int | None, link_id: str | None) -> list[Order]:
        try:
            return [engine.find(call.account, self.symbol(engine, call.params), order_id, link_id)]
        except NotFound:
            return []

    async def wallet(self, call: Call) -> Any:
        """GET /v5/account/wallet-balance (accountType UNIFIED: the one ledger spot and linear trade from)."""
        if call.params.get("accountType") != "UNIFIED":
            raise Reject(10001, "params error: accountType only support UNIFIED")
        balances = self.venue.accounts.get(call.account, {})
        return {"list": [{"accountType": "UNIFIED", "coin": [
            {"coin": c, "walletBalance": plain(b.free + b.locked), "equity": plain(b.free + b.locked),
             "locked": plain(b.locked), "free": plain(b.free)} for c, b in sorted(balances.items())]}]}

    async def withdraw(self, call: Call) -> Any:
        """POST /v5/asset/withdraw/create: the amount leaves the account."""
        p = call.params
        coin, amount = str(p.get("coin", "")), number(p, "amount")
        if not coin or amount is None or amount <= 0 or not p.get("address"):
            raise Reject(10001, "params error: coin, address and amount are required")
        engine = self.venue.engines["spot"]  # any category's engine: they all lock in the venue's one ledger
        try:
            engine.lock(call.account, coin, amount)
        except InsufficientBalance:
            raise Reject(131085, "Withdrawal amount is greater than your available balance") from None
        engine.balance(call.account, coin).locked -= amount
        self.withdrawals.append(SimWithdrawal(10_000 + len(self.withdrawals), call.account, coin,
                                              str(p.get("chain") or coin), str(p["address"]), str(p.get("tag") or ""),
                                              amount, self.venue.now_ms()))
        return {"id": str(self.withdrawals[-1].id)}

    async def withdraw_records(self, call: Call) -> Any:
        """GET /v5/asset/withdraw/query-record: ``Pending``, then ``success`` once ``withdraw_delay`` has passed.

        By ``coin`` and ``withdrawID``, newest first, paged by ``cursor`` (``limit`` 1-50, default 50). Every
        withdrawal here is on chain (``withdrawType`` 0, the default; 2 is all): 1 (off chain) lists none.
        """
        p = call.params
        kind = str(p.get("withdrawType", "0"))
        if kind not in ("0", "1", "2"):
            raise Reject(10001, "params error: withdrawType must be 0, 1 or 2")
        now, delay_ms = self.venue.now_ms(), self.venue.config.withdraw_delay * 1000
        mine = [w for w in self.withdrawals if w.account == call.account and kind != "1"
                and str(p.get("coin") or w.coin) == w.coin and str(p.get("withdrawID") or w.id) == str(w.id)]
        rows, cursor = keyset_page(mine, p, lambda w: w.id, (1, 50, 50))
        return {"rows": [_withdraw_record(w, done=now - w.create_ms >= delay_ms) for w in rows],
                "nextPageCursor": cursor}

    # ===== Disconnection Protection (docs/v5/order/dcp.mdx, docs/v5/account/dcp-info.mdx; lotusx.sim.bybit_dcp) =====

    def dcp_routes(self) -> list[web.RouteDef]:
        """The DCP routes: set a product's window, read every product's."""
        return [web.post("/v5/order/disconnected-cancel-all", self._private(self.set_dcp)),
                web.get("/v5/account/query-dcp-info", self._private(self.dcp_info))]

    async def set_dcp(self, call: Call) -> Any:
        """POST /v5/order/disconnected-cancel-all: ``timeWindow`` [3, 300] s of ``product`` (OPTIONS when left out).

        The docs give no refusal codes: an out-of-range window or an unknown product is 10001, as
        the sim's other parameter errors. The answer has no result ("Response Parameters: None").
        """
        product = call.params.get("product", PRODUCTS[0])
        window = call.params.get("timeWindow")
        least, most = DCP_WINDOW
        if product not in PRODUCTS:
            raise Reject(10001, f"params error: product {product!r} is not one of {', '.join(PRODUCTS)}")
        if isinstance(window, bool) or not isinstance(window, int) or not least <= window <= most:
            raise Reject(10001, f"params error: timeWindow must be an integer within [{least}, {most}]")
        self.venue.dcp.windows[(call.account, product)] = window
        return {}

    async def dcp_info(self, call: Call) -> Any:
        """GET /v5/account/query-dcp-info: every product on, each with its window as a string."""
        dcp = self.venue.dcp
        return {"dcpInfos": [{"product": product, "dcpStatus": "ON",
                              "timeWindow": str(dcp.window(call.account, product))} for product in PRODUCTS]}


def execution_json(e: Execution, category: str) -> dict[str, Any]:
    """One execution of GET /v5/execution/list (and, with ``category``, of the private ``execution`` stream)."""
    order, fill = e.order, e.fill
    price = order.price or ZERO
    return {"symbol": fill.symbol, "orderId": str(order.order_id), "orderLinkId": order.client_id,
            "side": "Buy" if order.side == "BUY" else "Sell", "orderPrice": plain(price),
            "orderQty": plain(order.quantity), "leavesQty": plain(order.remaining),
            "orderType": "Market" if order.type == "MARKET" else "Limit", "stopOrderType": "",
            "execFee": plain(e.fee), "execId": str(uuid.UUID(int=e.seq)), "execPrice": plain(fill.price),
            "execQty": plain(fill.qty), "execType": "Trade", "execValue": plain(fill.qty * fill.price),
            "execTime": str(fill.time_ms), "isMaker": e.maker,
            # the docs' linear example leaves it empty: a contract pays in its settle coin
            "feeCurrency": e.fee_asset if category == "spot" else "",
            "markPrice": plain(fill.price) if category == "linear" else "", "closedSize": "0",
            "seq": fill.trade_id, "blockTradeId": "", "extraFees": ""}


INSTRUMENT_LIMITS = (1, 1000, 500)
"""docs/v5/market/instrument.mdx: ``limit`` [1, 1000], default 500 (linear and inverse; spot does not page)."""


def _instrument(category: str, m: Market) -> dict[str, Any]:
    """One instruments-info entry of ``m`` in ``category``'s shape."""
    lot: dict[str, str] = {"minOrderQty": plain(m.step), "maxOrderQty": plain(m.max_qty)}
    price = {"tickSize": plain(m.tick)}
    if category == "spot":
        lot |= {"basePrecision": plain(m.step), "quotePrecision": "0.00000001", "minOrderAmt": plain(m.min_notional),
                "maxLimitOrderQty": plain(m.max_qty), "maxMarketOrderQty": plain(m.max_qty)}
    else:
        lot |= {"qtyStep": plain(m.step), "maxMktOrderQty": plain(m.max_qty), "minNotionalValue": plain(m.min_notional)}
        price |= {"minPrice": plain(m.tick), "maxPrice": plain(m.max_price)}
    settle = {} if category == "spot" else {"settleCoin": m.quote}  # spot lists none (docs/v5/market/instrument.mdx)
    return {"symbol": m.symbol, "baseCoin": m.base, "quoteCoin": m.quote, "status": "Trading", **settle,
            "lotSizeFilter": lot, "priceFilter": price}


def _instrument_page(markets: list[Market], params: Mapping[str, str]) -> tuple[list[Market], str]:
    """The page ``limit`` and ``cursor`` ask for, and the next cursor (the sim's: the index of the page's end)."""
    low, high, default = INSTRUMENT_LIMITS
    text = str(params.get("limit", default))
    if not text.isdigit() or not low <= int(text) <= high:
        raise Reject(10001, f"params error: limit must be in [{low}, {high}]")
    cursor = str(params.get("cursor", "") or "0")
    if not cursor.isdigit() or int(cursor) > len(markets):
        raise Reject(10001, "params error: cursor invalid")
    start, end = int(cursor), int(cursor) + int(text)
    return markets[start:end], str(end) if end < len(markets) else ""


def _withdraw_record(w: SimWithdrawal, *, done: bool) -> dict[str, Any]:
    """``w`` as docs/v5/asset/withdraw/withdraw-record.mdx lists it."""
    return {"coin": w.coin, "chain": w.chain, "amount": plain(w.amount), "txID": f"0x{w.id:064x}" if done else "",
            "status": "success" if done else "Pending", "toAddress": w.address, "tag": w.tag, "withdrawFee": "0",
            "createTime": str(w.create_ms), "updateTime": str(w.create_ms), "withdrawId": str(w.id),
            "withdrawType": 0, "fee": "", "tax": "", "taxRate": "", "taxType": ""}

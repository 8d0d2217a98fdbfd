"""Bybit v5 wire formats: parameter parsing, paging, the retCode signal and order/ticker JSON shapes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from lotusx.sim.common import plain
from lotusx.sim.engine import Engine, Market, Order
from lotusx.sim.positions import LEVERAGE, Position

ZERO = Decimal(0)
R = TypeVar("R")
PAGE_LIMITS = (1, 50, 20)
"""(min, max, default) of /v5/order/realtime ``limit``; the answer's ``nextPageCursor`` goes back as
``cursor`` and is empty on the last page (https://bybit-exchange.github.io/docs/v5/order/open-order)."""
_CURSOR = re.compile(r"([0-9]+)%3A\1")
WEEK_MS = 7 * 24 * 3600 * 1000
STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled", "CANCELED": "Cancelled",
          "EXPIRED": "Cancelled", "EXPIRED_IN_MATCH": "Cancelled"}
"""The engine's statuses as orderStatus; one SMP took off is Cancelled, cancelType CancelBySmp (docs/v5/enum.mdx)."""


SMP_TYPE = {"EXPIRE_TAKER": "CancelTaker", "EXPIRE_MAKER": "CancelMaker", "EXPIRE_BOTH": "CancelBoth"}
"""The engine's self-trade prevention mode as the order's smpType (docs/v5/enum.mdx)."""
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
"""orderLinkId: "A max of 36 characters. Combinations of numbers, letters (upper and lower cases), dashes, and
underscores" (docs v5/order/create-order)."""


class Reject(Exception):
    """Answer with ``ret_code``/``ret_msg`` instead of a result."""

    def __init__(self, ret_code: int, ret_msg: str) -> None:
        super().__init__(ret_msg)
        self.ret_code = ret_code
        self.ret_msg = ret_msg


def number(params: Mapping[str, Any], name: str) -> Decimal | None:
    """An optional decimal string parameter, or 10001."""
    if params.get(name) in (None, ""):
        return None
    try:
        value = Decimal(str(params[name]))
    except InvalidOperation:
        raise Reject(10001, f"params error: {name} invalid") from None
    if not value.is_finite():
        raise Reject(10001, f"params error: {name} invalid")
    return value


def spot_filters(market: Market, type_: str, qty: Decimal | None, price: Decimal | None, by_quote: bool) -> None:
    """A spot order off its instrument's tickSize or basePrecision gets the Spot Trade code (docs v5/error)."""
    if type_ != "MARKET" and price is not None and price > 0 and price % market.tick:
        raise Reject(170134, "Order price decimal too long.")
    if not by_quote and qty is not None and qty > 0 and qty % market.step:
        raise Reject(170137, "Order volume decimal too long")


def window(params: Mapping[str, Any], now_ms: int) -> tuple[int, int]:
    """The (startTime, endTime) a /v5/order/history list covers, or 10001 (docs v5/order/order-list).

    Neither given: the last 7 days; one alone: the 7 days after or before it; both: at most 7 days apart.
    """
    start, end = (_millis(params, name) for name in ("startTime", "endTime"))
    if start is None:
        return (now_ms - WEEK_MS, now_ms) if end is None else (end - WEEK_MS, end)
    if end is None:
        return start, start + WEEK_MS
    if not 0 <= end - start <= WEEK_MS:
        raise Reject(10001, "params error: endTime - startTime must be within [0, 7 days]")
    return start, end


def _millis(params: Mapping[str, Any], name: str) -> int | None:
    text = str(params.get(name) or "")
    if not text:
        return None
    if not text.isdigit():
        raise Reject(10001, f"params error: {name} invalid")
    return int(text)


NO_ORDER = 0
"""The order id a non-numeric orderId stands for: the engine's ids start at 1, so it names no order."""


def ref(params: Mapping[str, Any], *, required: bool = True) -> tuple[int | None, str | None]:
    """(orderId, orderLinkId) from the parameters; orderId wins when both are given, as on Bybit."""
    order_id = str(params.get("orderId") or "")
    if order_id:  # an unknown id (linear ids are UUIDs on Bybit) finds nothing; it never widens the query
        return int(order_id) if order_id.isdigit() else NO_ORDER, None
    if params.get("orderLinkId"):
        return None, str(params["orderLinkId"])
    if required:
        raise Reject(10001, "params error: orderId or orderLinkId is required")
    return None, None


def page(orders: Iterable[Order], params: Mapping[str, Any]) -> tuple[list[Order], str]:
    """The page of ``orders`` the request's ``limit`` and ``cursor`` ask for, newest first, and the next cursor.

    Keyset paging on the order id (ids grow with creation time, and Bybit sorts newest first):
    an order placed during a walk is newer than any cursor, so it waits for the next listing; a
    cancelled one shifts nothing, so a walk never repeats an order nor skips one that stayed open.
    """
    return keyset_page(orders, params, lambda order: order.order_id, PAGE_LIMITS)


def keyset_page(rows: Iterable[R], params: Mapping[str, Any], key: Callable[[R], int],
                limits: tuple[int, int, int]) -> tuple[list[R], str]:
    """The page of ``rows`` (newest first by their growing ``key``) ``limit`` and ``cursor`` ask for, and its cursor."""
    low, high, default = limits
    text = str(params.get("limit", default))
    if not text.isdigit() or not low <= int(text) <= high:
        raise Reject(10001, f"params error: limit must be in [{low}, {high}]")
    limit = int(text)
    cursor = str(params.get("cursor", ""))
    found = _CURSOR.fullmatch(cursor)
    if cursor and found is None:
        raise Reject(10001, "params error: cursor invalid")
    before = int(found.group(1)) if found else None
    newest = sorted((row for row in rows if before is None or key(row) < before), key=lambda row: -key(row))
    chosen = newest[:limit]
    return chosen, next_cursor(key(chosen[-1])) if len(newest) > limit else ""


def next_cursor(last: int) -> str:
    """The cursor of the page after the row keyed ``last``.

    Bybit's cursors come already percent-encoded (``621%3A1%2C621%3A1`` in ccxt/ccxt#18174), so
    this one holds a ``%`` too: a client must send it back as given, encoded once more as a value.
    """
    return f"{last}%3A{last}"


def ticker(engine: Engine, symbol: str) -> dict[str, str]:
    """One /v5/market/tickers entry (also the tickers stream's data)."""
    book, trades = engine.books[symbol], engine.trades[symbol]
    (bid, bid_qty), = book.levels("BUY", 1) or [(ZERO, ZERO)]
    (ask, ask_qty), = book.levels("SELL", 1) or [(ZERO, ZERO)]
    last = trades[-1].price if trades else book.market.mid
    first = trades[0].price if trades else last
    prices = [f.price for f in trades] or [last]
    return {"symbol": symbol, "bid1Price": plain(bid), "bid1Size": plain(bid_qty), "ask1Price": plain(ask),
            "ask1Size": plain(ask_qty), "lastPrice": plain(last), "prevPrice24h": plain(first),
            "price24hPcnt": plain(((last - first) / first).quantize(Decimal("0.0001"))),
            "highPrice24h": plain(max(prices)), "lowPrice24h": plain(min(prices)),
            "turnover24h": plain(sum((f.qty * f.price for f in trades), ZERO)),
            "volume24h": plain(sum((f.qty for f in trades), ZERO))}


def order_json(order: Order, category: str) -> dict[str, Any]:
    """An order as /v5/order/realtime and the ``order`` stream show it."""
    status = STATUS[order.status]
    # docs/v5/enum orderStatus: PartiallyFilledCanceled "Only spot has this order status"; a derivatives
    # order stays "Cancelled", which "may have an executed qty".
    if status == "Cancelled" and order.filled > 0 and category == "spot":
        status = "PartiallyFilledCanceled"
    avg = order.quote_filled / order.filled if order.filled else ZERO
    # A spot Market order's qty is in its marketUnit: the quote amount asked when sized by it.
    unit = ({"marketUnit": "quoteCoin" if order.quote_qty is not None else "baseCoin"}
            if category == "spot" and order.type == "MARKET" else {})
    return {"category": category, "orderId": str(order.order_id), "orderLinkId": order.client_id,
            "symbol": order.symbol, "price": plain(order.price or ZERO),
            "qty": plain(order.quote_qty if order.quote_qty is not None else order.quantity), **unit,
            "side": "Buy" if order.side == "BUY" else "Sell", "orderStatus": status,
            "orderType": "Market" if order.type == "MARKET" else "Limit",
            "timeInForce": "PostOnly" if order.type == "LIMIT_MAKER" else order.tif,
            "avgPrice": plain(avg),
            "leavesQty": plain(order.remaining if status in ("New", "PartiallyFilled") else ZERO),
            "cumExecQty": plain(order.filled), "cumExecValue": plain(order.quote_filled), "cumExecFee": "0",
            "createdTime": str(order.time_ms), "updatedTime": str(order.update_ms), "positionIdx": 0,
            "reduceOnly": False, "rejectReason": "EC_NoError", "smpType": SMP_TYPE.get(order.stp or "", "None"),
            **({"cancelType": "CancelBySmp"} if order.status == "EXPIRED_IN_MATCH" else {})}


def mark_price(engine: Engine, symbol: str) -> Decimal:
    """The sim's mark price of ``symbol``: its last trade, or the market's starting mid before any."""
    trades = engine.trades[symbol]
    return trades[-1].price if trades else engine.markets[symbol].mid


def position_json(position: Position, engine: Engine, *, stream: bool = False) -> dict[str, Any]:
    """A one-way (positionIdx 0) position as /v5/position/list shows it, or (``stream``) the ``position`` topic.

    docs/v5/position/position.mdx: ``side`` "" and ``size`` "0" for an empty position; the list names
    the entry price ``avgPrice``, the stream (docs/v5/websocket/private/position.mdx) ``entryPrice``.
    The sim's margin is simplified (lotusx.sim.engine): one ``leverage`` (SimConfig.leverage, the docs'
    example's "10"), ``positionIM`` ``entry * size / leverage``, no maintenance margin ("0") and no
    liquidation: ``liqPrice`` "" (as the venue writes it when it has none).
    """
    mark = mark_price(engine, position.symbol)
    size = position.size
    leverage = engine.positions.leverage if engine.positions is not None else LEVERAGE
    margin = plain(position.margin(leverage))
    side = "Buy" if size > 0 else "Sell" if size < 0 else ""
    row = {"positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": position.symbol, "side": side,
           "size": plain(abs(size)), "positionValue": plain(abs(size) * position.entry),
           "tradeMode": 0, "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": 0,
           "leverage": plain(leverage), "markPrice": plain(mark), "liqPrice": "", "bustPrice": "",
           "positionIM": margin, "positionMM": "0", "positionIMByMp": margin, "positionMMByMp": "0",
           "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "tpslMode": "Full",
           "unrealisedPnl": plain(position.unrealised(mark)), "curRealisedPnl": plain(position.realised),
           "cumRealisedPnl": plain(position.realised), "sessionAvgPrice": "", "isReduceOnly": False,
           "createdTime": str(position.created_ms), "updatedTime": str(position.updated_ms),
           "seq": position.seq, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": ""}
    entry = plain(position.entry)
    return {**row, "entryPrice": entry, "category": "linear"} if stream else {**row, "avgPrice": entry}

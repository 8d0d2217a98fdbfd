"""Bybit v5 wire formats: parameter parsing, the retCode signal and order/ticker JSON shapes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lotusx.sim.common import plain
from lotusx.sim.engine import Engine, Order

ZERO = Decimal(0)
STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled", "CANCELED": "Cancelled",
          "EXPIRED": "Cancelled"}


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


def ref(params: Mapping[str, Any], *, required: bool = True) -> tuple[int | None, str | None]:
    """(orderId, orderLinkId) from the parameters."""
    if str(params.get("orderId", "")).isdigit():
        return int(params["orderId"]), None
    if params.get("orderLinkId"):
        return None, str(params["orderLinkId"])
    if required:
        raise Reject(10001, "params error: orderId or orderLinkId is required")
    return None, None


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
    if status == "Cancelled" and order.filled > 0:
        status = "PartiallyFilledCanceled"
    avg = order.quote_filled / order.filled if order.filled else ZERO
    return {"category": category, "orderId": str(order.order_id), "orderLinkId": order.client_id,
            "symbol": order.symbol, "price": plain(order.price or ZERO), "qty": plain(order.quantity),
            "side": "Buy" if order.side == "BUY" else "Sell", "orderStatus": status,
            "orderType": "Market" if order.type == "MARKET" else "Limit",
            "timeInForce": "PostOnly" if order.type == "LIMIT_MAKER" else order.tif,
            "avgPrice": plain(avg),
            "leavesQty": plain(order.remaining if status in ("New", "PartiallyFilled") else ZERO),
            "cumExecQty": plain(order.filled), "cumExecValue": plain(order.quote_filled), "cumExecFee": "0",
            "createdTime": str(order.time_ms), "updatedTime": str(order.update_ms), "positionIdx": 0,
            "reduceOnly": False, "rejectReason": "EC_NoError"}

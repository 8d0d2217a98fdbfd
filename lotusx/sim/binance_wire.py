"""Binance wire formats: parameter parsing, error answers and order/trade JSON shapes.

From binance/binance-spot-api-docs rest-api.md (response shapes) and errors.md (codes and
messages; the parameter patterns are the ones -1100 quotes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from aiohttp import web

from lotusx.kernel.errors import (
    DuplicateClientOrderId,
    InsufficientBalance,
    InvalidRequest,
    LotusXError,
    NotFound,
    OrderRejected,
)
from lotusx.sim.binance_guard import mandatory
from lotusx.sim.common import answer
from lotusx.sim.engine import Fill, Order

DEPTH_LIMITS = range(1, 5001)
DAY_MS = 24 * 3600 * 1000
NEVER = 2**63 - 1  # the largest LONG: "no bound" for ids and times
SYMBOL = re.compile(r"^[A-Z0-9-_.]{1,20}$")
CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
T = TypeVar("T", int, None)
MANDATORY = {"LIMIT": ("timeInForce", "quantity", "price"), "LIMIT_MAKER": ("quantity", "price")}
"""rest-api.md, New order: the additional mandatory parameters of each order type."""
NOT_REQUIRED = {"LIMIT": ("quoteOrderQty",), "LIMIT_MAKER": ("timeInForce", "quoteOrderQty"),
                "MARKET": ("timeInForce", "price")}
"""Parameters an order type refuses with -1106 PARAM_NOT_REQUIRED (a MARKET order trades at any price and is
always IOC; a LIMIT_MAKER is always GTC)."""
ENUM_ERRORS = {"symbol": (-1121, "Invalid symbol."), "side": (-1117, "Invalid side."),
               "type": (-1116, "Invalid orderType."), "tif": (-1115, "Invalid timeInForce."),
               # faqs/stp_faq.md: a mode outside the symbol's allowedSelfTradePreventionModes.
               "stp": (-1013, "This symbol does not allow the specified self-trade prevention mode.")}


def f8(value: Decimal) -> str:
    """Binance prints amounts with eight decimals."""
    return f"{value:.8f}"


class Refused(OrderRejected):
    """A refusal whose answer carries ``data`` besides its code and msg: cancelReplace's -2021 and -2022
    (rest-api.md "Cancel an Existing Order and Send a New Order")."""

    def __init__(self, message: str, *, code: int, status: int, data: dict[str, Any]) -> None:
        super().__init__(message, code=code, status=status)
        self.data = data


def error_body(exc: LotusXError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and Binance ``{"code", "msg"[, "data"]}`` body of an engine or admission error."""
    if isinstance(exc, DuplicateClientOrderId | InsufficientBalance):
        code, msg = -2010, ("Duplicate order sent." if isinstance(exc, DuplicateClientOrderId)
                            else "Account has insufficient balance for requested action.")
    elif isinstance(exc, NotFound):
        code, msg = -2013, "Order does not exist."
    elif isinstance(exc, OrderRejected) and exc.code is None:
        code, msg = (-1013 if exc.message.startswith("Filter failure") else -2010), exc.message
    elif isinstance(exc, InvalidRequest) and not isinstance(exc.code, int):
        code, msg = ENUM_ERRORS.get(str(exc.code), (-1102, exc.message))
    else:
        code, msg = int(exc.code or -1000), exc.message
    data = {"data": exc.data} if isinstance(exc, Refused) else {}
    return exc.status or 400, {"code": code, "msg": msg, **data}


def error(exc: LotusXError, headers: dict[str, str] | None = None) -> web.Response:
    """The Binance ``{"code", "msg"}`` answer of an engine or admission error."""
    status, body = error_body(exc)
    return answer(body, status, headers)


def symbol_of(params: Any) -> str:
    """The ``symbol`` parameter, checked against the documented character set."""
    symbol = required(params, "symbol")
    if not SYMBOL.match(symbol):
        raise InvalidRequest(illegal("symbol", SYMBOL.pattern), code=-1100)
    return symbol


def required(params: Any, name: str) -> str:
    """A mandatory parameter or -1102."""
    value = params.get(name)
    if not value:
        raise InvalidRequest(mandatory(name), code=-1102)
    return str(value)


def order_params(params: Mapping[str, str], type_: str) -> None:
    """The parameters ``type_`` needs are there (-1102) and those it refuses are not (-1106)."""
    for name in MANDATORY.get(type_, ()):
        required(params, name)
    for name in NOT_REQUIRED.get(type_, ()):
        if name in params:
            raise InvalidRequest(f"Parameter '{name}' sent when not required.", code=-1106)
    if type_ == "MARKET":
        if "quantity" in params and "quoteOrderQty" in params:
            raise InvalidRequest("Parameter 'quantity' sent when not required.", code=-1106)
        if not params.get("quantity") and not params.get("quoteOrderQty"):
            raise InvalidRequest("Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
                                 code=-1102)


def illegal(name: str, legal: str) -> str:
    """The -1100 message."""
    return f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."


def decimal(params: dict[str, str], name: str) -> Decimal | None:
    """An optional decimal parameter; malformed numbers are -1100."""
    if name not in params:
        return None
    if not NUMBER.match(params[name]):
        raise InvalidRequest(illegal(name, NUMBER.pattern), code=-1100)
    try:
        return Decimal(params[name])
    except InvalidOperation:  # pragma: no cover - NUMBER already admits only valid decimals
        raise InvalidRequest(illegal(name, NUMBER.pattern), code=-1100) from None


def bounded(params: Mapping[str, str], name: str, default: T, low: int, high: int) -> int | T:
    """An optional integer parameter within ``[low, high]`` (``default`` when absent); otherwise -1100."""
    if name not in params:
        return default
    text = params[name]
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidRequest(illegal(name, f"{low}-{high}"), code=-1100)
    return int(text)


def order_ref(params: dict[str, str]) -> tuple[int | None, str | None]:
    """(orderId, origClientOrderId); one of them is mandatory."""
    if "orderId" in params:
        if not params["orderId"].isdigit():
            raise InvalidRequest(illegal("orderId", "^[0-9]{1,20}$"), code=-1100)
        return int(params["orderId"]), None
    if "origClientOrderId" in params:
        return None, params["origClientOrderId"]
    raise InvalidRequest("Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
                         code=-1102)


def trade_json(fill: Fill) -> dict[str, Any]:
    """One entry of GET /api/v3/trades."""
    return {"id": fill.trade_id, "price": f8(fill.price), "qty": f8(fill.qty), "quoteQty": f8(fill.price * fill.qty),
            "time": fill.time_ms, "isBuyerMaker": fill.maker.side == "BUY", "isBestMatch": True}


def order_json(order: Order, resp_type: str) -> dict[str, Any]:
    """The POST /api/v3/order answer in the ACK, RESULT or FULL shape."""
    body: dict[str, Any] = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
                            "clientOrderId": order.client_id, "transactTime": order.time_ms}
    if resp_type == "ACK":
        return body
    body |= {"price": f8(order.price or Decimal(0)), "origQty": f8(order.quantity),
             "executedQty": f8(order.filled), "origQuoteOrderQty": f8(order.quote_qty or Decimal(0)),
             "cummulativeQuoteQty": f8(order.quote_filled), "status": order.status, "timeInForce": order.tif,
             "type": order.type, "side": order.side, "workingTime": order.time_ms,
             "selfTradePreventionMode": order.stp or "NONE"}
    if resp_type == "FULL":
        body["fills"] = [{"price": f8(f.price), "qty": f8(f.qty), "commission": "0.00000000",
                          "commissionAsset": order.market.base if order.side == "BUY" else order.market.quote,
                          "tradeId": f.trade_id} for f in order.fills if f.taker is order]
    return body


def query_json(order: Order) -> dict[str, Any]:
    """The GET /api/v3/order (and openOrders entry) shape."""
    body = order_json(order, "RESULT")
    del body["transactTime"]
    return body | {"stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": order.time_ms,
                   "updateTime": order.update_ms, "isWorking": order.status in ("NEW", "PARTIALLY_FILLED")}

"""Binance spot endpoints, weights and limit pools.

Facts from the official binance-spot-api-docs (rest-api.md "LIMITS", each endpoint's
"Weight"; https://developers.binance.com/docs/binance-spot-api-docs/rest-api).
"""

from __future__ import annotations

from lotusx.kernel.message import Endpoint, Idempotency
from lotusx.layers.limiter import Pool
from lotusx.layers.ratelimit import UsedHeader

W = "REQUEST_WEIGHT"
ORDERS = "ORDERS"
RAW = "RAW_REQUESTS"
SAPI = "SAPI_UID_WEIGHT"
WS_CONNECTIONS = "WS_CONNECTIONS"
WS_API_CONNECTIONS = "WS_API_CONNECTIONS"

# GET /api/v3/exchangeInfo rateLimits: REQUEST_WEIGHT 6000/min, ORDERS 100/10 s and 200000/day,
# RAW_REQUESTS 61000/5 min. SAPI (wallet) endpoints count per UID: 180000/min. Weights count per IP
# ("The limits on the API are based on the IPs, not the API keys"), orders per account ("The number of
# unfilled orders is tracked for each account"), rest-api.md "LIMITS", "IP Limits" and "Unfilled Order Count".
LIMITS = (
    Pool(W, 6000, 60), Pool(ORDERS, 100, 10, per_account=True), Pool(ORDERS, 200_000, 86_400, per_account=True),
    Pool(RAW, 61_000, 300),
    Pool(SAPI, 180_000, 60),
    # "300 connections per attempt every 5 minutes per IP", for the streams (web-socket-streams.md
    # "WebSocket Limits") and for the WebSocket API (web-socket-api.md "Connection limits"), each its
    # own host. The docs do not say how the 5 minutes are counted: halved, safe for a rolling window.
    Pool(WS_CONNECTIONS, 150, 300), Pool(WS_API_CONNECTIONS, 150, 300),
)
USAGE = (UsedHeader(prefix="X-MBX-USED-WEIGHT-", pool=W), UsedHeader(prefix="X-MBX-ORDER-COUNT-", pool=ORDERS))


def _ep(name: str, method: str, path: str, weight: int, *, signed: bool = False, orders: int = 0,
        idempotency: Idempotency = Idempotency.SAFE, pool: str = W, answer_codes: tuple[int, ...] = ()) -> Endpoint:
    costs = {pool: weight, RAW: 1} if pool == W else {pool: weight}
    if orders:
        costs[ORDERS] = orders
    return Endpoint(name, method, path, costs=costs, signed=signed, idempotency=idempotency,
                    answer_codes=answer_codes)


TIME = _ep("time", "GET", "/api/v3/time", 1)
# rest-api.md "Exchange information": weight 20 whatever the parameters (symbol=, symbols=, none).
EXCHANGE_INFO = _ep("exchange_info", "GET", "/api/v3/exchangeInfo", 20)
TRADES = _ep("trades", "GET", "/api/v3/trades", 25)
# rest-api.md "Old trade lookup": weight 25, limit max 1000, from a trade id; security type NONE (no API key
# since CHANGELOG.md's "Changed security type from MARKET_DATA to NONE").
HISTORICAL_TRADES = _ep("historical_trades", "GET", "/api/v3/historicalTrades", 25)
BOOK_TICKER = _ep("book_ticker", "GET", "/api/v3/ticker/bookTicker", 2)
PLACE_ORDER = _ep("place_order", "POST", "/api/v3/order", 1, signed=True, orders=1,
                  idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
CANCEL_ORDER = _ep("cancel_order", "DELETE", "/api/v3/order", 1, signed=True)
# rest-api.md "Order Amend Keep Priority": weight 4, Unfilled Order Count 0 (faqs/order_amend_keep_priority.md:
# "charge 0 for unfilled order count"). SAFE: newQty is absolute, so a re-send after a lost answer lowers
# nothing further; it meets -2038 "quantity increase" (newQty not below the quantity the first attempt set),
# which the connector reads back as done (Binance.amend_order).
AMEND_KEEP_PRIORITY = _ep("amend_keep_priority", "PUT", "/api/v3/order/amend/keepPriority", 4, signed=True)
# rest-api.md "Cancel an Existing Order and Send a New Order": weight 1, Unfilled Order Count 1. Not SAFE:
# a blind re-send meets -2022 (the old order is gone) while the first attempt's new order may rest. Its
# new order carries a fresh newClientOrderId, so an ambiguous outcome is looked up by it, as a placement is,
# and never sent again (Binance's reconcile never answers "absent").
CANCEL_REPLACE = _ep("cancel_replace", "POST", "/api/v3/order/cancelReplace", 1, signed=True, orders=1,
                     idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
# rest-api.md "Cancel All Open Orders on a Symbol": weight 1, no unfilled order count. SAFE: a second
# call cancels what is open then, nothing the first did is undone or done twice.
# -2011 "Unknown order sent.": nothing open, which the connector reads as nothing to do.
CANCEL_ALL = _ep("cancel_all", "DELETE", "/api/v3/openOrders", 1, signed=True, answer_codes=(-2011,))
GET_ORDER = _ep("get_order", "GET", "/api/v3/order", 4, signed=True)
OPEN_ORDERS = _ep("open_orders", "GET", "/api/v3/openOrders", 6, signed=True)
ALL_OPEN_ORDERS = _ep("open_orders_all", "GET", "/api/v3/openOrders", 80, signed=True)
ALL_ORDERS = _ep("all_orders", "GET", "/api/v3/allOrders", 20, signed=True)  # one symbol, any state
MY_TRADES = _ep("my_trades", "GET", "/api/v3/myTrades", 20, signed=True)  # one symbol's own fills, no orderId
ACCOUNT = _ep("account", "GET", "/api/v3/account", 20, signed=True)
# rest-api.md "Query Commission Rates (USER_DATA)": weight 20.
COMMISSION = _ep("commission", "GET", "/api/v3/account/commission", 20, signed=True)
WITHDRAW = _ep("withdraw", "POST", "/sapi/v1/capital/withdraw/apply", 900, signed=True,
               idempotency=Idempotency.UNSAFE, pool=SAPI)
WITHDRAW_HISTORY = _ep("withdraw_history", "GET", "/sapi/v1/capital/withdraw/history", 18_000, signed=True,
                       pool=SAPI)

# GET /api/v3/depth weight by limit: 1-100 -> 5, 101-500 -> 25, 501-1000 -> 50, 1001-5000 -> 250.
_DEPTH = {5: _ep("depth", "GET", "/api/v3/depth", 5), 25: _ep("depth", "GET", "/api/v3/depth", 25),
          50: _ep("depth", "GET", "/api/v3/depth", 50), 250: _ep("depth", "GET", "/api/v3/depth", 250)}


def depth(limit: int) -> Endpoint:
    """The depth endpoint with the weight its ``limit`` costs."""
    weight = 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    return _DEPTH[weight]


# Not HTTP requests: what each WebSocket connection attempt charges, before it is made (lotusx.ws.outbound.admission).
WS_CONNECT = Endpoint("ws_connect", "CONNECT", "/stream", costs={WS_CONNECTIONS: 1})
# web-socket-api.md "IP limits": "Connecting to WebSocket API costs 2 weight" (the IP's REQUEST_WEIGHT).
WS_API_CONNECT = Endpoint("ws_api_connect", "CONNECT", "/ws-api/v3", costs={WS_API_CONNECTIONS: 1, W: 2})
# A ws_trading connection that logs on (Ed25519 keys): its session.logon's "Weight: 2" too (web-socket-api.md
# "Log in with API key (SIGNED)"), charged with the attempt, before it is made.
WS_API_CONNECT_LOGON = Endpoint("ws_api_connect_logon", "CONNECT", "/ws-api/v3", costs={WS_API_CONNECTIONS: 1, W: 4})

# The venue's endpoint table (Venue.endpoints): every endpoint above, depth at each of its weights.
ENDPOINTS = (TIME, EXCHANGE_INFO, TRADES, HISTORICAL_TRADES, BOOK_TICKER, PLACE_ORDER, CANCEL_ORDER,
             AMEND_KEEP_PRIORITY, CANCEL_REPLACE, CANCEL_ALL, GET_ORDER, OPEN_ORDERS, ALL_OPEN_ORDERS, ALL_ORDERS,
             MY_TRADES, ACCOUNT, COMMISSION, WITHDRAW, WITHDRAW_HISTORY, *_DEPTH.values(), WS_CONNECT, WS_API_CONNECT,
             WS_API_CONNECT_LOGON)

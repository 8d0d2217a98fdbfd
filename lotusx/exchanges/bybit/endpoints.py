"""Bybit v5 endpoints and limit pools, per category (spot, linear).

Facts from https://bybit-exchange.github.io/docs/v5/rate-limit:

- HTTP IP limit: 600 requests per 5 s per IP; breaching it answers HTTP 403 "access too
  frequent" and the IP must stay away for at least 10 minutes.
- API limits are per UID *per endpoint*, counted in a rolling one-second window
  (UTA 2.0 Pro table): ``/v5/order/create`` and ``/v5/order/cancel`` 20/s spot, 10/s linear (each
  category its own budget), ``/v5/order/cancel-all`` likewise; ``/v5/order/realtime``,
  ``/v5/order/history``, ``/v5/execution/list``, ``/v5/position/list`` and ``/v5/account/wallet-balance``
  50/s;
  ``/v5/asset/withdraw/create`` 5/s, ``/v5/asset/withdraw/query-record`` 300/min; ``/v5/order/create-batch``,
  ``cancel-batch`` and ``amend-batch`` 20/s
  spot, 10/s linear, counted per order in the batch (each its own limit, "Instructions for batch endpoints").
- Every private answer carries ``X-Bapi-Limit-Status`` (remaining), ``X-Bapi-Limit`` and
  ``X-Bapi-Limit-Reset-Timestamp`` for *that endpoint's* limit.

Our limiter counts fixed windows; a rolling limit of ``L`` per ``W`` is enforced safely by
``L // 2`` per ``W`` (see ``lotusx.layers.limiter``). Each per-endpoint pool is named like the
endpoint that charges it, so the usage headers can be read into the right pool.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Endpoint, Idempotency
from lotusx.layers.limiter import Pool
from lotusx.layers.ratelimit import ENDPOINT_POOL, RemainingHeader

IP = "IP"
CATEGORIES = ("spot", "linear")


def _ep(name: str, method: str, path: str, *, signed: bool = False, own_pool: bool = False,
        idempotency: Idempotency = Idempotency.SAFE) -> Endpoint:
    costs = {IP: 1, name: 1} if own_pool else {IP: 1}
    return Endpoint(name, method, path, costs=costs, signed=signed, idempotency=idempotency)


TIME = _ep("time", "GET", "/v5/market/time")
ORDERBOOK = _ep("orderbook", "GET", "/v5/market/orderbook")
TICKERS = _ep("tickers", "GET", "/v5/market/tickers")
RECENT_TRADE = _ep("recent_trade", "GET", "/v5/market/recent-trade")
INSTRUMENTS_INFO = _ep("instruments_info", "GET", "/v5/market/instruments-info")  # docs/v5/market/instrument
ORDER_CREATE = _ep("order_create", "POST", "/v5/order/create", signed=True, own_pool=True,
                   idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
ORDER_CANCEL = _ep("order_cancel", "POST", "/v5/order/cancel", signed=True, own_pool=True)
# docs/v5/rate-limit "API Rate Limit Table": /v5/order/cancel-all 20/s spot, 10/s linear, its own limit
# per endpoint. SAFE: a second call cancels what is open then, nothing the first did is undone or done twice.
ORDER_CANCEL_ALL = _ep("order_cancel_all", "POST", "/v5/order/cancel-all", signed=True, own_pool=True)
# Futures and spot have limits of their own (docs/v5/rate-limit, rules-for-pros: "Futures 10/s, Spot 20/s"),
# so linear's create and cancel charge pools of their own. Connectors of both categories share one
# limiter key (the IP pool): in shared pools a spot burst would hold back a linear hedge, and a spot
# answer's X-Bapi-Limit-Status be read into the linear count.
LINEAR_ORDER_CREATE = _ep("linear_order_create", "POST", "/v5/order/create", signed=True, own_pool=True,
                          idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
LINEAR_ORDER_CANCEL = _ep("linear_order_cancel", "POST", "/v5/order/cancel", signed=True, own_pool=True)
# docs/v5/rate-limit/rate-limit.mdx "API Rate Limit Table": /v5/order/amend 10/s on spot and on linear, its
# own limit per endpoint. SAFE: qty and price are absolute (qty the order's whole size, fills included,
# docs/v5/order/amend-order.mdx), so a re-send after a lost answer sets what the first set, even after a
# fill in between; the venue then refuses it or changes nothing, and the connector reads the order back.
ORDER_AMEND = _ep("order_amend", "POST", "/v5/order/amend", signed=True, own_pool=True)
LINEAR_ORDER_AMEND = _ep("linear_order_amend", "POST", "/v5/order/amend", signed=True, own_pool=True)
LINEAR_ORDER_CANCEL_ALL = _ep("linear_order_cancel_all", "POST", "/v5/order/cancel-all", signed=True,
                              own_pool=True)
PLACEMENTS = frozenset({ORDER_CREATE.name, LINEAR_ORDER_CREATE.name})
# docs/v5/order/batch-place.mdx: "A maximum of 20 orders (option), 20 orders (inverse), 20 orders (linear),
# 10 orders (spot) can be placed per request"; docs/v5/rate-limit/rate-limit.mdx "Instructions for batch
# endpoints": its own limit, not shared with /v5/order/create, "consumed according to the actual number of
# orders" (spot 20/s, linear 10/s in the table). So each batch request charges its pool one unit per order
# (the connector sets the cost per request). UNSAFE, not SAFE_WITH_CLIENT_ID: Retry's reconcile answers for
# one order, and a batch's lost answer is looked up order by order in the connector (Bybit.place_orders).
ORDER_CREATE_BATCH = _ep("order_create_batch", "POST", "/v5/order/create-batch", signed=True, own_pool=True,
                         idempotency=Idempotency.UNSAFE)
LINEAR_ORDER_CREATE_BATCH = _ep("linear_order_create_batch", "POST", "/v5/order/create-batch", signed=True,
                                own_pool=True, idempotency=Idempotency.UNSAFE)
# docs/v5/order/batch-cancel.mdx and batch-amend.mdx: at most 20 orders (linear), 10 (spot) a request, as
# create-batch; docs/v5/rate-limit/rate-limit.mdx: /v5/order/cancel-batch and /v5/order/amend-batch 20/s spot,
# 10/s linear, each its own limit, charged per order ("Instructions for batch endpoints": "batch create/amend/
# cancel"). UNSAFE like create-batch: a lost answer is looked up order by order (Bybit.cancel_orders, amend_orders).
ORDER_CANCEL_BATCH = _ep("order_cancel_batch", "POST", "/v5/order/cancel-batch", signed=True, own_pool=True,
                         idempotency=Idempotency.UNSAFE)
LINEAR_ORDER_CANCEL_BATCH = _ep("linear_order_cancel_batch", "POST", "/v5/order/cancel-batch", signed=True,
                                own_pool=True, idempotency=Idempotency.UNSAFE)
ORDER_AMEND_BATCH = _ep("order_amend_batch", "POST", "/v5/order/amend-batch", signed=True, own_pool=True,
                        idempotency=Idempotency.UNSAFE)
LINEAR_ORDER_AMEND_BATCH = _ep("linear_order_amend_batch", "POST", "/v5/order/amend-batch", signed=True,
                               own_pool=True, idempotency=Idempotency.UNSAFE)
# Writes whose documented 11xxxx/17xxxx refusals are the order's own rules (OrderRejected) and whose
# undocumented codes may have acted (ServerError): placements (one or a batch), and amends (absolute
# values, so a re-send is harmless).
ORDER_WRITES = PLACEMENTS | {ORDER_AMEND.name, LINEAR_ORDER_AMEND.name, ORDER_CREATE_BATCH.name,
                             LINEAR_ORDER_CREATE_BATCH.name, ORDER_AMEND_BATCH.name, LINEAR_ORDER_AMEND_BATCH.name}
ORDER_REALTIME = _ep("order_realtime", "GET", "/v5/order/realtime", signed=True, own_pool=True)
ORDER_HISTORY = _ep("order_history", "GET", "/v5/order/history", signed=True, own_pool=True)
EXECUTION_LIST = _ep("execution_list", "GET", "/v5/execution/list", signed=True, own_pool=True)  # 50/s as history
POSITION_LIST = _ep("position_list", "GET", "/v5/position/list", signed=True, own_pool=True)  # 50/s
WALLET_BALANCE = _ep("wallet_balance", "GET", "/v5/account/wallet-balance", signed=True, own_pool=True)
# docs/v5/rate-limit/rate-limit.mdx "API Rate Limit Table": /v5/account/fee-rate 5/s per UID.
FEE_RATE = _ep("fee_rate", "GET", "/v5/account/fee-rate", signed=True, own_pool=True)
WITHDRAW = _ep("withdraw_create", "POST", "/v5/asset/withdraw/create", signed=True, own_pool=True,
               idempotency=Idempotency.UNSAFE)
# docs/v5/rate-limit/rate-limit.mdx "Asset": GET /v5/asset/withdraw/query-record 300 req/min, its own limit per UID.
WITHDRAW_RECORD = _ep("withdraw_record", "GET", "/v5/asset/withdraw/query-record", signed=True, own_pool=True)
# Disconnection Protection (docs/v5/order/dcp.mdx, docs/v5/account/dcp-info.mdx). docs/v5/rate-limit/rate-limit.mdx
# "API Rate Limit Table": /v5/order/disconnected-cancel-all 5/s and /v5/account/query-dcp-info 5/s, each its own
# limit per UID. SAFE: the window is absolute, so a re-send after a lost answer sets what the first set.
DCP_SET = _ep("dcp_set", "POST", "/v5/order/disconnected-cancel-all", signed=True, own_pool=True)
DCP_INFO = _ep("dcp_info", "GET", "/v5/account/query-dcp-info", signed=True, own_pool=True)

# Not an HTTP request: what each WebSocket connection attempt, public or private, charges before it
# is made (lotusx.ws.outbound.admission). docs/v5/ws/connect "IP Limits": "Do not build over 500
# connections in 5 minutes. This is counted per WebSocket domain" (stream.bybit.com serves every
# category and the private stream, so one pool; connectors of both categories share its storage key).
WS_CONNECTIONS = "WS_CONNECTIONS"
WS_CONNECT = Endpoint("ws_connect", "CONNECT", "/v5", costs={WS_CONNECTIONS: 1})

# Rolling limits halved for fixed windows (module docstring). The IP window's kind is not
# documented, so it is halved too: a breach costs a ten-minute ban. Nor is how the 5 minutes of
# WebSocket connections are counted: 500 halved, safe for a rolling window.
_SHARED = (Pool(IP, 300, 5), Pool(ORDER_REALTIME.name, 25, 1), Pool(ORDER_HISTORY.name, 25, 1),
           Pool(EXECUTION_LIST.name, 25, 1), Pool(POSITION_LIST.name, 25, 1),
           Pool(WALLET_BALANCE.name, 25, 1), Pool(WITHDRAW.name, 2, 1), Pool(WITHDRAW_RECORD.name, 150, 60),
           Pool(FEE_RATE.name, 2, 1),
           Pool(WS_CONNECTIONS, 250, 300), Pool(DCP_SET.name, 2, 1), Pool(DCP_INFO.name, 2, 1))


def _per_uid(pools: tuple[Pool, ...]) -> tuple[Pool, ...]:
    """``pools``, each endpoint's counted per account: "The API rate limit is based on the rolling time window per
    second and UID" (docs/v5/rate-limit/rate-limit.mdx "API Rate Limit"); the IP's and the connections' per IP."""
    return tuple(pool if pool.name in (IP, WS_CONNECTIONS) else dataclasses.replace(pool, per_account=True)
                 for pool in pools)


LIMITS = {
    "spot": _per_uid((*_SHARED, Pool(ORDER_CREATE.name, 10, 1), Pool(ORDER_CANCEL.name, 10, 1),
                      Pool(ORDER_CANCEL_ALL.name, 10, 1), Pool(ORDER_AMEND.name, 5, 1),
                      Pool(ORDER_CREATE_BATCH.name, 10, 1), Pool(ORDER_CANCEL_BATCH.name, 10, 1),
                      Pool(ORDER_AMEND_BATCH.name, 10, 1))),
    "linear": _per_uid((*_SHARED, Pool(LINEAR_ORDER_CREATE.name, 5, 1), Pool(LINEAR_ORDER_CANCEL.name, 5, 1),
                        Pool(LINEAR_ORDER_CANCEL_ALL.name, 5, 1), Pool(LINEAR_ORDER_AMEND.name, 5, 1),
                        Pool(LINEAR_ORDER_CREATE_BATCH.name, 5, 1), Pool(LINEAR_ORDER_CANCEL_BATCH.name, 5, 1),
                        Pool(LINEAR_ORDER_AMEND_BATCH.name, 5, 1))),
}
# The venue's endpoint table (Venue.endpoints), per category as LIMITS: what every category sends, and each
# category's own trade endpoints (its Category's).
_SHARED_ENDPOINTS = (TIME, ORDERBOOK, TICKERS, RECENT_TRADE, INSTRUMENTS_INFO, ORDER_REALTIME, ORDER_HISTORY,
                     EXECUTION_LIST, POSITION_LIST, WALLET_BALANCE, FEE_RATE, WITHDRAW, WITHDRAW_RECORD, DCP_SET,
                     DCP_INFO, WS_CONNECT)
ENDPOINTS = {
    "spot": (*_SHARED_ENDPOINTS, ORDER_CREATE, ORDER_CANCEL, ORDER_CANCEL_ALL, ORDER_AMEND, ORDER_CREATE_BATCH,
             ORDER_CANCEL_BATCH, ORDER_AMEND_BATCH),
    "linear": (*_SHARED_ENDPOINTS, LINEAR_ORDER_CREATE, LINEAR_ORDER_CANCEL, LINEAR_ORDER_CANCEL_ALL,
               LINEAR_ORDER_AMEND, LINEAR_ORDER_CREATE_BATCH, LINEAR_ORDER_CANCEL_BATCH, LINEAR_ORDER_AMEND_BATCH),
}
USAGE = (RemainingHeader(remaining="X-Bapi-Limit-Status", limit="X-Bapi-Limit",
                         reset_ms="X-Bapi-Limit-Reset-Timestamp", pool=ENDPOINT_POOL),)


@dataclass(frozen=True)
class Category:
    """What differs between Bybit categories: the ``category`` parameter, the public WS path, the trade pools."""

    name: str
    public_path: str
    max_args: int | None  # topics per (un)subscribe request on the public stream
    order_create: Endpoint
    order_cancel: Endpoint
    order_cancel_all: Endpoint
    order_amend: Endpoint
    order_create_batch: Endpoint
    order_cancel_batch: Endpoint
    order_amend_batch: Endpoint
    # Orders per create-, cancel- or amend-batch request: the docs' most per request (spot 10, linear 20), and
    # no more than a batch pool's default window holds (a request costs a unit per order: spot 10, linear 5).
    batch_size: int

    def __post_init__(self) -> None:
        if self.name not in CATEGORIES:
            raise ConfigError(f"unsupported Bybit category {self.name!r}")


# docs/v5/ws/connect "Public channel - Args limits": "Spot can input up to 10 args for each
# subscription request", "No args limit for Futures": a cap per request, not per connection (that
# one is the 21,000 characters of args every public connection has, lotusx.exchanges.bybit.streams).
SPOT = Category("spot", "/v5/public/spot", max_args=10, order_create=ORDER_CREATE, order_cancel=ORDER_CANCEL,
                order_cancel_all=ORDER_CANCEL_ALL, order_amend=ORDER_AMEND, order_create_batch=ORDER_CREATE_BATCH,
                order_cancel_batch=ORDER_CANCEL_BATCH, order_amend_batch=ORDER_AMEND_BATCH, batch_size=10)
LINEAR = Category("linear", "/v5/public/linear", max_args=None, order_create=LINEAR_ORDER_CREATE,
                  order_cancel=LINEAR_ORDER_CANCEL, order_cancel_all=LINEAR_ORDER_CANCEL_ALL,
                  order_amend=LINEAR_ORDER_AMEND, order_create_batch=LINEAR_ORDER_CREATE_BATCH,
                  order_cancel_batch=LINEAR_ORDER_CANCEL_BATCH, order_amend_batch=LINEAR_ORDER_AMEND_BATCH,
                  batch_size=5)
PRIVATE_PATH = "/v5/private"

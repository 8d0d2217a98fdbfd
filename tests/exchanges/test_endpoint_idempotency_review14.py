"""Every REST endpoint of both venues, pinned to the idempotency class Retry acts on.

The class decides what a retry may re-send (``lotusx.layers.retry``): a placement marked SAFE
would be sent again after a lost answer, a withdrawal marked anything but UNSAFE could pay out
twice. So each endpoint's class is written down here once more, checked against the venues'
docs, and a new endpoint that is not in this table fails until someone classifies it.

- Reads are SAFE (Binance rest-api.md, Bybit v5: GET changes nothing).
- Placements are SAFE_WITH_CLIENT_ID: Binance refuses a ``newClientOrderId`` already open
  ("Duplicate order sent.", -2010), Bybit an ``orderLinkId`` used before (110072 / spot 170141);
  Retry looks the order up by that id before any re-send.
- Cancels by id are SAFE: a second cancel changes nothing (the venue answers "unknown order",
  which ``cancel_once`` turns back into the cancelled order).
- Cancel-all of a symbol is SAFE: a second one cancels what is open then (Binance answers "unknown
  order" when nothing is, read as an empty result); it neither undoes nor repeats anything.
- Amends that set absolute values are SAFE: Bybit's /v5/order/amend (qty is the order's whole size,
  price a price: a second one sets them again) and Binance's keepPriority (newQty absolute; a re-send
  meets -2038, which amend_order reads back as done). Binance's cancelReplace is
  SAFE_WITH_CLIENT_ID: its new order carries a fresh newClientOrderId, looked up, never re-sent.
- Withdrawals are UNSAFE: no reconcile hook looks them up, so once possibly sent they are never
  sent again.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from lotusx.exchanges.binance import endpoints as binance
from lotusx.exchanges.bybit import endpoints as bybit
from lotusx.kernel.message import Endpoint, Idempotency, Request, idempotency_of

SAFE, KEYED, UNSAFE = Idempotency.SAFE, Idempotency.SAFE_WITH_CLIENT_ID, Idempotency.UNSAFE

BINANCE = {
    "time": ("GET", "/api/v3/time", SAFE),
    "exchange_info": ("GET", "/api/v3/exchangeInfo", SAFE),
    "trades": ("GET", "/api/v3/trades", SAFE),
    "historical_trades": ("GET", "/api/v3/historicalTrades", SAFE),
    "book_ticker": ("GET", "/api/v3/ticker/bookTicker", SAFE),
    "depth": ("GET", "/api/v3/depth", SAFE),
    "place_order": ("POST", "/api/v3/order", KEYED),
    "cancel_order": ("DELETE", "/api/v3/order", SAFE),
    "cancel_all": ("DELETE", "/api/v3/openOrders", SAFE),
    "amend_keep_priority": ("PUT", "/api/v3/order/amend/keepPriority", SAFE),
    "cancel_replace": ("POST", "/api/v3/order/cancelReplace", KEYED),
    "get_order": ("GET", "/api/v3/order", SAFE),
    "open_orders": ("GET", "/api/v3/openOrders", SAFE),
    "open_orders_all": ("GET", "/api/v3/openOrders", SAFE),
    "all_orders": ("GET", "/api/v3/allOrders", SAFE),
    "my_trades": ("GET", "/api/v3/myTrades", SAFE),
    "account": ("GET", "/api/v3/account", SAFE),
    "commission": ("GET", "/api/v3/account/commission", SAFE),
    "withdraw": ("POST", "/sapi/v1/capital/withdraw/apply", UNSAFE),
    "withdraw_history": ("GET", "/sapi/v1/capital/withdraw/history", SAFE),
    # Not HTTP: what a WebSocket connection attempt charges (RateLimit only; no Retry ever sees it).
    "ws_connect": ("CONNECT", "/stream", UNSAFE),
    "ws_api_connect": ("CONNECT", "/ws-api/v3", UNSAFE),
    "ws_api_connect_logon": ("CONNECT", "/ws-api/v3", UNSAFE),
}
BYBIT = {
    "time": ("GET", "/v5/market/time", SAFE),
    "orderbook": ("GET", "/v5/market/orderbook", SAFE),
    "tickers": ("GET", "/v5/market/tickers", SAFE),
    "recent_trade": ("GET", "/v5/market/recent-trade", SAFE),
    "instruments_info": ("GET", "/v5/market/instruments-info", SAFE),
    "order_create": ("POST", "/v5/order/create", KEYED),
    "linear_order_create": ("POST", "/v5/order/create", KEYED),
    "order_cancel": ("POST", "/v5/order/cancel", SAFE),
    "linear_order_cancel": ("POST", "/v5/order/cancel", SAFE),
    "order_cancel_all": ("POST", "/v5/order/cancel-all", SAFE),
    "linear_order_cancel_all": ("POST", "/v5/order/cancel-all", SAFE),
    "order_amend": ("POST", "/v5/order/amend", SAFE),
    "linear_order_amend": ("POST", "/v5/order/amend", SAFE),
    # A batch's lost answer is looked up order by order in the connector; Retry re-sends only what never left.
    "order_create_batch": ("POST", "/v5/order/create-batch", UNSAFE),
    "linear_order_create_batch": ("POST", "/v5/order/create-batch", UNSAFE),
    "order_cancel_batch": ("POST", "/v5/order/cancel-batch", UNSAFE),
    "linear_order_cancel_batch": ("POST", "/v5/order/cancel-batch", UNSAFE),
    "order_amend_batch": ("POST", "/v5/order/amend-batch", UNSAFE),
    "linear_order_amend_batch": ("POST", "/v5/order/amend-batch", UNSAFE),
    "order_realtime": ("GET", "/v5/order/realtime", SAFE),
    "order_history": ("GET", "/v5/order/history", SAFE),
    "execution_list": ("GET", "/v5/execution/list", SAFE),
    "position_list": ("GET", "/v5/position/list", SAFE),
    "wallet_balance": ("GET", "/v5/account/wallet-balance", SAFE),
    "fee_rate": ("GET", "/v5/account/fee-rate", SAFE),
    "withdraw_create": ("POST", "/v5/asset/withdraw/create", UNSAFE),
    "withdraw_record": ("GET", "/v5/asset/withdraw/query-record", SAFE),
    # The DCP window is absolute (docs/v5/order/dcp.mdx timeWindow): a re-send sets what the first set.
    "dcp_set": ("POST", "/v5/order/disconnected-cancel-all", SAFE),
    "dcp_info": ("GET", "/v5/account/query-dcp-info", SAFE),
    # Not HTTP: what a WebSocket connection attempt charges (RateLimit only; no Retry ever sees it).
    "ws_connect": ("CONNECT", "/v5", UNSAFE),
}
TABLES = [(binance, BINANCE), (bybit, BYBIT)]
# Writes of an account setting to an absolute value: a re-send sets what the first set.
SETTINGS = frozenset({"dcp_set"})


def retry_class(endpoint: Endpoint) -> Idempotency:
    """The class Retry acts on for a call to ``endpoint`` (declared, else by its method)."""
    return idempotency_of(Request(method=endpoint.method, path=endpoint.path, endpoint=endpoint))


def declared(module: ModuleType) -> list[Endpoint]:
    """Every Endpoint a venue's endpoints module holds: module names, and those in tables and categories."""
    found: list[Endpoint] = []
    for value in vars(module).values():
        values = value.values() if isinstance(value, dict) else vars(value).values() if isinstance(
            value, bybit.Category) else [value]
        found += [v for v in values if isinstance(v, Endpoint)]
    return found


@pytest.mark.parametrize(("module", "table"), TABLES, ids=["binance", "bybit"])
def test_every_endpoint_is_in_the_table(module: ModuleType, table: dict[str, tuple[str, str, Idempotency]]) -> None:
    """An endpoint added to a venue without a row here fails: its retry class must be decided."""
    assert {endpoint.name for endpoint in declared(module)} == set(table)


@pytest.mark.parametrize(("module", "table"), TABLES, ids=["binance", "bybit"])
def test_every_endpoint_has_its_documented_idempotency_class(
        module: ModuleType, table: dict[str, tuple[str, str, Idempotency]]) -> None:
    """Method, path and retry class of each endpoint are the ones the venue's docs justify."""
    for endpoint in declared(module):
        assert (endpoint.method, endpoint.path, retry_class(endpoint)) == table[endpoint.name], endpoint.name


@pytest.mark.parametrize("module", [binance, bybit], ids=["binance", "bybit"])
def test_no_write_is_retried_freely_but_a_cancel(module: ModuleType) -> None:
    """A SAFE write is a cancel, an amend or a setting to absolute values: a placement or withdrawal never is."""
    for endpoint in declared(module):
        if endpoint.name in SETTINGS:
            continue
        if retry_class(endpoint) is SAFE and endpoint.method != "GET":
            assert ("cancel" in endpoint.name or "amend" in endpoint.name) and endpoint.path.endswith(
                ("/order", "/order/cancel", "/openOrders", "/order/cancel-all", "/order/amend",
                 "/order/amend/keepPriority")), endpoint.name


def test_every_bybit_placement_is_classified_as_one() -> None:
    """The classifier reads 11xxxx/17xxxx answers to every keyed endpoint as order rejections."""
    keyed = {endpoint.name for endpoint in declared(bybit) if endpoint.idempotency is KEYED}
    assert keyed == bybit.PLACEMENTS


def test_each_bybit_category_places_and_cancels_through_its_own_classified_endpoints() -> None:
    """Spot and linear both place with a keyed endpoint and cancel (one order, or all) with safe ones."""
    for category in (bybit.SPOT, bybit.LINEAR):
        assert category.order_create.idempotency is KEYED
        assert category.order_cancel.idempotency is SAFE
        assert category.order_cancel_all.idempotency is SAFE
        assert category.order_create_batch.idempotency is UNSAFE
        assert category.order_cancel_batch.idempotency is UNSAFE
        assert category.order_amend_batch.idempotency is UNSAFE

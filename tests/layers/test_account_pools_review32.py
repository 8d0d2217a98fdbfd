"""Limits the venue counts per account are shared by the limiters of that account only.

Binance counts orders per account, not per IP (rest-api.md "Unfilled Order Count": "The number of
unfilled orders is tracked for each account"); Bybit counts its API limits per UID and endpoint
(docs/v5/rate-limit/rate-limit.mdx). Several accounts trading from one IP share the IP's pools, and
each has its own order budget.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import RateLimited
from lotusx.kernel.message import Request, Response
from lotusx.layers import Limiter, Pool
from lotusx.models import NewOrder
from lotusx.testing import FakeClock, FakeTransport

NOW_MS = 1_700_000_003_000


def _binance(request: Request) -> Response:
    """Binance's clock, and every order placed as NEW."""
    if request.path == "/api/v3/time":
        return Response(status=200, body=orjson.dumps({"serverTime": NOW_MS}))
    query = dict(request.query)
    return Response(status=200, body=orjson.dumps(
        {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": query["newClientOrderId"], "price": "49990",
         "origQty": "0.01", "executedQty": "0", "status": "NEW", "timeInForce": "GTC", "type": "LIMIT",
         "side": "BUY", "transactTime": NOW_MS}))


def _order() -> NewOrder:
    return NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.01"),
                    price=Decimal("49990"))


async def _two_orders(first_key: str, second_key: str) -> float:
    """One order from a connector of ``first_key``, then one from another of ``second_key``, ORDERS 1 per 10 s:
    the clock's time (seconds) after both, on a fake clock that moves only when a connector waits."""
    clock = FakeClock(NOW_MS / 1000)
    options = {"transport": FakeTransport(_binance), "clock": clock, "rate_limits": {"ORDERS": [Pool("ORDERS", 1, 10)]}}
    async with lotusx.connect("binance", credentials=Credentials(first_key, "secret"), **options) as first, \
            lotusx.connect("binance", credentials=Credentials(second_key, "secret"), **options) as second:
        await first.place_order(_order())
        await second.place_order(_order())
    return clock.time()


async def test_two_binance_accounts_on_one_ip_each_get_their_own_order_budget() -> None:
    """Account A's orders use up A's ORDERS window, never B's: B places at once."""
    assert await _two_orders("key-of-account-a", "key-of-account-b") == NOW_MS / 1000  # nobody waited


async def test_one_binance_account_in_two_connectors_shares_its_order_budget() -> None:
    """The same account's second connector finds the ORDERS window its first one filled: it waits for the next."""
    assert await _two_orders("key-of-account-a", "key-of-account-a") >= 1_700_000_010  # the first window was over


async def test_limiters_of_two_accounts_share_the_ip_pools() -> None:
    """A pool not counted per account stays one budget for every account of the key."""
    clock = FakeClock(100.0)
    pools = [Pool("WEIGHT", 1, 10), Pool("ORDERS", 1, 10, per_account=True)]
    first = Limiter(pools, key="venue", account="a", clock=clock, max_wait=0.0)
    second = Limiter(pools, key="venue", account="b", clock=clock, max_wait=0.0)
    await first.acquire({"WEIGHT": 1, "ORDERS": 1})
    await second.acquire({"ORDERS": 1})
    with pytest.raises(RateLimited) as refused:
        await second.acquire({"WEIGHT": 1})
    assert refused.value.pool == "WEIGHT"


async def test_a_cool_off_of_one_accounts_order_pool_holds_that_account_only() -> None:
    """The venue's 429 on A's orders (Binance -1015) cools A's ORDERS, not B's."""
    clock = FakeClock(100.0)
    pools = [Pool("WEIGHT", 10, 10), Pool("ORDERS", 10, 10, per_account=True)]
    first = Limiter(pools, key="venue", account="a", clock=clock, max_wait=0.0)
    second = Limiter(pools, key="venue", account="b", clock=clock, max_wait=0.0)
    await first.cool_off(["ORDERS"], 5.0)
    await second.acquire({"ORDERS": 1})
    with pytest.raises(RateLimited):
        await first.acquire({"ORDERS": 1})


async def test_two_bybit_accounts_on_one_ip_each_get_their_own_endpoint_budget() -> None:
    """Bybit counts /v5/account/wallet-balance per UID: account B reads at once after A filled A's window."""
    from lotusx.exchanges.bybit.endpoints import WALLET_BALANCE

    def bybit(request: Request) -> Response:
        if request.path == "/v5/market/time":
            return Response(status=200, body=orjson.dumps(
                {"retCode": 0, "retMsg": "OK", "result": {"timeSecond": str(NOW_MS // 1000),
                                                          "timeNano": str(NOW_MS * 1_000_000)}, "time": NOW_MS}))
        return Response(status=200, body=orjson.dumps({"retCode": 0, "retMsg": "OK", "result": {}}))

    clock = FakeClock(NOW_MS / 1000 + 0.5)
    options = {"transport": FakeTransport(bybit), "clock": clock,
               "rate_limits": {WALLET_BALANCE.name: [Pool(WALLET_BALANCE.name, 1, 1)]}}
    async with lotusx.connect("bybit", credentials=Credentials("key-of-account-a", "secret-a"), **options) as a, \
            lotusx.connect("bybit", credentials=Credentials("key-of-account-b", "secret-b"), **options) as b:
        await a.rest.get(WALLET_BALANCE.path, {"accountType": "UNIFIED"}, endpoint=WALLET_BALANCE)
        await b.rest.get(WALLET_BALANCE.path, {"accountType": "UNIFIED"}, endpoint=WALLET_BALANCE)
    assert clock.time() == NOW_MS / 1000 + 0.5  # nobody waited for the next window


async def test_a_per_account_pool_is_found_by_its_budget() -> None:
    """``used(Pool("ORDERS", 100, 10))``, written without its scope, reads Binance's ORDERS window."""
    from lotusx.exchanges.binance import LIMITS

    limiter = Limiter(LIMITS, key="used-by-budget", account="a", clock=FakeClock(100.0))
    await limiter.acquire({"ORDERS": 1})
    assert await limiter.used(Pool("ORDERS", 100, 10)) == 1

"""A stack built from kernel pieces, no connector: RestClient, an endpoint table of my own, Sign, Retry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from lotusx import ConfigError, MapErrors, Request, Response, RestClient, Service, stack
from lotusx.kernel.client import pairs
from lotusx.kernel.message import Endpoint, Idempotency
from lotusx.layers import Limiter, Pool, RateLimit, Retry, RetryPolicy, Sign
from lotusx.signers import BinanceHmac
from lotusx.sim import serve
from lotusx.sim.venue import USER
from lotusx.testing import FakeClock, ScriptedService
from lotusx.transport import AiohttpRest

# My own table: what each call costs and how it may be retried.
DEPTH = Endpoint("depth", "GET", "/api/v3/depth", costs={"WEIGHT": 5})
PLACE = Endpoint("place", "POST", "/api/v3/order", costs={"WEIGHT": 1, "ORDERS": 1}, signed=True,
                 idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
GET_ORDER = Endpoint("get_order", "GET", "/api/v3/order", costs={"WEIGHT": 4}, signed=True)
POOLS = [Pool("WEIGHT", 1200, 60), Pool("ORDERS", 50, 10)]


class Placed(msgspec.Struct):
    orderId: int
    clientOrderId: str
    status: str


def lookup(signed: Service) -> Callable[[Request], Awaitable[Response | None]]:
    """My reconcile hook: the order by its client id, over the signed stack without Retry."""
    async def reconcile(placed: Request) -> Response | None:
        query = (("symbol", dict(placed.query)["symbol"]), ("origClientOrderId", placed.ext["client_order_id"]))
        return await signed(Request(method="GET", path=GET_ORDER.path, query=query, endpoint=GET_ORDER))

    return reconcile


def order(cid: str) -> Request:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
              "price": "45000", "newClientOrderId": cid}
    return Request(method="POST", path=PLACE.path, query=pairs(params), endpoint=PLACE, ext={"client_order_id": cid})


async def test_a_hand_built_stack_reads_and_places_against_the_simulator() -> None:
    """Unsigned depth and a signed order through Retry, RateLimit and Sign over aiohttp."""
    async with serve(venues=("binance",)) as sim:
        keys = sim.api_keys("binance")
        sign = Sign(BinanceHmac(keys.hmac_key, keys.hmac_secret))
        limit = RateLimit(Limiter(POOLS, key="review21-a"))
        async with RestClient(AiohttpRest(sim.rest_url("binance")),
                              stack(Retry(RetryPolicy(max_attempts=3)), limit, sign, MapErrors())) as client:
            book: dict[str, Any] = await client.get(DEPTH.path, {"symbol": "BTCUSDT", "limit": 5}, endpoint=DEPTH)
            placed = await client.call(order("review21-cid-1"), Placed)
    assert book["bids"] and placed.clientOrderId == "review21-cid-1" and placed.status == "NEW"


async def test_a_hand_built_stack_reconciles_an_order_whose_answer_was_lost() -> None:
    """The answer lost, Retry asks my hook and returns the order found: it is on the venue once."""
    async with serve(venues=("binance",)) as sim:
        keys = sim.api_keys("binance")
        transport = AiohttpRest(sim.rest_url("binance"))
        sign = Sign(BinanceHmac(keys.hmac_key, keys.hmac_secret))
        limit = RateLimit(Limiter(POOLS, key="review21-b"))
        signed = stack(limit, sign, MapErrors())(transport)
        layers = stack(Retry(RetryPolicy(max_attempts=3), reconcile=lookup(signed), clock=FakeClock()),
                       limit, sign, MapErrors())
        async with RestClient(transport, layers) as client:
            sim.chaos("binance").lose_answer_rate = 1.0
            placed = await client.call(order("review21-cid-2"), Placed)
        held = [o for o in sim.engine("binance").orders_of(USER, "BTCUSDT") if o.client_id == "review21-cid-2"]
    assert placed.clientOrderId == "review21-cid-2" and len(held) == 1


async def test_a_placement_without_a_client_id_in_ext_is_refused_before_sending() -> None:
    """A placement endpoint without ext['client_order_id']: ConfigError, nothing sent."""
    wire = ScriptedService([])
    request = order("cid-x").replace(ext={})
    with pytest.raises(ConfigError, match="client_order_id"):
        await Retry(clock=FakeClock())(wire)(request)
    assert wire.requests == []

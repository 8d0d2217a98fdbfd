"""Retry: a placement whose attempt a layer ended with an error outside the LotusXError tree."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

import lotusx
from lotusx import AmbiguousOrderState, Layer, Request, Response, Service, around
from lotusx.kernel.message import Endpoint, Idempotency
from lotusx.layers import Retry, RetryPolicy
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, FakeTransport, ScriptedService

ORDER = Endpoint("new_order", "POST", "/api/v3/order", signed=True, idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
PLACE = Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),), endpoint=ORDER,
                ext={"client_order_id": "cid-1"})


async def test_a_placement_a_layer_broke_is_ambiguous_with_its_client_id() -> None:
    """A builtin TimeoutError from a user's layer: AmbiguousOrderState carrying the id, never re-sent."""
    inner = ScriptedService([TimeoutError()])
    with pytest.raises(AmbiguousOrderState) as raised:
        await Retry(RetryPolicy(max_attempts=3), clock=FakeClock())(inner)(PLACE)
    assert raised.value.client_order_id == "cid-1" and isinstance(raised.value.__cause__, TimeoutError)
    assert len(inner.requests) == 1


async def test_a_placement_a_layer_broke_is_counted_as_ambiguous() -> None:
    """ambiguous_orders_total{cause="layer_error"} counts it."""
    metrics = Metrics()
    with pytest.raises(AmbiguousOrderState):
        await Retry(RetryPolicy(), clock=FakeClock(), metrics=metrics, exchange="x")(
            ScriptedService([KeyError("bug")]))(PLACE)
    assert metrics.ambiguous_orders.labels("x", "new_order", "layer_error")._value.get() == 1


async def test_a_read_a_layer_broke_still_raises_the_layers_error() -> None:
    """Outside placements a layer's own error propagates as raised."""
    read = Request(method="GET", path="/api/v3/depth")
    with pytest.raises(KeyError):
        await Retry(RetryPolicy(), clock=FakeClock())(ScriptedService([KeyError("bug")]))(read)


def per_endpoint_timeout(seconds: dict[str, float]) -> Layer:
    """A user's per-endpoint timeout written with asyncio.timeout, as the standard library invites."""
    async def middleware(request: Request, call_next: Service) -> Response:
        async with asyncio.timeout(seconds.get(request.endpoint.name)):
            return await call_next(request)

    return around(middleware)


async def venue_taking_orders_silently(request: Request) -> Response:
    """A fake Binance that takes an order and never answers."""
    if request.endpoint.name == "place_order":
        await asyncio.Event().wait()
    return Response(status=200, body=b'{"serverTime": 1700000000000}')


async def test_a_connector_order_cut_by_a_users_asyncio_timeout_keeps_its_client_id() -> None:
    """place_order through inner=[a user's asyncio.timeout]: AmbiguousOrderState naming the id sent."""
    creds = lotusx.Credentials(api_key="review21-key-0001", secret="review21-secret-0001")
    venue = FakeTransport(venue_taking_orders_silently)
    async with lotusx.connect("binance", credentials=creds, transport=venue, clock=FakeClock(),
                              inner=[per_endpoint_timeout({"place_order": 0.01})]) as ex:
        with pytest.raises(AmbiguousOrderState) as raised:
            await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                                 quantity=Decimal("0.01"), price=Decimal("45000")))
    sent = [dict(r.query)["newClientOrderId"] for r in venue.requests if r.endpoint.name == "place_order"]
    assert sent == [raised.value.client_order_id]

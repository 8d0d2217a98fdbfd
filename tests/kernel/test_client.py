"""RestClient: request building, typed decoding and error raising."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from lotusx import (
    ConfigError,
    Endpoint,
    InvalidRequest,
    IpBanned,
    MapErrors,
    RateLimited,
    Request,
    Response,
    RestClient,
    ServerError,
    param_value,
    stack,
)
from lotusx.testing import FakeTransport


class Ticker(msgspec.Struct):
    symbol: str
    price: Decimal


def echo(request: Request) -> Response:
    return Response(status=200, body=b'{"symbol":"BTCUSDT","price":"50000.10"}')


async def test_get_encodes_params_in_order_and_decodes_the_type() -> None:
    """get() sends ordered query params and returns the typed model."""
    transport = FakeTransport(echo)
    client = RestClient(transport)
    ticker = await client.get("/t", [("symbol", "BTCUSDT"), ("limit", 5), ("x", None)], type=Ticker)
    assert ticker == Ticker("BTCUSDT", Decimal("50000.10"))
    sent = transport.requests[0]
    assert (sent.method, sent.path, sent.query) == ("GET", "/t", (("symbol", "BTCUSDT"), ("limit", "5")))


async def test_post_json_body_keeps_decimals_exact() -> None:
    """post() sends a JSON body with Decimals as exact strings."""
    transport = FakeTransport(echo)
    await RestClient(transport).post("/o", {"qty": Decimal("0.00000001"), "px": Decimal("1E+3")})
    sent = transport.requests[0]
    assert sent.body == b'{"qty":"0.00000001","px":"1000"}'
    assert sent.header("content-type") == "application/json"


async def test_put_form_body_is_urlencoded() -> None:
    """put(form=...) sends a urlencoded body."""
    transport = FakeTransport(echo)
    await RestClient(transport).put("/o", form={"a": "x y", "b": True})
    sent = transport.requests[0]
    assert (sent.method, sent.body) == ("PUT", b"a=x%20y&b=true")
    assert sent.header("Content-Type") == "application/x-www-form-urlencoded"


async def test_delete_sends_query_and_endpoint() -> None:
    """delete() carries its endpoint metadata down the stack."""
    transport = FakeTransport(echo)
    endpoint = Endpoint("cancel", method="DELETE", signed=True)
    await RestClient(transport).delete("/o", {"orderId": 7}, endpoint=endpoint)
    assert transport.requests[0].endpoint is endpoint
    assert transport.requests[0].query == (("orderId", "7"),)


async def test_error_status_raises_typed_error_without_map_errors() -> None:
    """A 5xx that reached the façade is raised as ServerError, never decoded as data."""
    client = RestClient(FakeTransport(lambda r: Response(status=503, body=b"{}")))
    with pytest.raises(ServerError):
        await client.get("/t", type=Ticker)


async def test_map_errors_layer_raises_inside_the_stack() -> None:
    """MapErrors turns a 429 with Retry-After into RateLimited where outer layers see it."""
    seen: list[BaseException] = []

    async def watch(request: Request, call_next):  # type: ignore[no-untyped-def]
        try:
            return await call_next(request)
        except RateLimited as exc:
            seen.append(exc)
            raise

    from lotusx import around

    transport = FakeTransport(lambda r: Response(status=429, headers={"Retry-After": "7"}))
    client = RestClient(transport, stack(around(watch), MapErrors()))
    with pytest.raises(RateLimited) as info:
        await client.get("/t")
    assert seen == [info.value]
    assert info.value.retry_after == 7.0 and not isinstance(info.value, IpBanned)


def test_param_value_renders_exact_decimals() -> None:
    """Decimals are rendered without exponent or trailing zeros."""
    assert [param_value(Decimal(v)) for v in ("1E-8", "50000.00", "1E+2", "0.10")] == [
        "0.00000001", "50000", "100", "0.1"]


def test_param_value_refuses_floats() -> None:
    """Floats are refused with a ConfigError naming the Decimal to pass: money must be exact."""
    with pytest.raises(ConfigError, match=r"pass Decimal\('0.1'\)"):
        param_value(0.1)


async def test_client_closes_its_transport() -> None:
    """async with RestClient closes the transport on exit."""
    transport = FakeTransport(echo)
    async with RestClient(transport) as client:
        assert "FakeTransport" in repr(client)
    assert transport.closed


async def test_invalid_request_is_typed() -> None:
    """A 400 becomes InvalidRequest carrying the status."""
    client = RestClient(FakeTransport(lambda r: Response(status=400, body=b'{"code":-1100}')))
    with pytest.raises(InvalidRequest) as info:
        await client.get("/t")
    assert info.value.status == 400


class Order(msgspec.Struct):
    symbol: str
    qty: Decimal


def test_json_body_renders_structs_with_exact_decimals() -> None:
    """json_body encodes Structs and Decimals without exponents."""
    from lotusx import json_body

    assert json_body(Order("BTCUSDT", Decimal("1E-8"))) == b'{"symbol":"BTCUSDT","qty":"0.00000001"}'
    with pytest.raises(TypeError):
        json_body({"x": object()})

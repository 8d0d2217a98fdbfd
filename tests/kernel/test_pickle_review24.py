"""Errors and responses survive pickling: a worker process's error reaches its parent whole."""

from __future__ import annotations

import inspect
import pickle
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

import lotusx
from lotusx.kernel import errors
from lotusx.kernel.errors import AmbiguousOrderState, LotusXError
from lotusx.kernel.message import Response
from lotusx.transport import AiohttpRest
from tests.conftest import ServeApp

ERRORS = sorted((cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, LotusXError)),
                key=lambda cls: cls.__name__)
REQUIRED = {"client_order_id": "lx-7", "client_id": "w-7", "rule": "tick_size"}
REFUSAL = {"code": -2010, "msg": "Account has insufficient balance for requested action."}


def made(cls: type[LotusXError]) -> LotusXError:
    """``cls`` with every common field set, and its own required keywords."""
    own = {name: REQUIRED[name] for name, p in inspect.signature(cls).parameters.items()
           if p.kind is p.KEYWORD_ONLY and p.default is p.empty}
    return cls("it failed", code=-1, venue_message="venue says no", status=400, **own)


def round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))  # noqa: S301 (our own bytes, just written)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_keeps_its_type_text_and_fields(cls: type[LotusXError]) -> None:
    """Unpickled, an error is the same type, reads the same and carries the same fields."""
    error = made(cls)
    again = round_trip(error)
    assert (type(again), str(again), again.args) == (cls, str(error), error.args)
    assert vars(again) == vars(error)


def test_an_ambiguous_order_keeps_the_id_to_look_it_up_by() -> None:
    """AmbiguousOrderState's client_order_id (required by its constructor) survives: the lookup needs it."""
    again = round_trip(AmbiguousOrderState("no answer", client_order_id="lx-42"))
    assert again.client_order_id == "lx-42"


def test_a_response_with_plain_headers_round_trips() -> None:
    """A Response built by hand (a dict of headers, or none) comes back equal."""
    for response in (Response(status=200, body=b"{}"), Response(status=429, headers={"Retry-After": "3"}, elapsed=0.5)):
        again = round_trip(response)
        assert (again.status, again.body, dict(again.headers), again.elapsed) == (
            response.status, response.body, dict(response.headers), response.elapsed)


async def repeat_headers(request: web.Request) -> web.Response:
    response = web.json_response(REFUSAL, status=400, headers={"X-MBX-USED-WEIGHT-1M": "7"})
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    return response


async def test_a_transports_response_keeps_every_header_case_insensitively(serve_app: ServeApp) -> None:
    """aiohttp's read-only header view does not pickle; the copy keeps repeated headers and any-case lookups."""
    app = web.Application()
    app.router.add_get("/x", repeat_headers)
    server = await serve_app(app)
    async with AiohttpRest(str(server.make_url(""))) as transport:
        response = await transport(lotusx.Request(method="GET", path="/x"))
    again = round_trip(response)
    assert again.header("x-mbx-used-weight-1m") == "7"
    assert sorted(value for key, value in again.headers.items() if key.lower() == "set-cookie") == ["a=1", "b=2"]
    assert (again.status, again.body) == (400, response.body)


async def binance_refuses(request: web.Request) -> web.Response:
    if request.path == "/api/v3/time":
        return web.json_response({"serverTime": 1_700_000_000_000})
    return web.json_response(REFUSAL, status=400)


async def test_a_venue_refusal_from_a_connector_pickles_with_its_response(serve_app: ServeApp) -> None:
    """The error place_order raised over a real socket crosses a process boundary with code, text and answer."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", binance_refuses)
    server = await serve_app(app)
    credentials = lotusx.Credentials(api_key="pickle-test-key-0001", secret="pickle-test-secret-0001")
    async with lotusx.connect("binance", credentials=credentials, rest_url=str(server.make_url(""))) as ex:
        with pytest.raises(lotusx.InsufficientBalance) as caught:
            await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                                 quantity=Decimal("1"), price=Decimal("100")))
    again = round_trip(caught.value)
    assert (type(again), again.code, again.venue_message) == (lotusx.InsufficientBalance, -2010, REFUSAL["msg"])
    assert again.response is not None and again.response.status == 400
    assert "pickle-test-secret-0001" not in repr(vars(again))

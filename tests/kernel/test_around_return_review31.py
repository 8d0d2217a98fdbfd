"""A middleware that forgets to return call_next's response is told so, by name."""

from __future__ import annotations

from decimal import Decimal

import pytest

import lotusx
from lotusx import Request, Response, Service, around
from lotusx.sim import serve
from lotusx.testing import ScriptedService


async def forgot(request: Request, call_next: Service) -> Response:
    await call_next(request)  # type: ignore[return-value]  # the mistake under test: no return


async def test_a_middleware_returning_none_names_itself_and_the_fix() -> None:
    """around(forgot): a TypeError naming forgot and `return await call_next(request)`, not a NoneType .status."""
    with pytest.raises(TypeError, match=r"forgot returned None.*return await call_next\(request\)"):
        await around(forgot)(ScriptedService([Response(status=200)]))(Request(method="GET", path="/x"))


async def test_an_order_sent_through_such_a_middleware_is_ambiguous_not_refused() -> None:
    """inner=[around(forgot)]: the order reached the venue, so placing it is AmbiguousOrderState with its id."""
    async with serve(venues=("binance",)) as sim:
        keys = sim.api_keys("binance")
        async with lotusx.connect("binance", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url("binance"), inner=[around(forgot)]) as ex:
            with pytest.raises(lotusx.AmbiguousOrderState) as caught:
                await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                     quantity=Decimal("0.01"), price=Decimal("40000"),
                                                     client_order_id="mw-1"))
    assert caught.value.client_order_id == "mw-1"

"""An unknown symbol on Bybit is a NotFound, as on Binance (README: "`NotFound` for an unknown symbol")."""

from __future__ import annotations

import orjson
import pytest

import lotusx
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.sim import serve

BOOK = Request(method="GET", path=ep.ORDERBOOK.path, endpoint=ep.ORDERBOOK)


def refused(code: int, msg: str) -> Response:
    body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1_700_000_000_000}
    return Response(status=200, body=orjson.dumps(body))


def test_a_symbol_invalid_parameter_error_is_not_found() -> None:
    """10001 'params error: symbol invalid' is a NotFound carrying Bybit's code and message."""
    error = classify(BOOK, refused(10001, "params error: symbol invalid"))
    assert type(error) is e.NotFound
    assert (error.code, error.venue_message) == (10001, "params error: symbol invalid")


async def test_an_unknown_symbols_book_is_not_found_against_the_simulator() -> None:
    """get_order_book of a symbol Bybit does not list raises NotFound."""
    async with serve(venues=("bybit",)) as sim, \
            lotusx.connect("bybit", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        with pytest.raises(lotusx.NotFound, match="symbol invalid"):
            await ex.get_order_book("NOPEUSDT")

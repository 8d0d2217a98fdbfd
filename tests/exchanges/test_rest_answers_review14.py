"""REST answers that are no answer: what the REST mutation test (test_rest_mutations_review14.py) found.

Each is one recorded answer with one fault; each must end in a typed ``LotusXError``, never in
a model holding an amount that is no amount, nor in a raw ``decimal.InvalidOperation``; and a
placement whose answer cannot be read is neither reported placed nor refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.kernel import errors as e
from lotusx.kernel.message import Response
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, FakeTransport
from tests.exchanges.test_rest_mutations_review14 import (
    BUY,
    BYBIT_BUY,
    KEY,
    NOW_MS,
    SECRET,
    Case,
    Server,
    binance_cases,
    bybit_cases,
    dumps,
    outcome,
)

Change = Callable[[Any], Any]


def case(venue: str, name: str) -> Case:
    return next(c for c in (binance_cases() if venue == "binance" else bybit_cases()) if c.name == name)


def answered(venue: str, name: str, change: Change, status: int = 200) -> Any:
    """What the call ``name`` gives when its recorded answer is changed by ``change``."""
    chosen = case(venue, name)
    body = change(chosen.answer)
    return asyncio.run(outcome(venue, chosen, Response(status=status, body=body)))


def field(path: tuple[Any, ...], value: Any) -> Change:
    """The answer with the field at ``path`` set to ``value``."""
    def change(answer: Any) -> bytes:
        data = orjson.loads(dumps(answer))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
        return dumps(data)
    return change


def read(result: Any) -> Any:
    """Every level of a book read, as a user iterating it would."""
    return [list(result.bids), list(result.asks)] if isinstance(result, lotusx.OrderBook) else result


@pytest.mark.parametrize(("name", "path", "value"), [
    ("get_ticker", ("bidQty",), "Infinity"),
    ("get_ticker", ("bidPrice",), -1),
    ("get_trades", (0, "qty"), "-1"),
    ("get_trades", (0, "price"), "NaN"),
    ("place_order_full", ("price",), "Infinity"),
    ("get_order", ("executedQty",), "-1"),
    ("get_open_orders", (0, "origQty"), "NaN"),
    ("get_order_history", (0, "origQty"), "Infinity"),
    ("get_balances", ("balances", 0, "free"), "-1"),
    ("get_balances", ("balances", 0, "locked"), "NaN"),
    ("get_withdrawals", (0, "amount"), "NaN"),
])
def test_a_binance_amount_that_is_no_amount_is_a_decode_error(name: str, path: tuple[Any, ...], value: Any) -> None:
    """NaN, Infinity or a negative amount in a Binance answer: DecodeError, not a model carrying it."""
    result = answered("binance", name, field(path, value))
    assert isinstance(result, e.DecodeError if name != "place_order_full" else e.AmbiguousOrderState), result


@pytest.mark.parametrize(("name", "path", "value"), [
    ("get_ticker", ("result", "list", 0, "ask1Size"), "Infinity"),
    ("get_ticker", ("result", "list", 0, "bid1Price"), "-1"),
    ("get_trades", ("result", "list", 0, "size"), "NaN"),
    ("get_trades", ("result", "list", 0, "price"), "-1"),
])
def test_a_bybit_amount_that_is_no_amount_is_a_decode_error(name: str, path: tuple[Any, ...], value: Any) -> None:
    """NaN, Infinity or a negative amount in a Bybit answer: DecodeError, not a model carrying it."""
    assert isinstance(answered("bybit", name, field(path, value)), e.DecodeError)


@pytest.mark.parametrize("value", ["0x10", "NaN", "Infinity", "-1", "abc", "1e999999x"])
@pytest.mark.parametrize(("venue", "path"), [("binance", ("asks", 0, 0)), ("binance", ("bids", 0, 1)),
                                             ("bybit", ("result", "a", 0, 1)), ("bybit", ("result", "b", 0, 0))])
def test_a_book_level_that_is_no_amount_is_a_decode_error(venue: str, path: tuple[Any, ...], value: str) -> None:
    """A REST book level that is no amount: DecodeError (when the book or the level is read), never InvalidOperation."""
    result = answered(venue, "get_order_book", field(path, value))
    if isinstance(result, lotusx.OrderBook):
        with pytest.raises(e.DecodeError):
            read(result)
    else:
        assert isinstance(result, e.DecodeError), result


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_a_book_of_real_levels_reads_as_before(venue: str) -> None:
    """The recorded books still read as exact decimals."""
    book = answered(venue, "get_order_book", dumps)
    assert all(isinstance(p, Decimal) and isinstance(q, Decimal) for p, q in [*book.bids, *book.asks])


@pytest.mark.parametrize("body", [
    b'{"symbol":"BTCUSDT","orderId":28,"clientOrderId":"x","transactTime":17',  # cut short
    b"<html><body>200 OK</body></html>",
    b'{"symbol":"BTCUSDT","orderId":28,"clientOrderId":null,"transactTime":1,"price":"0","origQty":"1",'
    b'"executedQty":"1","status":"FILLED","type":"MARKET","side":"SELL"}',
])
def test_a_binance_placement_answered_200_unreadably_is_ambiguous(body: bytes) -> None:
    """HTTP 200 to POST /api/v3/order with a body that does not decode: AmbiguousOrderState with the client id."""
    result = answered("binance", "place_order", lambda _: body)
    assert isinstance(result, e.AmbiguousOrderState), result
    assert result.client_order_id == BUY.client_order_id


@pytest.mark.parametrize("body", [
    b'{"retCode":0,"retMsg":"OK","result":{"orderId":"13210037',  # cut short
    b"<html><body>200 OK</body></html>",
    dumps({"retCode": 0, "retMsg": "OK", "result": {"orderLinkId": "cid-fuzz"}, "time": NOW_MS}),  # no orderId
    dumps({"retCode": 0, "retMsg": "OK", "result": {"orderId": "", "orderLinkId": "cid-fuzz"}, "time": NOW_MS}),
])
def test_a_bybit_placement_answered_without_a_readable_order_id_is_ambiguous(body: bytes) -> None:
    """retCode 0 (or HTTP 200) to /v5/order/create without a readable orderId: AmbiguousOrderState, not id ''."""
    result = answered("bybit", "place_order", lambda _: body)
    assert isinstance(result, e.AmbiguousOrderState), result
    assert result.client_order_id == BYBIT_BUY.client_order_id


def test_an_unreadable_placement_answer_is_counted_as_ambiguous() -> None:
    """The ambiguity is counted, as Retry counts its own: ambiguous_orders_total{cause="unreadable_answer"}."""
    metrics = Metrics()

    async def place() -> None:
        chosen = case("binance", "place_order")
        transport = FakeTransport(Server(chosen, Response(status=200, body=b"<html></html>")))
        async with lotusx.connect("binance", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                                  transport=transport, clock=FakeClock(NOW_MS / 1000), metrics=metrics) as ex:
            with pytest.raises(e.AmbiguousOrderState):
                await ex.place_order(BUY)

    asyncio.run(place())
    assert metrics.ambiguous_orders.labels("binance", "place_order", "unreadable_answer")._value.get() == 1


def test_a_bybit_error_code_after_a_success_code_is_never_data() -> None:
    """A duplicated retCode (0, then 110001) is no success: the answer is a DecodeError, not an empty order list."""
    body = b'{"retCode":0,"retMsg":"OK","result":{"list":[],"nextPageCursor":""},"retCode":110001,"time":1}'
    assert isinstance(answered("bybit", "get_open_orders", lambda _: body), e.DecodeError)



@pytest.mark.parametrize(("venue", "name", "path"), [
    ("binance", "get_withdrawals", (0, "id")),
    ("bybit", "get_trades", ("result", "list", 0, "execId")),
    ("bybit", "get_open_orders", ("result", "list", 0, "orderId")),
    ("bybit", "cancel_order", ("result", "orderId")),
])
def test_an_empty_id_is_a_decode_error(venue: str, name: str, path: tuple[Any, ...]) -> None:
    """An id the venue left empty names nothing to query or cancel: DecodeError, not a model holding ''."""
    assert isinstance(answered(venue, name, field(path, "")), e.DecodeError)

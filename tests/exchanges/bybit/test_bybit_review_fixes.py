"""Bybit connector regressions: retCode meanings, reconcile through history, zero balances, order identity, cancel.

retCodes from https://bybit-exchange.github.io/docs/v5/error; the realtime endpoint forgetting
closed orders after a restart from https://bybit-exchange.github.io/docs/v5/order/open-order.
The round 11 review's tests (each failed on the code before its fix) come last, their venue
facts cited per test from the official docs (repository bybit-exchange/docs, docs/v5/...).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest
from bybit_helpers import LIMIT, NOW_MS, ORDER, Handler, answer, connect, lost_then

import lotusx
from lotusx.exchanges.bybit import Bybit, reconcile
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import classify
from lotusx.kernel import errors as e
from lotusx.kernel.client import json_body
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.sim import Sim
from lotusx.testing import FakeClock, FakeTransport


def wire(transport: FakeTransport, path: str) -> list[Request]:
    return [r for r in transport.requests if r.path == path]


def on(endpoint: Endpoint, code: int) -> e.LotusXError | None:
    """The error retCode ``code`` means on ``endpoint``."""
    request = Request(method=endpoint.method, path=endpoint.path, endpoint=endpoint)
    return classify(request, answer({}, ret_code=code, ret_msg="why"))


def rows(*orders: dict[str, Any]) -> Handler:
    return lambda request: answer({"list": list(orders), "nextPageCursor": ""})


# ----- retCodes -----

@pytest.mark.parametrize("code", [170005, 170222])
def test_spot_throttle_codes_are_rate_limited(code: int) -> None:
    """170005 (too many new orders) and 170222 (too many requests) are throttles, not order rejections."""
    assert type(on(ep.ORDER_CREATE, code)) is e.RateLimited


@pytest.mark.parametrize("code", [170001, 170007, 170032, 170146, 170234, 10000])
def test_spot_backend_failures_on_create_are_server_errors(code: int) -> None:
    """Internal error, backend timeout, network error, creation timeout, system error: the order may exist."""
    assert type(on(ep.ORDER_CREATE, code)) is e.ServerError


def test_cancellation_timeout_is_a_server_error() -> None:
    """170147 (order cancellation timeout) leaves the cancel's outcome unknown, so it is retried."""
    assert type(on(ep.ORDER_CANCEL, 170147)) is e.ServerError


def test_high_server_load_is_a_server_error() -> None:
    """UTA retCode 429 ('high server load, please retry') is retryable, not a request to fix."""
    assert type(on(ep.ORDER_REALTIME, 429)) is e.ServerError


def test_withdrawal_over_the_balance_is_insufficient_balance() -> None:
    """131085 (withdrawal amount greater than the available balance) is InsufficientBalance."""
    assert type(on(ep.WITHDRAW, 131085)) is e.InsufficientBalance


async def test_backend_timeout_on_create_reconciles_to_the_live_order() -> None:
    """170007 on create: the order found by its orderLinkId is returned, nothing is sent again."""
    conn, transport = connect(order_create=[answer({}, ret_code=170007, ret_msg="Timeout waiting for response")],
                              order_realtime=rows(ORDER))
    async with conn as ex:
        placed = await ex.place_order(LIMIT)
    assert (placed.order_id, len(wire(transport, "/v5/order/create"))) == ("42", 1)


async def test_create_answered_submitted_for_processing_reconciles_to_the_order() -> None:
    """170035 ("Submitted to the system for processing!") on create: the order may exist, so it is looked up."""
    submitted = answer({}, ret_code=170035, ret_msg="Submitted to the system for processing!")
    conn, transport = connect(order_create=[submitted], order_realtime=rows(ORDER))
    async with conn as ex:
        placed = await ex.place_order(LIMIT)
    assert (placed.order_id, len(wire(transport, "/v5/order/create"))) == ("42", 1)


# ----- reconcile -----

async def test_reconcile_falls_back_to_order_history() -> None:
    """A placement realtime no longer knows is looked for in /v5/order/history before it is called absent."""
    filled = ORDER | {"orderStatus": "Filled", "cumExecQty": "0.01"}
    conn, transport = connect(order_create=[answer({}, ret_code=10016, ret_msg="Server error")],
                              order_realtime=rows(), order_history=rows(filled))
    async with conn as ex:
        placed = await ex.place_order(LIMIT)
    [lookup] = wire(transport, "/v5/order/history")
    assert lookup.query_string == "category=spot&symbol=BTCUSDT&orderLinkId=cid-1"
    assert (placed.status, len(wire(transport, "/v5/order/create"))) == ("FILLED", 1)


async def test_reconcile_ignores_another_orders_row() -> None:
    """A row with another orderLinkId does not count as the placed order."""
    conn, _ = connect(order_realtime=rows(ORDER | {"orderLinkId": "other"}), order_history=rows())
    placed = Request(method="POST", path=ep.ORDER_CREATE.path, endpoint=ep.ORDER_CREATE,
                     body=json_body({"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "cid-1"}),
                     ext={"client_order_id": "cid-1"})
    async with conn as ex:
        assert await reconcile(ex.parts.signed, placed) is None


async def test_reconcile_finds_a_filled_order_after_a_venue_restart(bybit: Bybit, sim: Sim) -> None:
    """On the sim, with closed orders gone from realtime, the reconcile still finds the filled placement."""
    await bybit.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001"),
                                            client_order_id="rc-1"))
    sim.chaos("bybit").closed_orders_forgotten = True
    placed = Request(method="POST", path=ep.ORDER_CREATE.path, endpoint=ep.ORDER_CREATE,
                     body=json_body({"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "rc-1"}),
                     ext={"client_order_id": "rc-1"})
    assert await reconcile(bybit.parts.signed, placed) is not None


async def test_placing_a_filled_orders_link_id_again_returns_that_order(bybit: Bybit, sim: Sim) -> None:
    """A re-sent placement of a filled order reconciles to it: one order on the venue."""
    order = lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001"),
                            client_order_id="once-1")
    first = await bybit.place_order(order)
    again = await bybit.place_order(order)
    mine = [o for o in sim.engine("bybit").orders.values() if o.client_id == "once-1"]
    assert (len(mine), again.order_id, again.status) == (1, first.order_id, "FILLED")


# ----- balances -----

async def test_a_coin_emptied_by_a_trade_is_pushed_as_zero(bybit: Bybit, sim: Sim) -> None:
    """watch_balances reports BTC at 0 when a sale empties it (the wallet push carries the 0)."""
    sim.engine("bybit").place("market-maker", "BTCUSDT", "BUY", "LIMIT", quantity=Decimal(50), price=Decimal(49_000))
    held = (await bybit.get_balances())["BTC"].free
    updates = bybit.watch_balances()
    live = asyncio.ensure_future(anext(updates))
    for _ in range(40):  # a push comes only once subscribed, which no sleep is sure to outlast: bid until one does
        await bybit.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.001"),
                                                price=Decimal(30_000)))
        if (await asyncio.wait([live], timeout=0.25))[0]:
            break
    await asyncio.wait_for(live, 5)
    await bybit.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=held))
    change = await asyncio.wait_for(anext(updates), 5)
    while "BTC" in change and change["BTC"].free == held:  # a bid's push, late
        change = await asyncio.wait_for(anext(updates), 5)
    await updates.aclose()
    assert change["BTC"] == lotusx.Balance(asset="BTC", free=Decimal(0), locked=Decimal(0))
    assert "BTC" not in await bybit.get_balances()


# ----- get_order -----

async def test_get_order_does_not_take_another_order_for_the_one_asked() -> None:
    """Rows naming other orders are not an answer: the order is NotFound."""
    conn, _ = connect(order_realtime=rows(ORDER), order_history=rows(ORDER))
    async with conn as ex:
        with pytest.raises(e.NotFound):
            await ex.get_order("BTCUSDT", order_id="fd4300ae-7847-404e-b947-b46980a4d140")


async def test_unknown_order_id_on_the_sim_is_not_found(bybit: Bybit) -> None:
    """With an order open, an orderId the venue never issued is NotFound, not that open order."""
    await bybit.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                                            price=Decimal(30000)))
    with pytest.raises(e.NotFound):
        await bybit.get_order("BTCUSDT", order_id="fd4300ae-7847-404e-b947-b46980a4d140")


# ----- cancel -----

async def test_cancel_of_an_unknown_order_is_not_found() -> None:
    """110001 for an order the venue does not know at all stays NotFound."""
    conn, _ = connect(order_cancel=[answer({}, ret_code=110001, ret_msg="Order does not exist.")],
                      order_realtime=rows(), order_history=rows())
    async with conn as ex:
        with pytest.raises(e.NotFound, match="order/cancel"):
            await ex.cancel_order("BTCUSDT", order_id="42")


@pytest.mark.parametrize(("code", "msg"), [
    (110001, "Order does not exist."), (110008, "The order has been completed or cancelled."),
    (110010, "The order has been cancelled"),
    (170142, "Order has been cancelled"), (170190, "Cancel order has been finished"),
])
async def test_cancel_retried_into_already_cancelled_returns_the_cancelled_order(code: int, msg: str) -> None:
    """A retried cancel told the order is gone or already cancelled (docs v5/error) returns the cancelled order."""
    conn, transport = connect(order_cancel=lost_then(code, msg),
                              order_realtime=rows(ORDER | {"orderStatus": "Cancelled"}))
    async with conn as ex:
        cancelled = await ex.cancel_order("BTCUSDT", order_id="42")
    assert (cancelled.status, len(wire(transport, "/v5/order/cancel"))) == ("CANCELED", 2)


@pytest.mark.parametrize(("code", "msg"), [(110001, "Order does not exist."), (170139, "Order has been filled.")])
async def test_cancel_of_a_filled_order_is_not_found(code: int, msg: str) -> None:
    """A cancel told the order is gone or filled, and the venue shows it filled: NotFound, not a bad request."""
    conn, _ = connect(order_cancel=[answer({}, ret_code=code, ret_msg=msg)],
                      order_realtime=rows(ORDER | {"orderStatus": "Filled", "cumExecQty": "0.01"}))
    async with conn as ex:
        with pytest.raises(e.NotFound):
            await ex.cancel_order("BTCUSDT", order_id="42")


# ----- withdraw -----

async def test_withdrawing_more_than_held_on_the_sim_is_insufficient_balance(bybit: Bybit) -> None:
    """The sim answers 131085 for an over-balance withdrawal, which is InsufficientBalance."""
    with pytest.raises(e.InsufficientBalance):
        await bybit.withdraw(lotusx.Withdrawal(asset="BTC", network="BTC", address="bc1qexample", amount=Decimal(1000)))


@pytest.mark.parametrize(("code", "msg"), [
    (131001, "openapi svc error"), (131003, "Internal error"), (131200, "Service error"), (131201, "Internal error"),
])
async def test_withdrawal_met_by_an_internal_error_is_ambiguous_sent_once(code: int, msg: str) -> None:
    """An asset-service internal error leaves a withdrawal's fate unknown: AmbiguousWithdrawal, never re-sent."""
    conn, transport = connect(asset_withdraw_create=[answer({}, ret_code=code, ret_msg=msg)])
    async with conn as ex:
        with pytest.raises(e.AmbiguousWithdrawal) as raised:
            await ex.withdraw(lotusx.Withdrawal(asset="USDT", network="TRX", address="T-addr", amount=Decimal(10)))
    assert isinstance(raised.value.__cause__, e.ServerError)
    assert len(wire(transport, "/v5/asset/withdraw/create")) == 1


# ===== review round 11 =====

# ----- retCodes that say "try again later" (docs/v5/error: UTA 110079, Spot Trade 170191, 170212) -----

@pytest.mark.parametrize(("code", "msg"), [
    (110079, "The order is processing and can not be operated, please try again later"),
    (170191, "Can not cancel order, please try again later"),
    (170212, "Cancel order request processing"),
])
async def test_cancel_told_to_try_again_later_is_retried(code: int, msg: str) -> None:
    """A cancel answered 'processing, try again later' is retried, not raised as a request to fix."""
    later = answer({}, ret_code=code, ret_msg=msg)
    conn, transport = connect(order_cancel=[later, answer({"orderId": "42", "orderLinkId": "cid-1"})],
                              order_realtime=rows(ORDER | {"orderStatus": "Cancelled"}))
    async with conn as ex:
        cancelled = await ex.cancel_order("BTCUSDT", order_id="42")
    assert (cancelled.status, len(wire(transport, "/v5/order/cancel"))) == ("CANCELED", 2)


# ----- a cancel told the order is no longer on the book (docs/v5/error, Spot Trade 170143) -----

async def test_cancel_retried_into_not_on_the_book_returns_the_cancelled_order() -> None:
    """A retried cancel told 170143 'Cannot be found on order book' returns the order its first attempt cancelled."""
    conn, transport = connect(order_cancel=lost_then(170143, "Cannot be found on order book"),
                              order_realtime=rows(ORDER | {"orderStatus": "Cancelled"}))
    async with conn as ex:
        cancelled = await ex.cancel_order("BTCUSDT", order_id="42")
    assert (cancelled.status, len(wire(transport, "/v5/order/cancel"))) == ("CANCELED", 2)


# ----- book depth (docs/v5/websocket/public/orderbook: spot and linear stream 1, 50, 200 and 1000 levels) -----

async def test_a_book_watched_100_deep_has_100_levels(bybit: Bybit, sim: Sim) -> None:
    """watch_order_book(depth=100) on a book 120 levels deep yields 100 bids, not the 50 of orderbook.50."""
    engine = sim.engine("bybit")
    for level in range(21, 141):  # below the 20 seeded bid levels, 10 ticks apart as they are
        engine.place("market-maker", "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"),
                     price=Decimal(50_000) - level * Decimal("0.1"))
    books = bybit.watch_order_book("BTCUSDT", depth=100)
    book = await asyncio.wait_for(anext(books), 5)
    await books.aclose()
    assert (len(book.bids), len(book.asks)) == (100, 20)


# ----- a garbled server time (docs/v5/market/time: timeNano is a string of nanoseconds) -----

async def test_a_garbled_server_time_is_a_decode_error() -> None:
    """get_server_time on a timeNano that is no number raises DecodeError, a LotusXError, not a ValueError."""
    body = {"retCode": 0, "retMsg": "OK", "result": {"timeSecond": "x", "timeNano": "garbled"}, "retExtInfo": {},
            "time": NOW_MS}
    transport = FakeTransport(lambda request: Response(status=200, body=orjson.dumps(body)))
    async with lotusx.connect("bybit", clock=FakeClock(NOW_MS / 1000), transport=transport) as ex:
        with pytest.raises(e.DecodeError):
            await ex.get_server_time()


# ----- insufficient funds, in every wording docs/v5/error gives it (UTA 110004/110012/110044/110045, Spot 170033) -----

@pytest.mark.parametrize("code", [110004, 110012, 110044, 110045, 170033])
def test_every_insufficient_balance_code_is_insufficient_balance(code: int) -> None:
    """An order refused for want of balance or margin is InsufficientBalance, whichever code says so."""
    request = Request(method="POST", path=ep.ORDER_CREATE.path, endpoint=ep.ORDER_CREATE)
    assert type(classify(request, answer({}, ret_code=code, ret_msg="insufficient"))) is e.InsufficientBalance

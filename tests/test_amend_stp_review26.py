"""Self-trade prevention as each venue reports it (``Order.self_trade_prevention``), and kept across an amend.

Binance reports an order's selfTradePreventionMode in every order answer and as "V" on the
user stream (rest-api.md, user-data-stream.md); Bybit its smpType in order rows and on the
``order`` stream (docs/v5/order/open-order.mdx, docs/v5/websocket/private/order.mdx). Binance's
requote is a new order (POST /api/v3/order/cancelReplace): it must be sent the mode the
order was placed with, or it takes the symbol's default. Against the embedded sim over
loopback, and a scripted transport for the modes the sim does not offer (DECREMENT, TRANSFER).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import orjson
import pytest

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.models import SelfTradePrevention
from lotusx.sim import Sim
from lotusx.sim.venue import MAKER, USER
from lotusx.testing import FakeTransport
from tests.sim.sim_helpers import Binance as SignedBinance
from tests.test_stp_review26 import CASES, OTHER, QTY, SYMBOL, Case, buy, case, inside_spread, sell, sim, totals

# Fixtures, used by name: every case, and the sim with fees (a self trade shows in the balances).
__all__ = ["case", "sim"]

D = Decimal
MODES: list[SelfTradePrevention] = ["cancel_taker", "cancel_maker", "cancel_both"]
KEYS = lotusx.Credentials("amend-key-0001", "amend-secret-0001")
REPLACE = "/api/v3/order/cancelReplace"


def resting_bid(case: Case, sim: Sim, stp: SelfTradePrevention | None) -> lotusx.NewOrder:
    """A buy at the best bid: it rests, crossing nothing."""
    return buy(case.engine(sim).books[SYMBOL].prices("BUY")[0], stp)


@pytest.mark.parametrize("mode", MODES)
async def test_get_order_reports_the_mode_the_order_was_placed_with(sim: Sim, case: Case, mode: str) -> None:
    """Each of the three modes comes back on the order read by get_order."""
    async with case.connect(sim) as ex:
        placed = await ex.place_order(resting_bid(case, sim, mode))  # type: ignore[arg-type]
        assert (await ex.get_order(SYMBOL, order_id=placed.order_id)).self_trade_prevention == mode


async def test_an_order_placed_without_a_mode_reports_none(sim: Sim, case: Case) -> None:
    """The sim's default is none (Binance NONE, Bybit "None"): the order reports None."""
    async with case.connect(sim) as ex:
        placed = await ex.place_order(resting_bid(case, sim, None))
        assert placed.self_trade_prevention is None
        assert (await ex.get_order(SYMBOL, order_id=placed.order_id)).self_trade_prevention is None


async def test_place_order_answers_with_the_mode(sim: Sim, case: Case) -> None:
    """Binance's RESULT carries the mode; Bybit answers with ids alone, so the order comes back as submitted."""
    async with case.connect(sim) as ex:
        placed = await ex.place_order(resting_bid(case, sim, "cancel_taker"))
    assert placed.self_trade_prevention == "cancel_taker"


async def test_open_orders_and_history_report_the_mode(sim: Sim, case: Case) -> None:
    """get_open_orders and get_order_history (the order cancelled by then) read the mode from their rows too."""
    since = sim.venue(case.venue).now_ms()
    async with case.connect(sim) as ex:
        placed = await ex.place_order(resting_bid(case, sim, "cancel_both"))
        [listed] = [o for o in await ex.get_open_orders(SYMBOL) if o.order_id == placed.order_id]
        await ex.cancel_order(SYMBOL, order_id=placed.order_id)
        [past] = [o for o in await ex.get_order_history(SYMBOL, since=since) if o.order_id == placed.order_id]
    assert (listed.self_trade_prevention, past.self_trade_prevention) == ("cancel_both", "cancel_both")


async def test_watch_orders_reports_the_mode(sim: Sim, case: Case) -> None:
    """The user stream's order updates (Binance "V", Bybit smpType) carry the mode."""
    price = case.engine(sim).books[OTHER].prices("BUY")[0]
    async with case.connect(sim) as ex:
        seen: list[lotusx.Order] = []

        async def drain() -> None:
            async for update in ex.watch_orders():
                seen.append(update)

        task = asyncio.create_task(drain())
        try:
            # Probes until one shows: the stream is live, and the probe's update is the one checked.
            for _ in range(20):
                probe = await ex.place_order(lotusx.NewOrder(symbol=OTHER, side="BUY", type="LIMIT", quantity=D("0.01"),
                                                             price=price, self_trade_prevention="cancel_maker"))
                await ex.cancel_order(OTHER, order_id=probe.order_id)
                await asyncio.sleep(0.1)
                if got := [o for o in seen if o.order_id == probe.order_id]:
                    break
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert got and {o.self_trade_prevention for o in got} == {"cancel_maker"}


async def test_a_requote_keeps_the_mode(sim: Sim, case: Case) -> None:
    """A new price (Binance: a new order by cancel-replace; Bybit: in place) still carries cancel_taker."""
    async with case.connect(sim) as ex:
        placed = await ex.place_order(resting_bid(case, sim, "cancel_taker"))
        amended = await ex.amend_order(SYMBOL, order_id=placed.order_id, price=placed.price - D("0.01"))
        read = await ex.get_order(SYMBOL, order_id=amended.order_id)
    assert (amended.self_trade_prevention, read.self_trade_prevention) == ("cancel_taker", "cancel_taker")
    assert read.price == placed.price - D("0.01")


async def test_a_requote_onto_the_own_resting_order_is_taken_off_not_traded(sim: Sim, case: Case) -> None:
    """cancel_taker bid moved onto the account's own ask: the bid is taken off, the ask rests, nothing trades."""
    engine = case.engine(sim)
    price, before = inside_spread(engine), totals(engine)
    since = sim.venue(case.venue).now_ms()
    async with case.connect(sim) as ex:
        ask = await ex.place_order(sell(price))
        bid = await ex.place_order(resting_bid(case, sim, "cancel_taker"))
        moved = await ex.amend_order(SYMBOL, order_id=bid.order_id, price=price)
        moved, ask = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (moved, ask)]
        assert (moved.status, moved.filled_quantity) == (case.prevented, 0)
        assert (ask.status, ask.filled_quantity) == ("NEW", 0)
        await ex.cancel_order(SYMBOL, order_id=ask.order_id)
        assert await ex.get_fills(SYMBOL, since=since) == []
    assert totals(engine) == before


async def test_binance_a_requote_trades_past_the_own_order_with_cancel_maker(sim: Sim) -> None:
    """cancel_maker kept on the new order: the own ask is taken off, the requoted bid fills against another's."""
    case = CASES[0]
    engine = case.engine(sim)
    price = inside_spread(engine)
    async with case.connect(sim) as ex:
        mine = await ex.place_order(sell(price))
        engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=QTY, price=price)
        bid = await ex.place_order(resting_bid(case, sim, "cancel_maker"))
        moved = await ex.amend_order(SYMBOL, order_id=bid.order_id, price=price)
        mine, moved = [await ex.get_order(SYMBOL, order_id=o.order_id) for o in (mine, moved)]
    assert mine.status == "EXPIRED_IN_MATCH"
    assert (moved.status, moved.filled_quantity) == ("FILLED", QTY)


async def test_binance_a_lower_quantity_in_place_reports_the_mode(sim: Sim) -> None:
    """keepPriority's amendedOrder carries selfTradePreventionMode: the amended order reports it."""
    case = CASES[0]
    async with case.connect(sim) as ex:
        placed = await ex.place_order(resting_bid(case, sim, "cancel_both"))
        amended = await ex.amend_order(SYMBOL, order_id=placed.order_id, quantity=QTY / 2)
    assert (amended.order_id, amended.self_trade_prevention) == (placed.order_id, "cancel_both")


async def test_binance_a_larger_quantity_keeps_the_mode(sim: Sim) -> None:
    """keepPriority refuses an increase (-2038); the cancel-replace it falls back to sends the mode read."""
    case = CASES[0]
    async with case.connect(sim) as ex:
        placed = await ex.place_order(resting_bid(case, sim, "cancel_maker"))
        amended = await ex.amend_order(SYMBOL, order_id=placed.order_id, quantity=QTY * 2)
        read = await ex.get_order(SYMBOL, order_id=amended.order_id)
    assert amended.order_id != placed.order_id
    assert (read.quantity, read.self_trade_prevention) == (QTY * 2, "cancel_maker")


def scripted(mode: str | None, sent: list[Request]) -> FakeTransport:
    """A Binance answering GET /api/v3/order with an open order of ``mode`` (absent for None), and the replace."""
    field = b"" if mode is None else b',"selfTradePreventionMode":"' + mode.encode() + b'"'
    row = (b'{"symbol":"BTCUSDT","orderId":%d,"clientOrderId":"a","price":"100","origQty":"1","executedQty":"0",'
           b'"status":"NEW","type":"LIMIT","side":"BUY","timeInForce":"GTC"' + field + b"}")

    def venue(request: Request) -> Response:
        sent.append(request)
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        if request.path == REPLACE:
            return Response(status=200, body=b'{"cancelResult":"SUCCESS","newOrderResult":"SUCCESS",'
                                             b'"newOrderResponse":' + row % 8 + b"}")
        return Response(status=200, body=row % 7)

    return FakeTransport(venue)


@pytest.mark.parametrize("mode", ["DECREMENT", "TRANSFER", "EXPIRE_BOTH", "NONE"])
async def test_binance_a_requote_sends_the_mode_as_the_venue_reported_it(mode: str) -> None:
    """The cancel-replace carries the read order's selfTradePreventionMode, DECREMENT and TRANSFER too."""
    sent: list[Request] = []
    async with lotusx.connect("binance", credentials=KEYS, transport=scripted(mode, sent)) as ex:
        await ex.amend_order(SYMBOL, order_id=7, price=D("101"))
    [replace] = [r for r in sent if r.path == REPLACE]
    assert dict(replace.query)["selfTradePreventionMode"] == mode


async def test_binance_a_requote_of_an_order_read_without_a_mode_sends_none() -> None:
    """No selfTradePreventionMode in the order read: none is sent (the symbol's default, as a placement without one)."""
    sent: list[Request] = []
    async with lotusx.connect("binance", credentials=KEYS, transport=scripted(None, sent)) as ex:
        await ex.amend_order(SYMBOL, order_id=7, price=D("101"))
    [replace] = [r for r in sent if r.path == REPLACE]
    assert "selfTradePreventionMode" not in dict(replace.query)


async def test_the_binance_sim_refuses_a_replace_with_a_mode_it_does_not_offer(sim: Sim) -> None:
    """A cancel-replace asking DECREMENT (not allowed on the sim's symbols) is -1013: nothing cancelled or placed."""
    engine = sim.engine("binance", "spot")
    placed = engine.place(USER, SYMBOL, "BUY", "LIMIT", quantity=QTY, price=inside_spread(engine))
    keys = sim.api_keys("binance")
    async with aiohttp.ClientSession() as http:
        binance = SignedBinance(http, sim.rest_url("binance"), keys.hmac_key, keys.hmac_secret)
        async with await binance.signed("POST", REPLACE, symbol=SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC",
                                        quantity=str(QTY), price=str(placed.price), cancelOrderId=placed.order_id,
                                        cancelReplaceMode="STOP_ON_FAILURE",
                                        selfTradePreventionMode="DECREMENT") as resp:
            status, body = resp.status, orjson.loads(await resp.read())
    assert (status, body["code"]) == (400, -1013)
    assert [o.order_id for o in engine.open_orders(USER)] == [placed.order_id]

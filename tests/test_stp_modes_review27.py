"""Binance's DECREMENT and TRANSFER self-trade prevention: ``"decrement"`` and ``"transfer"``.

Binance has five STP modes besides NONE (enums.md "STP Modes"): EXPIRE_TAKER, EXPIRE_MAKER,
EXPIRE_BOTH, DECREMENT and TRANSFER (faqs/stp_faq.md). An order with one of the last two must
read back as having it, not as None; a ``NewOrder`` may ask for them on Binance, and a Bybit
connector, whose smpType has no such mode (docs/v5/enum.mdx), refuses one before sending
anything. The embedded sim's symbols allow neither (its allowedSelfTradePreventionModes), so it
refuses them as Binance refuses a mode a symbol does not allow (-1013). A scripted transport
stands for a Binance whose symbols allow them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.models import SelfTradePrevention
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import USER
from lotusx.testing import FakeTransport
from tests.sim.sim_helpers import connect_to
from tests.test_amend_stp_review26 import scripted

D = Decimal
SYMBOL = "BTCUSDT"
KEYS = lotusx.Credentials("stp-key-0001", "stp-secret-0001")
VENUE_MODES = [("DECREMENT", "decrement"), ("TRANSFER", "transfer")]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Both venues, no random flow."""
    async with serve(("binance", "bybit"), seed=1, config=SimConfig(driver_rate=0)) as running:
        yield running


def bid(stp: Any, price: Decimal = Decimal(100)) -> lotusx.NewOrder:
    return lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=D("0.002"), price=price,
                           self_trade_prevention=stp)


# ----- the model -----

@pytest.mark.parametrize("mode", ["decrement", "transfer"])
def test_a_new_order_may_name_decrement_and_transfer(mode: SelfTradePrevention) -> None:
    """Both are modes NewOrder accepts (Binance only: Bybit's connector refuses them)."""
    assert bid(mode).self_trade_prevention == mode


def test_a_mode_of_the_venues_spelling_is_still_refused() -> None:
    """NewOrder takes lotusx's names: "DECREMENT" is a ConfigError naming the six it knows."""
    with pytest.raises(lotusx.ConfigError, match="'decrement', 'transfer'"):
        bid("DECREMENT")


# ----- Binance: read and sent -----

@pytest.mark.parametrize(("venue", "ours"), VENUE_MODES)
async def test_binance_an_order_with_decrement_or_transfer_reports_it(venue: str, ours: str) -> None:
    """get_order reads DECREMENT as "decrement", TRANSFER as "transfer": never None, as if it had none."""
    async with lotusx.connect("binance", credentials=KEYS, transport=scripted(venue, [])) as ex:
        assert (await ex.get_order(SYMBOL, order_id=7)).self_trade_prevention == ours


@pytest.mark.parametrize("mode", ["NONE", None])
async def test_binance_none_and_an_absent_mode_read_as_none(mode: Any) -> None:
    """NONE (no prevention) and an answer without the field are no mode: None."""
    async with lotusx.connect("binance", credentials=KEYS, transport=scripted(mode, [])) as ex:
        assert (await ex.get_order(SYMBOL, order_id=7)).self_trade_prevention is None


@pytest.mark.parametrize(("venue", "ours"), VENUE_MODES)
async def test_binance_places_an_order_with_decrement_or_transfer(venue: str, ours: SelfTradePrevention) -> None:
    """place_order sends selfTradePreventionMode DECREMENT or TRANSFER, and the answer's mode reads back."""
    sent: list[Request] = []
    row = ('{"symbol":"BTCUSDT","orderId":9,"clientOrderId":"c","price":"100","origQty":"0.002",'
           '"executedQty":"0","status":"NEW","type":"LIMIT","side":"BUY","timeInForce":"GTC",'
           f'"transactTime":1700000000000,"selfTradePreventionMode":"{venue}"}}')

    def answer(request: Request) -> Response:
        sent.append(request)
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        return Response(status=200, body=row.encode())

    async with lotusx.connect("binance", credentials=KEYS, transport=FakeTransport(answer)) as ex:
        placed = await ex.place_order(bid(ours))
    [order] = [r for r in sent if r.path == "/api/v3/order"]
    assert dict(order.query)["selfTradePreventionMode"] == venue
    assert placed.self_trade_prevention == ours


async def test_the_binance_sim_refuses_decrement_as_a_symbol_not_allowing_it(sim: Sim) -> None:
    """The sim's symbols do not allow DECREMENT: -1013, an InvalidRequest, and nothing rests."""
    engine = sim.engine("binance", "spot")
    price = engine.books[SYMBOL].prices("BUY")[0]
    async with connect_to(sim, "binance", "spot") as ex:
        with pytest.raises(lotusx.InvalidRequest, match="does not allow the specified self-trade prevention"):
            await ex.place_order(bid("decrement", price))
    assert engine.open_orders(USER) == []


# ----- Bybit: refused before sending -----

@pytest.mark.parametrize("venue", ["bybit", "bybit-linear"])
@pytest.mark.parametrize("mode", ["decrement", "transfer"])
async def test_bybit_refuses_decrement_and_transfer_before_sending(venue: str, mode: SelfTradePrevention) -> None:
    """Bybit's smpType has no such mode: a ConfigError, and no order request leaves (never silently dropped)."""
    sent: list[Request] = []

    def answer(request: Request) -> Response:
        sent.append(request)
        return Response(status=500, body=b"{}")

    async with lotusx.connect(venue, credentials=KEYS, transport=FakeTransport(answer)) as ex:
        with pytest.raises(lotusx.ConfigError, match=f"{mode!r}.*Binance"):
            await ex.place_order(bid(mode))
    assert [r.path for r in sent if "order" in r.path] == []


@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_bybit_over_the_sim_nothing_is_placed(sim: Sim, category: str) -> None:
    """Against the sim: the refusal leaves the account without an open order."""
    engine = sim.engine("bybit", category)
    price = engine.books[SYMBOL].prices("BUY")[0]
    async with connect_to(sim, "bybit", category) as ex:
        with pytest.raises(lotusx.ConfigError):
            await ex.place_order(bid("decrement", price))
    assert engine.open_orders(USER) == []

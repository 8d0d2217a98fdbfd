"""``get_fee_rates``: the account's maker and taker rates of a symbol, on Binance spot and Bybit spot and linear.

Against the embedded sim over loopback sockets, which answers with the rates it charges fills
(``SimConfig.maker_fee`` / ``taker_fee``): 0.1 % maker, 0.2 % taker, different so a swap shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import msgspec
import orjson
import pytest

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Engine
from lotusx.sim.venue import MAKER
from lotusx.testing import FakeClock, FakeTransport
from tests.exchanges.test_fills_review25 import MAKER_RATE, TAKER_RATE, inside_spread, sim
from tests.sim.sim_helpers import connect_to

__all__ = ["sim"]  # a fixture (both venues, no random flow, with fees), used by name

D = Decimal
SYMBOL = "BTCUSDT"


@dataclass(frozen=True)
class Case:
    """One venue and category."""

    venue: str
    category: str

    def connect(self, sim: Sim) -> Any:
        return connect_to(sim, self.venue, self.category)

    def engine(self, sim: Sim) -> Engine:
        return sim.engine(self.venue, self.category)


CASES = [Case("binance", "spot"), Case("bybit", "spot"), Case("bybit", "linear")]


@pytest.fixture(params=CASES, ids=lambda case: f"{case.venue}-{case.category}")
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


async def test_the_rates_are_the_accounts_maker_and_taker_rates(sim: Sim, case: Case) -> None:
    """The venue's rates of the symbol come back exact, maker and taker apart."""
    async with case.connect(sim) as ex:
        rates = await ex.get_fee_rates(SYMBOL)
    assert rates == lotusx.FeeRate(symbol=SYMBOL, maker=MAKER_RATE, taker=TAKER_RATE)
    assert type(rates.maker) is Decimal and type(rates.taker) is Decimal


async def test_a_negative_maker_rate_is_a_rebate_kept_negative(case: Case) -> None:
    """A maker rebate (a negative rate) comes back negative, not refused or made positive."""
    config = SimConfig(driver_rate=0, maker_fee=D("-0.0001"), taker_fee=D("0.0005"))
    async with serve((case.venue,), seed=1, config=config) as sim, case.connect(sim) as ex:
        rates = await ex.get_fee_rates(SYMBOL)
    assert (rates.maker, rates.taker) == (D("-0.0001"), D("0.0005"))


async def sell_resting_then_buy_taking(ex: Any, engine: Engine, price: Decimal, since: int) -> list[lotusx.Fill]:
    """Our SELL at ``price`` rests and a MAKER's IOC buy takes it, then our IOC BUY takes a MAKER's SELL
    there: our fills since ``since``, oldest first (a maker's, then a taker's)."""
    await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="SELL", type="LIMIT", quantity=D("0.002"), price=price))
    engine.place(MAKER, SYMBOL, "BUY", "LIMIT", quantity=D("0.002"), price=price, tif="IOC")
    engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=D("0.003"), price=price)
    await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="IOC",
                                         quantity=D("0.003"), price=price))
    fills: list[lotusx.Fill] = await ex.get_fills(SYMBOL, since=since)
    return fills


async def test_the_rates_are_what_the_fills_were_charged(sim: Sim, case: Case) -> None:
    """A resting order filled, then a taking one: each fill's fee over what it was charged on is the rate."""
    engine = case.engine(sim)
    price = inside_spread(engine)
    since = sim.venue(case.venue).now_ms()
    async with case.connect(sim) as ex:
        rates = await ex.get_fee_rates(SYMBOL)
        fills = await sell_resting_then_buy_taking(ex, engine, price, since)
    assert [f.maker for f in fills] == [True, False]
    for fill in fills:
        # Charged on what the side received: the USDT of a sale, the BTC of a spot purchase (linear: USDT).
        base = fill.quantity * fill.price if fill.fee_asset == "USDT" else fill.quantity
        assert fill.fee / base == (rates.maker if fill.maker else rates.taker)


async def test_an_unknown_symbol_is_not_found(sim: Sim, case: Case) -> None:
    """A symbol the venue does not list is NotFound, as for an order book or an order."""
    async with case.connect(sim) as ex:
        with pytest.raises(lotusx.NotFound):
            await ex.get_fee_rates("NOPEUSDT")


def test_fee_rate_is_a_frozen_public_model() -> None:
    """lotusx.FeeRate is exported, frozen and keyword-only."""
    rate = lotusx.FeeRate(symbol=SYMBOL, maker=D("0.001"), taker=D("0.001"))
    assert "FeeRate" in lotusx.__all__
    with pytest.raises(AttributeError):
        rate.maker = D(0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        lotusx.FeeRate(SYMBOL, D("0.001"), D("0.001"))  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(rate), type=lotusx.FeeRate) == rate


NOW_MS = 1_700_000_000_000
# rest-api.md "Query Commission Rates": the docs' answer, every part of it non-zero.
DOCS_COMMISSION = {
    "symbol": "BTCUSDT",
    "standardCommission": {"maker": "0.00000010", "taker": "0.00000020", "buyer": "0.00000030", "seller": "0.00000040"},
    "specialCommission": {"maker": "0.01000000", "taker": "0.02000000", "buyer": "0.03000000", "seller": "0.04000000"},
    "taxCommission": {"maker": "0.00000112", "taker": "0.00000114", "buyer": "0.00000118", "seller": "0.00000116"},
    "discount": {"enabledForAccount": True, "enabledForSymbol": True, "discountAsset": "BNB", "discount": "0.75000000"},
}


def fake_venue(answers: dict[str, Any]) -> FakeTransport:
    """A venue answering each path with its JSON (a clock sample's ``/time`` too)."""
    def answer(request: Request) -> Response:
        return Response(status=200, body=orjson.dumps(answers[request.path]))
    return FakeTransport(answer)


async def test_binance_adds_the_standard_tax_and_special_commissions() -> None:
    """The docs' answer: maker 0.0000001 + 0.00000112 + 0.01, taker 0.0000002 + 0.00000114 + 0.02, exact."""
    transport = fake_venue({"/api/v3/time": {"serverTime": NOW_MS}, "/api/v3/account/commission": DOCS_COMMISSION})
    async with lotusx.connect("binance", credentials=lotusx.Credentials("k", "s"), transport=transport,
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        with localcontext() as context:
            context.prec = 3  # the caller's context rounds nothing
            rates = await ex.get_fee_rates(SYMBOL)
    assert (rates.maker, rates.taker) == (D("0.01000122"), D("0.02000134"))


async def test_binance_without_a_special_commission_adds_the_other_two() -> None:
    """An answer without specialCommission (older accounts' shape): standard plus tax."""
    answer = {k: v for k, v in DOCS_COMMISSION.items() if k != "specialCommission"}
    transport = fake_venue({"/api/v3/time": {"serverTime": NOW_MS}, "/api/v3/account/commission": answer})
    async with lotusx.connect("binance", credentials=lotusx.Credentials("k", "s"), transport=transport,
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        rates = await ex.get_fee_rates(SYMBOL)
    assert (rates.maker, rates.taker) == (D("0.00000122"), D("0.00000134"))


async def test_bybit_an_answer_without_the_symbol_is_not_found() -> None:
    """An empty fee-rate list (retCode 0) is NotFound, not an IndexError or a made-up zero rate."""
    def envelope(result: Any) -> dict[str, Any]:
        return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": NOW_MS}
    transport = fake_venue({
        "/v5/market/time": envelope({"timeSecond": str(NOW_MS // 1000), "timeNano": str(NOW_MS * 1_000_000)}),
        "/v5/account/fee-rate": envelope({"list": []})})
    async with lotusx.connect("bybit", credentials=lotusx.Credentials("k", "s"), transport=transport,
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        with pytest.raises(lotusx.NotFound, match="BTCUSDT"):
            await ex.get_fee_rates(SYMBOL)

"""``FeeRate.buyer``/``seller``: Binance's side add-ons, and ``FeeRate.for_fill``, a fill's whole rate.

Binance's GET /api/v3/account/commission gives each of its standard, tax and special parts a
``buyer`` and a ``seller`` rate besides ``maker`` and ``taker``; a fill is charged
``maker-or-taker + buyer-or-seller``, summed over the parts (faqs/commission_faq.md "How is the
commission calculated?": "Notional value * (taker + seller)"). Bybit has no side add-ons: 0.
Against the embedded sim over loopback sockets, whose Binance dialect reports and charges
``SimConfig.buyer_fee`` / ``seller_fee``; and against a fake transport with the docs' answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal, localcontext
from typing import Any

import msgspec
import pytest

import lotusx
from lotusx.sim import Sim, SimConfig, serve
from lotusx.testing import FakeClock
from tests.sim.sim_helpers import connect_to
from tests.test_fee_rates_review26 import DOCS_COMMISSION, NOW_MS, fake_venue, sell_resting_then_buy_taking

D = Decimal
SYMBOL = "BTCUSDT"
MAKER_RATE, TAKER_RATE = D("0.001"), D("0.002")
BUYER_RATE, SELLER_RATE = D("0.00003"), D("0.00004")


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Both venues, no random flow, with maker/taker fees and Binance buyer/seller add-ons."""
    config = SimConfig(driver_rate=0, maker_fee=MAKER_RATE, taker_fee=TAKER_RATE, buyer_fee=BUYER_RATE,
                       seller_fee=SELLER_RATE)
    async with serve(("binance", "bybit"), seed=1, config=config) as running:
        yield running


def fake_binance(answer: dict[str, Any]) -> Any:
    """A Binance connector over a fake venue answering GET /api/v3/account/commission with ``answer``."""
    transport = fake_venue({"/api/v3/time": {"serverTime": NOW_MS}, "/api/v3/account/commission": answer})
    return lotusx.connect("binance", credentials=lotusx.Credentials("k", "s"), transport=transport,
                          clock=FakeClock(NOW_MS / 1000))


# ----- the model -----

def test_buyer_and_seller_default_to_zero() -> None:
    """A FeeRate made with maker and taker only has no side add-ons, and equals one made with 0s."""
    rate = lotusx.FeeRate(symbol=SYMBOL, maker=D("0.001"), taker=D("0.002"))
    assert (rate.buyer, rate.seller) == (0, 0)
    assert rate == lotusx.FeeRate(symbol=SYMBOL, maker=D("0.001"), taker=D("0.002"), buyer=D(0), seller=D(0))


def test_for_fill_adds_the_side_to_the_role() -> None:
    """for_fill: maker or taker, plus buyer or seller; each of the four cases its own sum."""
    rate = lotusx.FeeRate(symbol=SYMBOL, maker=D("0.1"), taker=D("0.2"), buyer=D("0.03"), seller=D("0.04"))
    assert rate.for_fill("BUY", maker=True) == D("0.13")
    assert rate.for_fill("BUY", maker=False) == D("0.23")
    assert rate.for_fill("SELL", maker=True) == D("0.14")
    assert rate.for_fill("SELL", maker=False) == D("0.24")


def test_for_fill_is_exact_whatever_the_decimal_context() -> None:
    """A caller's 3-digit context rounds nothing: the sum keeps every digit the venue gave."""
    rate = lotusx.FeeRate(symbol=SYMBOL, maker=D("0.01000122"), taker=D("0.02000134"), buyer=D("0.03000148"),
                          seller=D("0.04000156"))
    with localcontext() as context:
        context.prec = 3
        assert rate.for_fill("SELL", maker=False) == D("0.06000290")


def test_for_fill_keeps_a_rebate_negative() -> None:
    """A maker rebate with a smaller buyer add-on is still a rebate, exactly the difference."""
    rate = lotusx.FeeRate(symbol=SYMBOL, maker=D("-0.0001"), taker=D("0.0005"), buyer=D("0.00002"))
    assert rate.for_fill("BUY", maker=True) == D("-0.00008")


def test_for_fill_refuses_a_side_it_does_not_know() -> None:
    """A lower-case or unknown side is a ConfigError, not a silent maker/taker rate without the add-on."""
    rate = lotusx.FeeRate(symbol=SYMBOL, maker=D("0.001"), taker=D("0.002"))
    with pytest.raises(lotusx.ConfigError, match="side"):
        rate.for_fill("buy", maker=True)  # type: ignore[arg-type]


def test_a_fee_rate_with_add_ons_round_trips_through_json() -> None:
    """buyer and seller are encoded and decoded like maker and taker."""
    rate = lotusx.FeeRate(symbol=SYMBOL, maker=D("0.001"), taker=D("0.002"), buyer=D("0.0003"), seller=D("0.0004"))
    assert msgspec.json.decode(msgspec.json.encode(rate), type=lotusx.FeeRate) == rate


# ----- Binance's answer -----

async def test_binance_adds_each_parts_buyer_and_seller() -> None:
    """The docs' answer: buyer 0.0000003 + 0.00000118 + 0.03, seller 0.0000004 + 0.00000116 + 0.04, exact."""
    async with fake_binance(DOCS_COMMISSION) as ex:
        with localcontext() as context:
            context.prec = 3  # the caller's context rounds nothing
            rates = await ex.get_fee_rates(SYMBOL)
    assert (rates.buyer, rates.seller) == (D("0.03000148"), D("0.04000156"))
    assert (rates.maker, rates.taker) == (D("0.01000122"), D("0.02000134"))


async def test_binance_a_taking_sale_is_the_faqs_worked_example() -> None:
    """commission_faq.md's SELL MARKET example: taker + seller summed over the three parts, 0.0600029 in all."""
    async with fake_binance(DOCS_COMMISSION) as ex:
        rates = await ex.get_fee_rates(SYMBOL)
    # standard 0.00000060 + tax 0.00000230 + special 0.06 (the FAQ's "taker + seller" of each part)
    assert rates.for_fill("SELL", maker=False) == D("0.00000060") + D("0.00000230") + D("0.06")


async def test_binance_without_a_special_commission_adds_the_others_add_ons() -> None:
    """An answer without specialCommission: the standard and tax buyer/seller rates alone."""
    answer = {k: v for k, v in DOCS_COMMISSION.items() if k != "specialCommission"}
    async with fake_binance(answer) as ex:
        rates = await ex.get_fee_rates(SYMBOL)
    assert (rates.buyer, rates.seller) == (D("0.00000148"), D("0.00000156"))


async def test_binance_a_part_without_its_seller_rate_is_a_decode_error() -> None:
    """Every part of the documented answer has buyer and seller: one missing is refused, not read as 0."""
    answer = dict(DOCS_COMMISSION)
    answer["taxCommission"] = {"maker": "0.00000112", "taker": "0.00000114", "buyer": "0.00000118"}
    async with fake_binance(answer) as ex:
        with pytest.raises(lotusx.DecodeError):
            await ex.get_fee_rates(SYMBOL)


# ----- over the sim -----

async def test_the_sims_binance_reports_its_buyer_and_seller_add_ons(sim: Sim) -> None:
    """SimConfig.buyer_fee/seller_fee arrive on Binance's FeeRate exact, beside maker and taker."""
    async with connect_to(sim, "binance", "spot") as ex:
        rates = await ex.get_fee_rates(SYMBOL)
    assert rates == lotusx.FeeRate(symbol=SYMBOL, maker=MAKER_RATE, taker=TAKER_RATE, buyer=BUYER_RATE,
                                   seller=SELLER_RATE)


@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_bybit_has_no_side_add_ons(sim: Sim, category: str) -> None:
    """Bybit's fee-rate answer has maker and taker only: buyer and seller are 0, whatever the sim's Binance charges."""
    async with connect_to(sim, "bybit", category) as ex:
        rates = await ex.get_fee_rates(SYMBOL)
    assert (rates.maker, rates.taker, rates.buyer, rates.seller) == (MAKER_RATE, TAKER_RATE, 0, 0)


async def test_the_sims_binance_charges_each_fill_its_whole_rate(sim: Sim) -> None:
    """A selling maker and a buying taker: each fill's fee over what it was charged on is for_fill's rate."""
    engine = sim.engine("binance", "spot")
    price = engine.books[SYMBOL].prices("BUY")[0] + D("0.01")  # inside the spread: only these orders trade there
    since = sim.venue("binance").now_ms()
    async with connect_to(sim, "binance", "spot") as ex:
        rates = await ex.get_fee_rates(SYMBOL)
        fills = await sell_resting_then_buy_taking(ex, engine, price, since)
    assert [(f.side, f.maker) for f in fills] == [("SELL", True), ("BUY", False)]
    for fill in fills:
        # Charged on what the side received: the USDT of a sale, the BTC of a purchase.
        base = fill.quantity * fill.price if fill.side == "SELL" else fill.quantity
        # Binance writes a commission with eight decimals (the sim rounds half-even, as Decimal's default).
        assert fill.fee == (base * rates.for_fill(fill.side, maker=fill.maker)).quantize(D("1E-8"))
    assert rates.for_fill("SELL", maker=True) == D("0.00104")
    assert rates.for_fill("BUY", maker=False) == D("0.00203")

"""Bybit get_instruments, spot and linear: the sim's instruments-info over loopback, paging, venue-shaped answers.

Fields from bybit-exchange/docs docs/v5/market/instrument.mdx: spot steps quantities by
lotSizeFilter.basePrecision with minOrderAmt as the value floor and states no min/max price;
linear steps by qtyStep with minNotionalValue, and pages (limit 1..1000, nextPageCursor).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest
from bybit_helpers import KEY, NOW_MS, SECRET, Venue, answer, connect

import lotusx
from lotusx import Instrument, NewOrder, OrderOutsideRules
from lotusx.exchanges.bybit import Bybit
from lotusx.kernel.message import Request, Response
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.book import Market
from lotusx.sim.venue import MARKETS
from lotusx.testing import FakeClock, FakeTransport

D = Decimal


@pytest.fixture
async def linear(sim: Sim, credentials: lotusx.Credentials) -> AsyncIterator[Bybit]:
    """A linear connector on the sim."""
    async with lotusx.connect("bybit-linear", credentials=credentials, rest_url=sim.rest_url("bybit"),
                              ws_url=sim.ws_url("bybit")) as ex:
        yield ex


def spot_rules(m: Market) -> Instrument:
    """The sim's market config as Bybit spot states it: basePrecision steps (and floors) quantities; no price bounds."""
    return Instrument(symbol=m.symbol, base=m.base, quote=m.quote, trading=True, tick_size=m.tick,
                      step_size=m.step, min_quantity=m.step, max_quantity=m.max_qty, min_notional=m.min_notional,
                      max_market_quantity=m.max_qty)


def linear_rules(m: Market) -> Instrument:
    """The sim's market config as Bybit linear states it: priceFilter bounds, qtyStep, minNotionalValue."""
    return Instrument(symbol=m.symbol, base=m.base, quote=m.quote, trading=True, tick_size=m.tick, min_price=m.tick,
                      max_price=m.max_price, step_size=m.step, min_quantity=m.step, max_quantity=m.max_qty,
                      min_notional=m.min_notional, max_market_quantity=m.max_qty)


async def test_spot_instruments_equal_the_sims_config(bybit: Bybit) -> None:
    """Every spot symbol, exact, as the sim's markets are configured."""
    assert await bybit.get_instruments() == {m.symbol: spot_rules(m) for m in MARKETS}


async def test_linear_instruments_equal_the_sims_config(linear: Bybit) -> None:
    """Every linear symbol, exact, with the price bounds linear states."""
    assert await linear.get_instruments() == {m.symbol: linear_rules(m) for m in MARKETS}


async def test_the_symbols_filter(bybit: Bybit, linear: Bybit) -> None:
    """symbols= returns just those, one symbol or several."""
    assert list(await bybit.get_instruments(["ETHUSDT"])) == ["ETHUSDT"]
    assert set(await linear.get_instruments({"ETHUSDT", "BTCUSDT"})) == {"BTCUSDT", "ETHUSDT"}


async def test_an_unknown_symbol_is_not_found(bybit: Bybit, linear: Bybit) -> None:
    """Bybit lists an unknown symbol as nothing (retCode 0, empty list): NotFound naming it, as Binance's -1121."""
    for ex in (bybit, linear):
        with pytest.raises(lotusx.NotFound, match="NOPE"):
            await ex.get_instruments(["NOPE"])
        with pytest.raises(lotusx.NotFound, match="NOPE"):
            await ex.get_instruments(["BTCUSDT", "NOPE"])


async def test_linear_pages_are_followed_to_the_end() -> None:
    """1,001 linear symbols come in two pages of at most 1000; every one comes back, once."""
    # Each a BTC book (the sim's market maker seeds every book from its BTC and USDT).
    many = tuple(Market(f"C{n}USDT", "BTC", "USDT", D("0.01"), D("0.00001"), D(100)) for n in range(1001))
    async with serve(("bybit",), seed=1, config=SimConfig(driver_rate=0, markets=many)) as sim:
        keys = sim.api_keys("bybit")
        async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
            instruments = await ex.get_instruments()
    assert list(instruments) == [m.symbol for m in many]
    assert instruments["C1000USDT"] == linear_rules(many[-1])


@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_what_check_accepts_the_sim_accepts_and_what_it_refuses_the_sim_rejects(
        sim: Sim, credentials: lotusx.Credentials, category: str) -> None:
    """A rounded order rests; the unrounded price (spot), the off-step quantity and one under the floor are refused."""
    async with lotusx.connect("bybit" if category == "spot" else "bybit-linear", credentials=credentials,
                              rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        btc = (await ex.get_instruments(["BTCUSDT"]))["BTCUSDT"]
        price, quantity = btc.round_price(D("1000.005"), "BUY"), btc.round_quantity(D("0.0050009"))
        good = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=price, quantity=quantity)
        btc.check(good)
        assert (await ex.place_order(good)).status == "NEW"
        bad = {"step_size": NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=price, quantity=D("0.0050009")),
               "min_notional": NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=price,
                                        quantity=D("0.00499"))}
        if category == "spot":  # the sim checks the spot tick only (Spot Trade code 170134)
            bad["tick_size"] = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=D("1000.005"),
                                        quantity=quantity)
        for rule, order in bad.items():
            with pytest.raises(OrderOutsideRules) as refused:
                btc.check(order)
            assert refused.value.rule == rule
            with pytest.raises(lotusx.VenueError):
                await ex.place_order(order)


SPOT = {"category": "spot", "list": [{
    "symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "innovation": "0", "symbolType": "",
    "status": "Trading",
    "marginTrading": "utaOnly", "stTag": "0",
    "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.00000001", "minOrderQty": "0.000048",
                      "maxOrderQty": "71.73956243", "minOrderAmt": "1", "maxOrderAmt": "2000000",
                      "maxLimitOrderQty": "71.73956243", "maxMarketOrderQty": "35.86978121",
                      "postOnlyMaxLimitOrderSize": "358.69781215"},
    "priceFilter": {"tickSize": "0.01"},
    "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}}]}
"""A spot answer shaped as docs/v5/market/instrument.mdx's response (hand-written)."""
LINEAR = {"category": "linear", "nextPageCursor": "", "list": [{
    "symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "BTC", "quoteCoin": "USDT",
    "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
    "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
    "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
    "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                      "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "500.000", "minNotionalValue": "5"},
    "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
    "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None}]}
"""A linear answer shaped as the doc's response (hand-written)."""


def instruments(result: object) -> dict[str, object]:
    return {"market_instruments_info": lambda request: answer(result)}


async def test_a_venue_shaped_spot_answer() -> None:
    """Spot: basePrecision is the step and the floor (minOrderQty is no longer checked), maxLimitOrderQty the cap."""
    conn, transport = connect(**instruments(SPOT))
    async with conn as ex:
        got = await ex.get_instruments(["BTCUSDT"])
    assert got == {"BTCUSDT": Instrument(symbol="BTCUSDT", base="BTC", quote="USDT", trading=True,
                                         tick_size=D("0.01"), step_size=D("0.000001"), min_quantity=D("0.000001"),
                                         max_quantity=D("71.73956243"), min_notional=D(1),
                                         max_market_quantity=D("35.86978121"),
                                         max_post_only_quantity=D("358.69781215"))}
    [request] = [r for r in transport.requests if r.path == "/v5/market/instruments-info"]
    assert request.query_string == "category=spot&symbol=BTCUSDT"  # spot takes no limit or cursor


async def test_a_venue_shaped_linear_answer() -> None:
    """Linear: priceFilter's bounds, qtyStep, minOrderQty, maxOrderQty and minNotionalValue, exact."""
    pages: list[Request] = []

    def venue(request: Request) -> Response:
        pages.append(request)
        return answer(LINEAR)

    clock = FakeClock(NOW_MS / 1000)
    transport = FakeTransport(Venue(clock, market_instruments_info=venue))
    async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET), clock=clock,
                              transport=transport) as ex:
        got = await ex.get_instruments()
    assert got == {"BTCUSDT": Instrument(symbol="BTCUSDT", base="BTC", quote="USDT", trading=True,
                                         tick_size=D("0.1"), min_price=D("0.1"), max_price=D("1999999.8"),
                                         step_size=D("0.001"), min_quantity=D("0.001"), max_quantity=D(1190),
                                         min_notional=D(5), max_market_quantity=D(500))}
    assert [r.query_string for r in pages] == ["category=linear&limit=1000"]


async def test_a_symbol_not_trading_is_listed_as_not_trading() -> None:
    """A status other than Trading (PreLaunch, Delivering, Closed) reads as trading=False."""
    closed = orjson.loads(orjson.dumps(SPOT))
    closed["list"][0]["status"] = "Closed"
    conn, _ = connect(**instruments(closed))
    async with conn as ex:
        assert (await ex.get_instruments())["BTCUSDT"].trading is False


async def test_a_bare_symbol_string_is_refused_and_nothing_asked_is_nothing(bybit: Bybit) -> None:
    """symbols="BTCUSDT" is a ConfigError saying to pass a list; an empty collection is an empty answer."""
    with pytest.raises(lotusx.ConfigError, match=r"\['BTCUSDT'\]"):
        await bybit.get_instruments("BTCUSDT")
    assert await bybit.get_instruments(()) == {}

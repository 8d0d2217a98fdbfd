"""Binance get_instruments: the sim's exchangeInfo over loopback, and a venue-shaped answer with disabled filters.

Shapes from binance-spot-api-docs rest-api.md "Exchange information" and filters.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import orjson
import pytest

import lotusx
from lotusx import Instrument, NewOrder, OrderOutsideRules
from lotusx.exchanges.binance import Binance
from lotusx.kernel.message import Request, Response
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.book import Market
from lotusx.sim.venue import MARKETS
from lotusx.testing import FakeClock, FakeTransport

D = Decimal


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """A quiet Binance sim: no random flow."""
    async with serve(("binance",), seed=1, config=SimConfig(driver_rate=0)) as running:
        yield running


@pytest.fixture
async def ex(sim: Sim) -> AsyncIterator[Binance]:
    """A connector holding the sim's key."""
    keys = sim.api_keys("binance")
    async with lotusx.connect("binance", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                              rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance")) as connector:
        yield connector


def stated(m: Market) -> Instrument:
    """What the sim's market config says, as an Instrument (the sim states minPrice = tick, minQty = step)."""
    return Instrument(symbol=m.symbol, base=m.base, quote=m.quote, trading=True, tick_size=m.tick, min_price=m.tick,
                      max_price=m.max_price, step_size=m.step, min_quantity=m.step, max_quantity=m.max_qty,
                      min_notional=m.min_notional)


async def test_every_symbol_with_the_sims_exact_rules(ex: Binance) -> None:
    """Without symbols, every listed symbol comes back, its rules equal to the sim's market config."""
    instruments = await ex.get_instruments()
    assert instruments == {m.symbol: stated(m) for m in MARKETS}


async def test_the_symbols_filter_asks_for_those_only(ex: Binance) -> None:
    """symbols= returns just those, keyed by symbol."""
    assert list(await ex.get_instruments(["ETHUSDT"])) == ["ETHUSDT"]
    assert set(await ex.get_instruments(("BTCUSDT", "ETHUSDT"))) == {"BTCUSDT", "ETHUSDT"}


async def test_an_unknown_symbol_is_not_found(ex: Binance) -> None:
    """A symbol the venue does not list is NotFound (-1121 Invalid symbol), as for a book."""
    with pytest.raises(lotusx.NotFound, match="Invalid symbol"):
        await ex.get_instruments(["BTCUSDT", "NOPE"])


async def test_what_check_accepts_the_sim_accepts_and_what_it_refuses_the_sim_rejects(ex: Binance) -> None:
    """The rules read are the venue's: a rounded order rests; unrounded ones and one under min_notional are refused."""
    btc = (await ex.get_instruments(["BTCUSDT"]))["BTCUSDT"]
    price, quantity = btc.round_price(D("1000.005"), "BUY"), btc.round_quantity(D("0.0050009"))
    good = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=price, quantity=quantity)
    btc.check(good)
    assert (await ex.place_order(good)).status == "NEW"
    for bad, rule in ((NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=D("1000.005"), quantity=quantity),
                       "tick_size"),
                      (NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=price, quantity=D("0.0050009")),
                       "step_size"),
                      (NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", price=price, quantity=D("0.00499")),
                       "min_notional")):
        with pytest.raises(OrderOutsideRules) as refused:
            btc.check(bad)
        assert refused.value.rule == rule
        with pytest.raises(lotusx.VenueError, match="Filter failure"):  # -1013: InvalidRequest
            await ex.place_order(bad)


EXCHANGE_INFO = {
    "timezone": "UTC", "serverTime": 1565246363776, "rateLimits": [], "exchangeFilters": [],
    "symbols": [{
        "symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "baseAssetPrecision": 8, "quoteAsset": "BTC",
        "quotePrecision": 8, "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"], "icebergAllowed": True,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": True, "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "0.00000000",
             "tickSize": "0.00000000"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "5", "multiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "100000.00000000", "stepSize": "0.00010000"},
            {"filterType": "MIN_NOTIONAL", "minNotional": "0.00010000", "applyToMarket": True, "avgPriceMins": 5},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
        ]}, {
        "symbol": "BNBBTC", "status": "BREAK", "baseAsset": "BNB", "quoteAsset": "BTC", "isSpotTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "100000.00000000",
             "tickSize": "0.00000100"},
            {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000", "stepSize": "0.00100000"},
            {"filterType": "NOTIONAL", "minNotional": "0.00010000", "applyMinToMarket": False,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ]}]}
"""Two symbols as exchangeInfo lists them (rest-api.md example; filters.md formats), hand-written:
ETHBTC with tickSize and maxPrice 0 (rules disabled, filters.md PRICE_FILTER) and the legacy MIN_NOTIONAL,
BNBBTC halted (status BREAK) with the NOTIONAL filter."""


def _listing(asked: list[Request]) -> Callable[[Request], Response]:
    """A venue answering the server time and, to anything else, ``EXCHANGE_INFO``; each request kept in ``asked``."""
    def venue(request: Request) -> Response:
        asked.append(request)
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1565246363776}')
        return Response(status=200, body=orjson.dumps(EXCHANGE_INFO))

    return venue


async def test_a_venue_shaped_answer_with_disabled_filters_decodes_exactly() -> None:
    """A 0 tickSize or maxPrice is no rule (None), MIN_NOTIONAL still gives the floor, BREAK is not trading."""
    asked: list[Request] = []
    transport, clock = FakeTransport(_listing(asked)), FakeClock(1_565_246_363.776)
    async with lotusx.connect("binance", transport=transport, clock=clock) as ex:
        instruments = await ex.get_instruments()
    assert instruments == {
        "ETHBTC": Instrument(symbol="ETHBTC", base="ETH", quote="BTC", trading=True, tick_size=None,
                             min_price=D("0.000001"), max_price=None, step_size=D("0.0001"), min_quantity=D("0.0001"),
                             max_quantity=D(100_000), min_notional=D("0.0001")),
        "BNBBTC": Instrument(symbol="BNBBTC", base="BNB", quote="BTC", trading=False, tick_size=D("0.000001"),
                             min_price=D("0.000001"), max_price=D(100_000), step_size=D("0.001"),
                             min_quantity=D("0.001"), max_quantity=D(100_000), min_notional=D("0.0001")),
    }
    assert str(instruments["ETHBTC"].min_quantity) == "0.00010000"  # as the venue wrote it
    assert [r.path for r in asked if r.path != "/api/v3/time"] == ["/api/v3/exchangeInfo"]


async def test_symbols_go_as_one_json_array() -> None:
    """symbols= is sent as the JSON array rest-api.md shows, one request for all (weight 20 either way)."""
    asked: list[Request] = []
    transport, clock = FakeTransport(_listing(asked)), FakeClock(1_565_246_363.776)
    async with lotusx.connect("binance", transport=transport, clock=clock) as ex:
        await ex.get_instruments(["ETHBTC", "BNBBTC"])
    [request] = [r for r in asked if r.path == "/api/v3/exchangeInfo"]
    assert dict(request.query) == {"symbols": '["ETHBTC","BNBBTC"]'}


async def test_a_bare_symbol_string_is_refused_before_sending(ex: Binance) -> None:
    """symbols="BTCUSDT" would ask for B, T, C...: a ConfigError saying to pass a list; nothing is sent."""
    with pytest.raises(lotusx.ConfigError, match=r"\['BTCUSDT'\]"):
        await ex.get_instruments("BTCUSDT")


async def test_no_symbols_asked_is_nothing(ex: Binance) -> None:
    """An empty collection asks for nothing (not for every symbol)."""
    assert await ex.get_instruments([]) == {}

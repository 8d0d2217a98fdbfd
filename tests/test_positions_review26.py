"""Bybit linear positions: get_positions and watch_positions over the sim, and against the docs' payloads."""

from __future__ import annotations

import asyncio
import contextlib
import re
import textwrap
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.account import follow_positions
from lotusx.exchanges.bybit import VENUE_LINEAR, Bybit
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.kernel.message import Request, Response
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Market
from lotusx.sim.venue import MAKER, USER
from lotusx.testing import FakeClock, FakeTransport
from lotusx.ws import Gap, Lost, Resumed

BTC = "BTCUSDT"
USDC_PERP = Market("BTCPERP", "BTC", "USDC", D("0.01"), D("0.00001"), D(50_000))
QUIET = SimConfig(depth_interval=0.02, driver_rate=0)
NOW_MS = 1_700_000_000_000
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Bybit alone, no random flow: every trade is one a test makes, at the price it names."""
    async with serve(("bybit",), seed=1, config=QUIET) as running:
        yield running


@pytest.fixture
async def linear(sim: Sim) -> AsyncIterator[Bybit]:
    keys = sim.api_keys("bybit")
    async with lotusx.connect(VENUE_LINEAR, credentials=lotusx.Credentials(api_key=keys.hmac_key,
                                                                            secret=keys.hmac_secret),
                              rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
        yield ex


async def trade(sim: Sim, ex: Bybit, side: str, qty: str, price: str, symbol: str = BTC) -> None:
    """Fill ``qty`` at exactly ``price``: the sim's maker rests the other side inside the seeded spread
    (its levels are 10 ticks apart around 50000), then our IOC order takes it whole."""
    sim.engine("bybit", "linear").place(MAKER, symbol, "SELL" if side == "BUY" else "BUY", "LIMIT",
                                        quantity=D(qty), price=D(price))
    order = await ex.place_order(lotusx.NewOrder(symbol=symbol, side=side, type="LIMIT",  # type: ignore[arg-type]
                                                 time_in_force="IOC", quantity=D(qty), price=D(price)))
    assert (await ex.get_order(symbol, order_id=order.order_id)).status == "FILLED"


async def only(ex: Bybit, symbol: str = BTC) -> lotusx.Position:
    [position] = await ex.get_positions(symbol)
    return position


async def test_a_long_opened_is_listed_with_its_entry_and_mark(sim: Sim, linear: Bybit) -> None:
    """A buy opens a long at the fill's price; mark is the last trade, unrealised 0, no liquidation price."""
    await trade(sim, linear, "BUY", "0.02", "50000.02")
    position = await only(linear)
    assert (position.symbol, position.side, position.size, position.entry_price) == (BTC, "BUY", D("0.02"),
                                                                                      D("50000.02"))
    assert (position.mark_price, position.unrealised_pnl, position.realised_pnl) == (D("50000.02"), 0, 0)
    assert position.liquidation_price is None and position.leverage == 10 and position.timestamp


async def test_adding_to_a_long_averages_its_entry_exactly(sim: Sim, linear: Bybit) -> None:
    """0.02 at 50000.02 and 0.01 at 50000.08 average to 50000.04; unrealised (mark - entry) * size."""
    await trade(sim, linear, "BUY", "0.02", "50000.02")
    await trade(sim, linear, "BUY", "0.01", "50000.08")
    position = await only(linear)
    assert (position.size, position.entry_price, position.unrealised_pnl) == (D("0.03"), D("50000.04"), D("0.0012"))


async def test_a_partial_close_realises_its_pnl_and_keeps_the_entry(sim: Sim, linear: Bybit) -> None:
    """Selling 0.01 of a long entered at 50000.04 at 50000.09 realises 0.0005 exactly; the entry stays."""
    await trade(sim, linear, "BUY", "0.02", "50000.02")
    await trade(sim, linear, "BUY", "0.01", "50000.08")
    await trade(sim, linear, "SELL", "0.01", "50000.09")
    position = await only(linear)
    assert (position.side, position.size, position.entry_price, position.realised_pnl) == (
        "BUY", D("0.02"), D("50000.04"), D("0.0005"))


async def test_selling_past_a_long_flips_it_short_at_the_fill_price(sim: Sim, linear: Bybit) -> None:
    """A sale larger than the long closes it (realising) and opens the rest short, entered at the fill's price."""
    await trade(sim, linear, "BUY", "0.02", "50000.04")
    await trade(sim, linear, "SELL", "0.05", "49999.99")
    position = await only(linear)
    assert (position.side, position.size, position.entry_price, position.realised_pnl) == (
        "SELL", D("0.03"), D("49999.99"), D("-0.001"))
    await trade(sim, linear, "BUY", "0.01", "49999.97")  # the mark falls: the short gains
    assert (await only(linear)).unrealised_pnl == D("0.0004")  # (49999.97 - 49999.99) * -0.02


async def test_a_flat_position_is_not_listed(sim: Sim, linear: Bybit) -> None:
    """Closed to zero, a position is in neither list, though the venue answers a zero row for its symbol."""
    await trade(sim, linear, "BUY", "0.02", "50000.02")
    await trade(sim, linear, "SELL", "0.02", "50000.05")
    assert await linear.get_positions(BTC) == [] and await linear.get_positions() == []
    assert sim.venue("bybit").positions.of(USER, BTC, 0).realised == D("0.0006")


async def test_positions_are_listed_by_settle_coin(sim: Sim, linear: Bybit) -> None:
    """Without a symbol, USDT-settled positions by default, USDC-settled ones with settle_coin="USDC"."""
    engine = sim.engine("bybit", "linear")  # listed now: the sim's accounts start with no USDC to seed its book
    engine.list_market(USDC_PERP)
    engine.deposit(MAKER, "USDC", D(100_000))
    engine.deposit(USER, "USDC", D(100))  # a USDC perpetual's margin is USDC (0.01 * 49999.98 / 10 here)
    await trade(sim, linear, "BUY", "0.02", "50000.02")
    await trade(sim, linear, "SELL", "0.01", "49999.98", symbol="BTCPERP")
    assert [(p.symbol, p.side) for p in await linear.get_positions()] == [(BTC, "BUY")]
    assert [(p.symbol, p.side) for p in await linear.get_positions(settle_coin="USDC")] == [("BTCPERP", "SELL")]


async def test_the_sim_lists_by_symbol_a_zero_row_and_pages_by_cursor(sim: Sim, linear: Bybit) -> None:
    """The sim answers as the docs say: a symbol's flat one-way row (side "", size "0"), and pages by cursor."""
    await trade(sim, linear, "BUY", "0.02", "50000.02")
    rows = (await linear.rest.get(ep.POSITION_LIST.path, [("category", "linear"), ("symbol", "ETHUSDT")],
                                  endpoint=ep.POSITION_LIST))["result"]["list"]
    assert [(r["side"], r["size"], r["positionIdx"]) for r in rows] == [("", "0", 0)]
    await trade(sim, linear, "BUY", "0.01", "3000.01", symbol="ETHUSDT")
    first = (await linear.rest.get(ep.POSITION_LIST.path, [("category", "linear"), ("settleCoin", "USDT"),
                                                           ("limit", 1)], endpoint=ep.POSITION_LIST))["result"]
    assert len(first["list"]) == 1 and first["nextPageCursor"]
    assert {p.symbol for p in await linear.get_positions()} == {BTC, "ETHUSDT"}


async def test_watch_positions_sees_a_fill_change_the_position(sim: Sim, linear: Bybit) -> None:
    """The private position stream yields the position a fill made, whole; then its close, flat (side None)."""
    async with contextlib.aclosing(linear.watch_positions()) as stream:
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.3)  # subscribed (the sim pushes only to a subscribed connection)
        await trade(sim, linear, "BUY", "0.02", "50000.02")
        position = await asyncio.wait_for(first, 5)
        assert (position.symbol, position.side, position.size, position.entry_price) == (BTC, "BUY", D("0.02"),
                                                                                          D("50000.02"))
        await trade(sim, linear, "SELL", "0.02", "50000.03")
        closed = await asyncio.wait_for(anext(stream), 5)
        assert (closed.side, closed.size, closed.realised_pnl) == (None, 0, D("0.0002"))


# ----- against the docs' payloads (a fake venue) -----

def envelope(result: Any) -> Response:
    return Response(status=200, body=orjson.dumps({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {},
                                                   "time": NOW_MS}))


def row(symbol: str, **fields: Any) -> dict[str, Any]:
    """A linear position row as docs/v5/position/position.mdx shows one."""
    base = {"positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": symbol, "side": "Buy",
            "size": "0.5", "avgPrice": "27464.50441675", "positionValue": "13732.25", "leverage": "10",
            "markPrice": "28224.50", "liqPrice": "", "bustPrice": "", "unrealisedPnl": "380.0",
            "curRealisedPnl": "-1.2", "cumRealisedPnl": "-25.06579337", "createdTime": "1676538056258",
            "updatedTime": "1697673600012", "seq": 5723621632, "positionStatus": "Normal"}
    return base | fields


def venue(pages: dict[str, dict[str, Any]], sent: list[dict[str, str]]) -> FakeTransport:
    """Answers /v5/position/list with the page named by the request's cursor ("" for the first)."""
    def handle(request: Request) -> Response:
        if request.path == "/v5/market/time":
            return envelope({"timeSecond": str(NOW_MS // 1000), "timeNano": str(NOW_MS * 1_000_000)})
        params = {k: str(v) for k, v in request.query}
        sent.append(params)
        return envelope(pages[params.get("cursor", "")])
    return FakeTransport(handle)


def faked(transport: FakeTransport, venue_: object = VENUE_LINEAR) -> Any:
    return lotusx.connect(venue_, credentials=lotusx.Credentials(api_key="k", secret="s"),
                          clock=FakeClock(NOW_MS / 1000), transport=transport, max_wait=0)


async def test_positions_are_walked_over_every_page_of_200() -> None:
    """201 positions come in two pages of 200 and 1, the second asked by the first's nextPageCursor."""
    rows = [row(f"S{i}USDT") for i in range(201)]
    sent: list[dict[str, str]] = []
    pages = {"": {"category": "linear", "list": rows[:200], "nextPageCursor": "page%3A2"},
             "page%3A2": {"category": "linear", "list": rows[200:], "nextPageCursor": ""}}
    async with faked(venue(pages, sent)) as ex:
        positions = await ex.get_positions()
    assert [p.symbol for p in positions] == [f"S{i}USDT" for i in range(201)]
    assert [(p.get("category"), p.get("settleCoin"), p.get("limit"), p.get("cursor")) for p in sent] == [
        ("linear", "USDT", "200", None), ("linear", "USDT", "200", "page%3A2")]


async def test_empty_figures_are_none_and_hedge_legs_keep_their_sides() -> None:
    """liqPrice "" (or the stream's "0") and leverage "" are None, never 0; both hedge legs come; a flat row not."""
    rows = [row("BTCUSDT", positionIdx=1, side="Buy", leverage=""),
            row("BTCUSDT", positionIdx=2, side="Sell", size="0.3", liqPrice="0"),
            row("ETHUSDT", side="", size="0", avgPrice="0", liqPrice="12.5")]
    sent: list[dict[str, str]] = []
    async with faked(venue({"": {"category": "linear", "list": rows, "nextPageCursor": ""}}, sent)) as ex:
        buy, sell = await ex.get_positions("BTCUSDT")
    assert sent[0]["symbol"] == "BTCUSDT" and "settleCoin" not in sent[0]
    assert buy == lotusx.Position(symbol="BTCUSDT", side="BUY", size=D("0.5"), entry_price=D("27464.50441675"),
                                  mark_price=D("28224.50"), unrealised_pnl=D("380.0"), realised_pnl=D("-25.06579337"),
                                  leverage=None, liquidation_price=None, timestamp=1697673600012)
    assert (sell.side, sell.size, sell.leverage, sell.liquidation_price) == ("SELL", D("0.3"), D(10), None)


async def test_a_spot_connector_has_no_positions() -> None:
    """get_positions on spot is a ConfigError naming the linear venue, before anything is sent."""
    sent: list[dict[str, str]] = []
    transport = venue({}, sent)
    async with faked(transport, "bybit") as ex:
        with pytest.raises(lotusx.ConfigError, match="bybit-linear"):
            await ex.get_positions("BTCUSDT")
        with pytest.raises(lotusx.ConfigError, match="spot has no positions"):
            await anext(ex.watch_positions())
    assert transport.requests == []


async def test_a_position_is_an_exact_frozen_public_model() -> None:
    """lotusx.Position is exported, frozen, and keeps the venue's decimals as written."""
    position = lotusx.Position(symbol="BTCUSDT", side=None, size=D(0), entry_price=D("0"))
    assert "Position" in lotusx.__all__ and position.mark_price is None
    with pytest.raises(AttributeError):
        position.size = D(1)  # type: ignore[misc]


async def test_a_position_closed_during_a_gap_comes_flat() -> None:
    """After a gap the open positions are fetched and yielded; one open before and absent now comes flat."""
    long = lotusx.Position(symbol="BTCUSDT", side="BUY", size=D(1), entry_price=D(100), timestamp=5)

    async def messages() -> AsyncIterator[Any]:
        yield "open"
        yield Gap("reconnect", 0.0)
        yield Resumed(0.0)
        yield "stale"

    def positions(message: Any) -> list[tuple[tuple[str, int], lotusx.Position]]:
        if message == "open":
            return [(("BTCUSDT", 0), long)]
        if message == "stale":  # older than what the fetch showed: dropped
            return [(("ETHUSDT", 0), lotusx.Position(symbol="ETHUSDT", side="SELL", size=D(3), entry_price=D(9),
                                                     timestamp=6))]
        return []

    eth = lotusx.Position(symbol="ETHUSDT", side="SELL", size=D(2), entry_price=D(9), timestamp=7)

    async def fetch() -> dict[tuple[str, int], lotusx.Position]:
        return {("ETHUSDT", 0): eth}

    def flat(key: tuple[str, int], last: lotusx.Position) -> lotusx.Position:
        return lotusx.Position(symbol=last.symbol, side=None, size=D(0), entry_price=D(0))

    got = [p async for p in follow_positions(messages(), positions=positions, fetch=fetch, flat=flat)]
    assert got == [long, lotusx.Position(symbol="BTCUSDT", side=None, size=D(0), entry_price=D(0)), eth]


async def test_a_position_closed_while_the_stream_was_down_comes_flat(sim: Sim, linear: Bybit) -> None:
    """After a reconnect every open position is fetched and yielded; one closed meanwhile comes at size 0."""
    chaos = sim.chaos("bybit")
    async with contextlib.aclosing(linear.watch_positions()) as stream:
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.3)
        await trade(sim, linear, "BUY", "0.02", "50000.02")
        assert (await asyncio.wait_for(first, 5)).size == D("0.02")
        chaos.refuse_ws, chaos.drop_ws_once = True, 1  # the next push goes out, then the socket is gone a while
        await trade(sim, linear, "BUY", "0.01", "3000.01", symbol="ETHUSDT")
        assert (await asyncio.wait_for(anext(stream), 5)).symbol == "ETHUSDT"
        await asyncio.sleep(0.2)
        await trade(sim, linear, "SELL", "0.02", "50000.03")  # closed while no socket is up
        chaos.refuse_ws = False
        closed, eth = await asyncio.wait_for(anext(stream), 10), await asyncio.wait_for(anext(stream), 5)
    assert (closed.symbol, closed.side, closed.size) == (BTC, None, 0)
    assert (eth.symbol, eth.side, eth.size, eth.entry_price) == ("ETHUSDT", "BUY", D("0.01"), D("3000.01"))


async def test_the_sim_refuses_positions_of_spot_and_a_list_without_symbol_or_settle_coin(linear: Bybit) -> None:
    """docs/v5/position/position.mdx: categories linear, inverse, option; linear needs symbol or settleCoin."""
    for params in ([("category", "spot"), ("symbol", BTC)], [("category", "linear")]):
        with pytest.raises(lotusx.InvalidRequest, match="params error"):
            await linear.rest.get(ep.POSITION_LIST.path, params, endpoint=ep.POSITION_LIST)


async def test_settle_coins_must_be_a_collection() -> None:
    """watch_positions(settle_coins="USDT") is a ConfigError saying to pass a tuple."""
    async with faked(venue({}, [])) as ex:
        with pytest.raises(lotusx.ConfigError, match="collection"):
            await anext(ex.watch_positions(settle_coins="USDT"))


async def test_a_position_stream_refused_after_a_reconnect_ends_with_subscription_rejected() -> None:
    """A Lost (the venue refused 'position' again: a revoked permission) ends the positions with its error."""
    async def messages() -> AsyncIterator[Any]:
        yield Gap("reconnect", 0.0)
        yield Lost("position", "permission denied", 0.0)

    async def fetch() -> dict[tuple[str, int], lotusx.Position]:
        raise AssertionError("no fetch: the stream is gone")

    with pytest.raises(lotusx.SubscriptionRejected, match="position"):
        async for _ in follow_positions(messages(), positions=lambda m: [], fetch=fetch, flat=lambda k, p: p):
            pass


async def test_the_readme_positions_block_runs_against_the_simulator(sim: Sim, linear: Bybit) -> None:
    """README's positions block, with the sim's URLs and keys: the list, then the stream's first change."""
    [code] = [c for c in re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL) if '"bybit-linear"' in c]
    code = code.replace('lotusx.connect("bybit-linear", credentials=creds)',
                        f'lotusx.connect("bybit-linear", credentials=creds, rest_url={sim.rest_url("bybit")!r}, '
                        f'ws_url={sim.ws_url("bybit")!r})').replace("        ...\n", "        break\n")
    keys = sim.api_keys("bybit")
    scope: dict[str, Any] = {"lotusx": lotusx, "creds": lotusx.Credentials(api_key=keys.hmac_key,
                                                                            secret=keys.hmac_secret)}
    exec(compile("async def snippet():\n" + textwrap.indent(code, "    ") + "\n    return locals()\n",  # noqa: S102
                 "README.md", "exec"), scope)
    running = asyncio.ensure_future(scope["snippet"]())
    await asyncio.sleep(0.5)  # listed (nothing held) and subscribed
    await trade(sim, linear, "BUY", "0.02", "50000.02")
    done = await asyncio.wait_for(running, 5)
    assert done["held"] == [] and (done["position"].side, done["position"].size) == ("BUY", D("0.02"))

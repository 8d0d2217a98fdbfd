"""examples/ladder.py: its main run on each venue, and its Ladder over a quiet simulator, step by step."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.metrics import Metrics
from lotusx.sim import Sim, SimConfig, serve
from tests.examples.loaded import example

SYMBOL = "BTCUSDT"

ladder = example("ladder")
RUNS: dict[str, str] = {}


def output(venue: str, *, ws_trading: bool = False) -> str:
    """What ``main`` printed quoting 2 s on ``venue``: one run per venue (and way), shared by the tests."""
    run = f"{venue} ws" if ws_trading else venue
    if run not in RUNS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            asyncio.run(ladder.main(venue, 2.0, ws_trading))
        RUNS[run] = out.getvalue()
    return RUNS[run]


@pytest.fixture(params=["binance", "bybit"])
def run(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The venue and what ``main`` printed on it."""
    return request.param, output(request.param)


def requests(out: str, endpoint: str) -> int:
    """The connector's own count of ``endpoint`` requests the venue answered 2xx, from the metrics summary."""
    found = re.search(rf"requests  {endpoint} 2xx +(\d+)", out)
    return int(found.group(1)) if found else 0


def counted(out: str, name: str) -> int:
    """A figure of the ladder's summary line (``placed 10, amended 32, ...``)."""
    line = next(line for line in out.splitlines() if line.startswith("ladder "))
    found = re.search(rf"{name} (\d+)", line)
    assert found is not None, line
    return int(found.group(1))


def test_bybit_places_the_ladder_with_the_batch_endpoint() -> None:
    """Bybit: every placement went in create-batch requests, a whole ladder (10 orders) in one; none alone."""
    out = output("bybit")
    assert counted(out, "placed") >= 10
    assert 1 <= requests(out, "order_create_batch") <= counted(out, "place_orders calls")
    assert requests(out, "order_create") == 0


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_the_ladder_quotes_the_same_over_the_websocket_api(venue: str) -> None:
    """--ws-trading: placed, moved and pulled over the WebSocket API, nothing unexpected, nothing left."""
    out = output(venue, ws_trading=True)
    assert "orders over the WebSocket API" in out
    assert counted(out, "placed") >= 10 and counted(out, "amend_orders calls") >= 1
    assert "unexpected errors: none" in out
    assert "0 open orders left" in out


def test_binance_places_each_order_of_the_ladder_alone() -> None:
    """Binance: place_orders sends one POST /api/v3/order per order, as many as the slots placed or refused."""
    out = output("binance")
    assert counted(out, "placed") >= 10
    assert requests(out, "place_order") == counted(out, "placed")  # LIMIT_MAKER refused: -2010, a 4xx


def test_the_moving_book_is_followed_by_amend_batches(run: tuple[str, str]) -> None:
    """Levels were moved by amend_orders (Bybit: amend-batch requests, no single amend), not by new placements."""
    venue, out = run
    assert counted(out, "amended") > 0 and counted(out, "amend_orders calls") > 0
    if venue == "bybit":
        assert 1 <= requests(out, "order_amend_batch") <= counted(out, "amend_orders calls")
        assert requests(out, "order_amend") == 0
    else:
        assert requests(out, "cancel_replace") >= counted(out, "amended")


def test_the_ladder_is_pulled_by_a_batch_cancel_and_nothing_is_left_open(run: tuple[str, str]) -> None:
    """On the way out cancel_orders pulls the ladder, the kill switch finds nothing more, no order is left open."""
    venue, out = run
    assert re.search(r"pulled \d+ by cancel_orders", out)
    assert "kill switch: 0 more" in out
    assert "0 open orders left" in out
    if venue == "bybit":
        assert requests(out, "order_cancel_batch") == 1


def test_no_slot_was_an_unexpected_error(run: tuple[str, str]) -> None:
    """Every slot was an order, a post-only refusal or an order gone (filled): no other error kind."""
    _, out = run
    assert "unexpected errors: none" in out


def test_bybit_runs_under_disconnection_protection(run: tuple[str, str]) -> None:
    """Bybit arms DCP (10 s window) before quoting; Binance, which has none, says so."""
    venue, out = run
    if venue == "bybit":
        assert "Disconnection Protection armed: SPOT orders cancelled 10 s after this process's link is lost" in out
    else:
        assert "no Disconnection Protection on binance" in out


@pytest.fixture(params=["binance", "bybit"])
async def quiet(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Sim, Any, Metrics]]:
    """A quiet sim (no driver flow), a connector to it counting its requests, of each dialect."""
    name = request.param
    metrics = Metrics()
    async with serve(venues=(name,), seed=5, config=SimConfig(driver_rate=0)) as sim:
        keys = sim.api_keys(name)
        async with lotusx.connect(name, credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(name), ws_url=sim.ws_url(name), metrics=metrics) as ex:
            yield sim, ex, metrics


def sent(metrics: Metrics) -> float:
    return sum(sample.value for family in metrics.registry.collect() for sample in family.samples
               if sample.name == "lotusx_requests_total")


async def a_ladder(ex: Any) -> tuple[Any, Decimal]:
    """A Ladder, and the mid of the quiet book (the simulator's seeded levels, no order of ours among them)."""
    rules = (await ex.get_instruments([SYMBOL]))[SYMBOL]
    book = await ex.get_order_book(SYMBOL, depth=5)
    return ladder.Ladder(ex, rules), (book.bids[0][0] + book.asks[0][0]) / 2


async def test_a_mid_that_holds_sends_nothing(quiet: tuple[Sim, Any, Metrics]) -> None:
    """The ladder placed around a mid; the same mid again, or one a tick away (inside the band), sends nothing."""
    _, ex, metrics = quiet
    quoter, mid = await a_ladder(ex)
    await quoter.requote(mid)
    before = sent(metrics)
    await quoter.requote(mid)
    await quoter.requote(mid + quoter.tick)
    assert sent(metrics) == before
    assert (quoter.placed, quoter.amended) == (2 * ladder.LEVELS, 0)
    assert len(await ex.get_open_orders(SYMBOL)) == 2 * ladder.LEVELS


async def test_a_ladder_outside_the_rules_is_refused_before_anything_is_sent(quiet: tuple[Sim, Any, Metrics]) -> None:
    """A mid of 100 USDT: 0.0021 BTC a level is under the 5 USDT min notional, OrderOutsideRules, no request sent."""
    _, ex, metrics = quiet
    quoter, _ = await a_ladder(ex)
    before = sent(metrics)
    with pytest.raises(lotusx.OrderOutsideRules):
        await quoter.requote(Decimal(100))
    assert sent(metrics) == before and quoter.place_calls == 0


async def test_a_mid_moved_by_the_band_amends_every_level_in_one_call(quiet: tuple[Sim, Any, Metrics]) -> None:
    """A mid moved by the band: one amend_orders call moves all the levels; the orders rest at the new prices."""
    _, ex, _ = quiet
    quoter, mid = await a_ladder(ex)
    await quoter.requote(mid)
    await quoter.requote(mid - ladder.BAND * quoter.tick)
    assert (quoter.amend_calls, quoter.amended, quoter.placed) == (1, 2 * ladder.LEVELS, 2 * ladder.LEVELS)
    resting = sorted(order.price for order in await ex.get_open_orders(SYMBOL))
    assert resting == sorted(quoter.targets(mid - ladder.BAND * quoter.tick).values())


async def test_an_order_gone_is_placed_again_in_the_next_batch(quiet: tuple[Sim, Any, Metrics]) -> None:
    """A level cancelled behind the ladder's back: its amend finds it gone, that round's place_orders restores it."""
    _, ex, _ = quiet
    quoter, mid = await a_ladder(ex)
    await quoter.requote(mid)
    victim = quoter.levels[("BUY", 0)]
    await ex.cancel_order(SYMBOL, order_id=victim.order_id)
    await quoter.requote(mid - ladder.BAND * quoter.tick)
    assert quoter.gone == 1 and quoter.placed == 2 * ladder.LEVELS + 1 and quoter.place_calls == 2
    assert len(await ex.get_open_orders(SYMBOL)) == 2 * ladder.LEVELS


async def test_pull_cancels_every_level_and_the_kill_switch_finds_nothing(quiet: tuple[Sim, Any, Metrics]) -> None:
    """pull(): cancel_orders takes the whole ladder off, cancel_all_orders then has nothing left to cancel."""
    _, ex, _ = quiet
    quoter, mid = await a_ladder(ex)
    await quoter.requote(mid)
    pulled, killed = await quoter.pull()
    assert (pulled, killed) == (2 * ladder.LEVELS, 0)
    assert await ex.get_open_orders(SYMBOL) == []


async def test_levels_the_post_only_refuses_are_counted_and_never_rest_across(quiet: tuple[Sim, Any, Metrics]) -> None:
    """A mid past the best ask: the bids moved into the asks are refused or cancelled, counted, none rests there."""
    _, ex, _ = quiet
    quoter, mid = await a_ladder(ex)
    book = await ex.get_order_book(SYMBOL, depth=5)
    await quoter.requote(mid)
    await quoter.requote(book.asks[0][0] + 2 * ladder.FIRST * quoter.tick)  # bid 0 would take the best ask
    assert sum(quoter.refused.values()) + quoter.gone >= 1 and not quoter.unexpected
    bids = [order.price for order in await ex.get_open_orders(SYMBOL) if order.side == "BUY"]
    assert bids and max(bids) < book.asks[0][0]

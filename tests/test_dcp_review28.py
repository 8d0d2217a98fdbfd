"""Bybit's Disconnection Protection (DCP, docs/v5/order/dcp.mdx) against the sim over loopback.

The sim runs on a HeldClock: real time, but its DCP window (3 s at least) passes only when the
test advances the clock, so no test waits one out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import pytest

import lotusx
from lotusx.exchanges.bybit.schemas import Acknowledged
from lotusx.kernel.errors import AuthenticationError, ConfigError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, around
from lotusx.models import NewOrder
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import USER
from tests.sim.sim_helpers import HeldClock, eventually

QUIET = SimConfig(driver_rate=0, depth_interval=1.0)  # no random flow; few depth wake-ups when the clock moves
SYMBOL = "BTCUSDT"


@dataclass
class Seen:
    """An outer layer noting the path of every request the connector sends."""

    paths: list[str] = field(default_factory=list)

    async def __call__(self, request: Request, call_next: Service) -> Response:
        self.paths.append(request.path)
        return await call_next(request)


@dataclass
class Case:
    sim: Sim
    clock: HeldClock
    seen: Seen
    spot: Any
    linear: Any


@pytest.fixture
async def case() -> AsyncIterator[Case]:
    """The Bybit sim on a HeldClock, a spot and a linear connector on it (the spot one's requests seen)."""
    clock = HeldClock()
    async with serve(("bybit",), seed=1, config=QUIET, clock=clock) as sim:
        keys = sim.api_keys("bybit")
        creds = lotusx.Credentials(keys.hmac_key, keys.hmac_secret)
        urls = {"rest_url": sim.rest_url("bybit"), "ws_url": sim.ws_url("bybit")}
        seen = Seen()
        async with lotusx.connect("bybit", credentials=creds, outer=[around(seen)], **urls) as spot, \
                lotusx.connect("bybit-linear", credentials=creds, **urls) as linear:
            yield Case(sim, clock, seen, spot, linear)


async def rest_bid(ex: Any, sim: Sim, category: str, cid: str) -> None:
    """A bid far below the market, resting."""
    engine = sim.engine("bybit", category)
    price = (engine.books[SYMBOL].prices("BUY")[0] / 2).quantize(engine.markets[SYMBOL].tick)
    await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                  quantity=Decimal("0.01"), price=price, client_order_id=cid))


def status(sim: Sim, category: str, cid: str) -> str:
    """The sim's status of the user's order ``cid``."""
    [order] = [o for o in sim.engine("bybit", category).orders_of(USER) if o.client_id == cid]
    return order.status


@pytest.mark.parametrize("window", [2, 301, 0, -5, True, 3.5])
async def test_a_window_out_of_range_is_a_config_error_and_nothing_is_sent(case: Case, window: Any) -> None:
    """timeWindow is a whole number of seconds in [3, 300] (docs/v5/order/dcp.mdx): else ConfigError, unsent."""
    with pytest.raises(ConfigError, match="300"):
        await case.spot.set_disconnect_cancel(window)
    with pytest.raises(ConfigError, match="300"):
        async with case.spot.disconnect_cancel(window):
            pass
    assert case.seen.paths == []


async def test_an_unknown_product_is_a_config_error_and_nothing_is_sent(case: Case) -> None:
    """product is SPOT, DERIVATIVES or OPTIONS: another is refused before anything is sent."""
    with pytest.raises(ConfigError, match="DERIVATIVES"):
        await case.spot.set_disconnect_cancel(10, product="FUTURES")
    assert case.seen.paths == []


async def test_the_window_set_is_read_back_for_the_connectors_product(case: Case) -> None:
    """Spot sets SPOT's window, linear DERIVATIVES'; the others keep the venue's default 10 s."""
    await case.spot.set_disconnect_cancel(40)
    await case.linear.set_disconnect_cancel(5)
    await case.spot.set_disconnect_cancel(300, product="OPTIONS")
    assert await case.spot.get_disconnect_cancel() == {"SPOT": 40, "DERIVATIVES": 5, "OPTIONS": 300}
    assert case.seen.paths[0] == "/v5/order/disconnected-cancel-all"


async def test_armed_and_down_past_the_window_cancels_the_products_resting_orders(case: Case) -> None:
    """The dcp connection drops and cannot come back: once the window passes, spot's orders are cancelled."""
    dcp = case.sim.venue("bybit").dcp
    await rest_bid(case.spot, case.sim, "spot", "spot-1")
    await rest_bid(case.linear, case.sim, "linear", "linear-1")
    async with case.spot.disconnect_cancel(3) as ws:
        assert dcp.held(USER, "SPOT") == 1
        case.sim.chaos("bybit").refuse_ws = True
        ws.reconnect("test")
        await eventually(lambda: dcp.pending(USER, "SPOT"), "the sim saw the dcp connection drop")
        await case.clock.advance(2.9)
        assert status(case.sim, "spot", "spot-1") == "NEW"  # within the window
        await case.clock.advance(0.2)
        assert status(case.sim, "spot", "spot-1") == "CANCELED"
        assert status(case.sim, "linear", "linear-1") == "NEW"  # DERIVATIVES was not armed
        case.sim.chaos("bybit").refuse_ws = False


async def test_back_within_the_window_the_orders_keep_resting(case: Case) -> None:
    """The dcp connection drops and is back, resubscribed, within the window: nothing is cancelled."""
    dcp = case.sim.venue("bybit").dcp
    await rest_bid(case.spot, case.sim, "spot", "spot-1")
    async with case.spot.disconnect_cancel(3) as ws:
        ws.reconnect("test")
        await eventually(lambda: dcp.pending(USER, "SPOT"), "the sim saw the dcp connection drop")
        await eventually(lambda: dcp.held(USER, "SPOT") == 1, "the dcp topic resubscribed")
        assert not dcp.pending(USER, "SPOT")
        await case.clock.advance(10)
        assert status(case.sim, "spot", "spot-1") == "NEW"


async def test_the_dcp_topic_is_resubscribed_after_every_reconnect(case: Case) -> None:
    """Each new connection logs in again and subscribes dcp.future again (the linear connector's topic)."""
    dcp = case.sim.venue("bybit").dcp
    async with case.linear.disconnect_cancel() as ws:
        for n in range(1, 3):
            ws.reconnect("test")
            await eventually(lambda n=n: ws.stats.resubscriptions >= n and dcp.held(USER, "DERIVATIVES") == 1,
                             f"resubscribed after reconnect {n}")
    assert dcp.held(USER, "SPOT") == 0


async def test_leaving_the_block_is_a_disconnect_like_any_other(case: Case) -> None:
    """Closing the dcp connection on the way out starts the window: orders go unless a holder is back."""
    dcp = case.sim.venue("bybit").dcp
    await rest_bid(case.spot, case.sim, "spot", "spot-1")
    async with case.spot.disconnect_cancel(3):
        pass
    await eventually(lambda: dcp.pending(USER, "SPOT"), "the sim saw the dcp connection close")
    async with case.spot.disconnect_cancel():  # back within the window: the timer is reset
        assert not dcp.pending(USER, "SPOT")
        await case.clock.advance(5)
        assert status(case.sim, "spot", "spot-1") == "NEW"


async def test_a_switch_that_cannot_log_in_again_stops_the_block_with_why(case: Case) -> None:
    """The key revoked, the reconnect's login refused: nothing protects the orders now, so the block is stopped and
    raises why."""
    venue = case.sim.venue("bybit")
    went_on = False

    async def quoting() -> None:
        nonlocal went_on
        async with case.spot.disconnect_cancel() as ws:
            del venue.keys[case.sim.api_keys("bybit").hmac_key]
            ws.reconnect("test")
            await asyncio.sleep(60)  # a quoter's loop: stopped by the switch's end, not run out
            went_on = True

    with pytest.raises(AuthenticationError):  # bounded: a block left running fails the test with TimeoutError
        await asyncio.wait_for(quoting(), 20)
    assert not went_on


async def test_a_block_cancelled_from_outside_is_cancelled_not_turned_into_the_switch_error(case: Case) -> None:
    """A caller's own cancel of the task running the block comes out as CancelledError, as for any await."""
    entered = asyncio.Event()

    async def quoting() -> None:
        async with case.spot.disconnect_cancel():
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(quoting())
    await asyncio.wait_for(entered.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_set_answer_has_no_result_and_an_error_code_is_no_success() -> None:
    """docs/v5/order/dcp.mdx answers retCode and retMsg alone; a retCode other than 0 never reads as done."""
    assert msgspec.json.decode(b'{"retCode":0,"retMsg":"success"}', type=Acknowledged).retMsg == "success"
    with pytest.raises(msgspec.ValidationError, match="10001"):
        msgspec.json.decode(b'{"retCode":10001,"retMsg":"params error"}', type=Acknowledged)

"""bybit-linear on the simulator: a USDC perpetual's order changes and fills made while the private stream is
down come out of watch_orders / watch_fills after the reconnect, as a USDT contract's do.

The reconcile lists every symbol of the category; on linear that is one list per settle coin
(docs/v5/order/open-order.mdx: "either symbol, baseCoin or settleCoin is required"), and BTCPERP
is a USDC perpetual (docs/v5/enum.mdx "symbol").
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import Credentials, NewOrder
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.engine import Market
from lotusx.sim.venue import MAKER, USER
from tests.integration.test_watch_fills_review30 import until
from tests.integration.test_watch_since_review30 import Reader

PERP = Market("BTCPERP", "BTC", "USDC", Decimal("0.01"), Decimal("0.00001"), Decimal(50_000))
QUIET = SimConfig(driver_rate=0, depth_interval=0.02)
pytestmark = pytest.mark.timeout(90)
_ids = itertools.count()


@asynccontextmanager
async def linear() -> AsyncIterator[tuple[Sim, Any]]:
    """A bybit-linear connector on a sim listing BTCPERP, both accounts holding USDC (its margin coin)."""
    async with serve(venues=("bybit",), seed=1, config=QUIET) as sim:
        engine = sim.engine("bybit", "linear")
        engine.list_market(PERP)
        engine.deposit(MAKER, "USDC", Decimal(1_000_000))
        engine.deposit(USER, "USDC", Decimal(10_000))
        keys = sim.api_keys("bybit")
        async with lotusx.connect("bybit-linear", credentials=Credentials(api_key=keys.hmac_key,
                                                                          secret=keys.hmac_secret),
                                  rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit")) as ex:
            yield sim, ex


async def filled(sim: Sim, ex: Any) -> lotusx.Order:
    """A BTCPERP buy filled whole against a sell the maker rests first."""
    sim.engine("bybit", "linear").place(MAKER, PERP.symbol, "SELL", "LIMIT", quantity=Decimal("0.001"),
                                        price=Decimal(50_000))
    order: lotusx.Order = await ex.place_order(NewOrder(
        symbol=PERP.symbol, side="BUY", type="LIMIT", time_in_force="IOC", quantity=Decimal("0.001"),
        price=Decimal(50_000), client_order_id=f"usdc-f-{next(_ids)}"))
    return order


async def resting(ex: Any) -> lotusx.Order:
    """A BTCPERP buy left open far below the book."""
    order: lotusx.Order = await ex.place_order(NewOrder(
        symbol=PERP.symbol, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.001"),
        price=Decimal(40_000), client_order_id=f"usdc-r-{next(_ids)}"))
    return order


async def went_live(reader: Reader, make: Callable[[], Awaitable[lotusx.Order]]) -> None:
    """Wait until something ``make()`` does is streamed: one made before the subscription is acked never is."""
    for attempt in itertools.count():
        probe = await make()
        try:
            await until(lambda probe=probe: bool(reader.of(probe.order_id)), "a probe", limit=1.0)
            return
        except AssertionError:
            assert attempt < 15, "the stream never went live"


@asynccontextmanager
async def stream_down(sim: Sim, ex: Any, drop: Callable[[], Awaitable[Any]]) -> AsyncIterator[None]:
    """The private stream dropped after the event ``drop()`` makes (streamed, its socket's last), and its
    reconnects refused until the block's end."""
    chaos, stream = sim.chaos("bybit"), next(iter(ex.parts.streams))
    reconnects = stream.stats.reconnects
    chaos.refuse_ws, chaos.drop_ws_once = True, 1  # the next message the socket sends is its last
    try:
        await drop()
        await until(lambda: stream.stats.reconnects > reconnects, "the stream dropped")
        yield
        await asyncio.sleep(0.3)  # made with no stream to tell
    finally:
        chaos.refuse_ws = False


async def test_a_usdc_contracts_fill_made_while_the_stream_is_down_comes_after_the_reconnect() -> None:
    """A BTCPERP fill made while the stream's reconnects are refused is yielded by watch_fills once it is back."""
    async with linear() as (sim, ex):
        reader = Reader(ex.watch_fills())
        await went_live(reader, lambda: filled(sim, ex))
        async with stream_down(sim, ex, lambda: filled(sim, ex)):
            missed = await filled(sim, ex)
        assert not reader.of(missed.order_id)
        await until(lambda: sum(f.quantity for f in reader.of(missed.order_id)) == Decimal("0.001"),
                    "the USDC fill made while the stream was down")
        assert [f.symbol for f in reader.of(missed.order_id)] == [PERP.symbol]


async def test_usdc_contracts_orders_changed_while_the_stream_is_down_come_after_the_reconnect() -> None:
    """A BTCPERP order filled and one placed while the stream's reconnects are refused are yielded by
    watch_orders once it is back, each in its last state."""
    async with linear() as (sim, ex):
        reader = Reader(ex.watch_orders())
        await went_live(reader, lambda: resting(ex))
        async with stream_down(sim, ex, lambda: resting(ex)):
            done, left = await filled(sim, ex), await resting(ex)
        assert not reader.of(done.order_id) and not reader.of(left.order_id)
        await until(lambda: any(o.status == "FILLED" for o in reader.of(done.order_id)), "the filled USDC order")
        await until(lambda: any(o.status == "NEW" for o in reader.of(left.order_id)), "the open USDC order")

"""watch_trades after a reconnect: the trades made while the socket was down come too, once each."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import pytest

import lotusx
from lotusx.models import Trade
from lotusx.sim import serve
from lotusx.sim.venue import SimConfig
from tests.conftest import eventually

BTC = "BTCUSDT"


@pytest.mark.parametrize("name", ["binance", "bybit", "bybit-linear"])
async def test_a_trade_made_while_the_stream_was_down_is_yielded_after_the_reconnect(name: str) -> None:
    """The trades of the outage are fetched from the recent trades once the stream is back; none twice."""
    base = "bybit" if name.startswith("bybit") else name
    async with serve(venues=(base,), config=SimConfig(driver_rate=0)) as sim:
        keys = sim.api_keys(base)
        async with lotusx.connect(name, credentials=lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(base), ws_url=sim.ws_url(base)) as ex:
            streamed: list[Trade] = []

            async def watch() -> None:
                async for trade in ex.watch_trades(BTC):
                    streamed.append(trade)

            async def take(quantity: str) -> None:
                await ex.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="MARKET",
                                                     quantity=Decimal(quantity)))

            task = asyncio.create_task(watch())
            try:
                async with asyncio.timeout(10):
                    while not streamed:  # until the subscription is live: one of these trades comes
                        await take("0.001")
                        await asyncio.sleep(0.05)
                streamed.clear()
                sim.chaos(base).refuse_ws = True
                sim.chaos(base).drop_ws_once = 1  # the next trade is sent, then the socket closes
                await take("0.002")
                await eventually(lambda: len(streamed) == 1 and sim.venue(base).hub.listeners == 0, "the drop")
                await take("0.003")  # while the stream is down
                sim.chaos(base).refuse_ws = False
                await eventually(lambda: len(streamed) >= 2, "the missed trade")
                await take("0.004")  # the stream again
                await eventually(lambda: len(streamed) >= 3, "the next trade")
                await asyncio.sleep(0.2)  # nothing more comes: no trade twice
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert [trade.quantity for trade in streamed] == [Decimal(q) for q in ("0.002", "0.003", "0.004")]


@pytest.mark.parametrize("knob", ["garble_ws_data", "truncate_ws_data"])
@pytest.mark.parametrize("name", ["binance", "bybit"])
async def test_a_trade_message_that_cannot_be_read_is_fetched_instead(name: str, knob: str) -> None:
    """A trade push that fails its schema or is cut short is found in the recent trades at the next message."""
    base = "bybit" if name.startswith("bybit") else name
    async with serve(venues=(base,), config=SimConfig(driver_rate=0)) as sim:
        keys = sim.api_keys(base)
        async with lotusx.connect(name, credentials=lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(base), ws_url=sim.ws_url(base)) as ex:
            streamed: list[Trade] = []

            async def watch() -> None:
                async for trade in ex.watch_trades(BTC):
                    streamed.append(trade)

            async def take(quantity: str) -> None:
                await ex.place_order(lotusx.NewOrder(symbol=BTC, side="BUY", type="MARKET",
                                                     quantity=Decimal(quantity)))

            task = asyncio.create_task(watch())
            try:
                async with asyncio.timeout(10):
                    while not streamed:  # until the subscription is live: one of these trades comes
                        await take("0.001")
                        await asyncio.sleep(0.05)
                streamed.clear()
                setattr(sim.chaos(base), knob, 1)
                await take("0.002")  # its push cannot be read
                await take("0.003")
                await eventually(lambda: len(streamed) >= 2, "the trades")
                await asyncio.sleep(0.2)  # nothing more comes: no trade twice
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert [trade.quantity for trade in streamed] == [Decimal("0.002"), Decimal("0.003")]

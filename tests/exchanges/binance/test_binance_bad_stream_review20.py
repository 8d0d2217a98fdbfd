"""A bad stream among good ones on the simulated Binance: the venue refuses the whole request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio

import lotusx
from lotusx.exchanges.binance import schemas as s
from lotusx.kernel.errors import SubscriptionRejected
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.venue import MAKER, USER

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(30)]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sim() -> AsyncIterator[Sim]:
    """A quiet simulator: only the test trades."""
    async with serve(("binance",), seed=1, config=SimConfig(driver_rate=0)) as running:
        yield running


async def test_an_unknown_symbol_is_rejected_by_name_and_its_neighbours_stream(sim: Sim) -> None:
    """subscribe([good, bad, good]): SubscriptionRejected names the bad stream; both good ones deliver trades."""
    async with lotusx.connect("binance", rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance")) as ex:
        with pytest.raises(SubscriptionRejected, match="'nopeusdt@trade'"):
            await ex.subscribe(["btcusdt@trade", "nopeusdt@trade", "ethusdt@trade"])
        engine = sim.engine("binance")
        for symbol in ("BTCUSDT", "ETHUSDT"):
            price = engine.books[symbol].levels("SELL", 1)[0][0]
            engine.place(MAKER, symbol, "SELL", "LIMIT", quantity=Decimal("0.001"), price=price)
            engine.place(USER, symbol, "BUY", "LIMIT", quantity=Decimal("0.001"), price=price, tif="IOC")
        seen: set[str] = set()
        stream = aiter(ex.stream())
        while seen != {"BTCUSDT", "ETHUSDT"}:
            message = await asyncio.wait_for(anext(stream), 5)
            if isinstance(message, s.TradeEvent):
                seen.add(message.s)

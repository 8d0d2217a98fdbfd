"""Binance sim, review 18: answers as binance-spot-api-docs rest-api.md gives them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from sim_helpers import Binance
from test_sim_binance_rest import place

from lotusx.sim import Limits, Sim, SimConfig, serve


@pytest.fixture
async def three_orders() -> AsyncIterator[Sim]:
    """A sim that takes 3 orders per 10 s."""
    async with serve(("binance",), seed=2, config=SimConfig(driver_rate=0, limits=Limits(orders_10s=3))) as running:
        yield running


async def test_an_order_over_the_order_limit_says_when_to_try_again(three_orders: Sim,
                                                                  http: aiohttp.ClientSession) -> None:
    """-1015 comes with Retry-After ("a 429 error with the Retry-After header", "Unfilled Order Count")."""
    keys = three_orders.api_keys("binance")
    client = Binance(http, three_orders.rest_url("binance"), keys.hmac_key, keys.hmac_secret)
    answers = [await place(client) for _ in range(4)]
    assert answers[-1].status == 429
    assert int(answers[-1].headers["Retry-After"]) >= 1

"""The sim's POST /v5/order/create-batch, in the shapes of docs/v5/order/batch-place.mdx and its rate-limit rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sim_helpers import Bybit, body

from lotusx.sim import Limits, Sim, SimConfig, serve

BATCH = "/v5/order/create-batch"


def bid(link_id: str, qty: str = "0.01", price: str = "1000") -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": qty, "price": price,
            "timeInForce": "GTC", "orderLinkId": link_id}


async def test_each_order_has_its_ids_in_result_list_and_its_code_in_ret_ext_info(bybit: Bybit, sim: Sim) -> None:
    """Two lists in request order: the placed order's ids and code 0, the refused one's code and an empty orderId."""
    answer = await body(await bybit.signed("POST", BATCH, category="spot",
                                           request=[bid("ok-1"), bid("broke-1", qty="5000"), bid("ok-2")]))
    assert answer["retCode"] == 0
    rows, codes = answer["result"]["list"], answer["retExtInfo"]["list"]
    assert [r["orderLinkId"] for r in rows] == ["ok-1", "broke-1", "ok-2"]
    assert [c["code"] for c in codes] == [0, 170131, 0]
    assert rows[1]["orderId"] == "" and rows[0]["orderId"] and rows[0]["category"] == "spot"
    assert {o.client_id for o in sim.engine("bybit", "spot").orders_of("user")} == {"ok-1", "ok-2"}


@pytest.mark.parametrize(("category", "most"), [("spot", 10), ("linear", 20)])
async def test_more_orders_than_the_category_allows_is_refused_whole(bybit: Bybit, sim: Sim, category: str,
                                                                     most: int) -> None:
    """Spot takes 10 orders a request, linear 20: one more is 10001 and nothing is placed."""
    answer = await body(await bybit.signed("POST", BATCH, category=category,
                                           request=[bid(f"n-{n}") for n in range(most + 1)]))
    assert answer["retCode"] == 10001
    assert sim.engine("bybit", category).orders_of("user") == []


@pytest.fixture
async def tight() -> AsyncIterator[Sim]:
    """A Bybit sim allowing 2 units per second per key and endpoint."""
    async with serve(("bybit",), seed=4, config=SimConfig(driver_rate=0, limits=Limits(bybit_per_second=2))) as s:
        yield s


async def test_a_batch_is_counted_per_order_and_the_orders_past_the_limit_fail(tight: Sim,
                                                                               http: aiohttp.ClientSession) -> None:
    """Budget 2, a batch of 3: the first two placed, the third 10006; the next batch is refused whole."""
    keys = tight.api_keys("bybit")
    client = Bybit(http, tight.rest_url("bybit"), keys.hmac_key, keys.hmac_secret)
    first = await body(await client.signed("POST", BATCH, category="spot", request=[bid(f"r-{n}") for n in range(3)]))
    assert [c["code"] for c in first["retExtInfo"]["list"]] == [0, 0, 10006]
    again = await client.signed("POST", BATCH, category="spot", request=[bid("r-3")])
    assert (await body(again))["retCode"] == 10006 and again.headers["X-Bapi-Limit-Status"] == "-1"
    assert sorted(o.client_id for o in tight.engine("bybit", "spot").orders_of("user")) == ["r-0", "r-1"]

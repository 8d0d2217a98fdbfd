"""The sim's POST /v5/order/cancel-batch and /v5/order/amend-batch, in the shapes of docs/v5/order/batch-cancel.mdx
and batch-amend.mdx: ``result.list`` and ``retExtInfo.list``, one row and one code per order, in request order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_helpers import Bybit, body

from lotusx.sim import Limits, Sim, SimConfig, serve

CANCEL, AMEND = "/v5/order/cancel-batch", "/v5/order/amend-batch"


async def resting(bybit: Bybit, category: str, *link_ids: str) -> list[str]:
    """Bids far below the market under ``link_ids``: their orderIds."""
    ids = []
    for link_id in link_ids:
        answer = await body(await bybit.signed("POST", "/v5/order/create", category=category, symbol="BTCUSDT",
                                               side="Buy", orderType="Limit", qty="0.01", price="1000",
                                               timeInForce="GTC", orderLinkId=link_id))
        ids.append(answer["result"]["orderId"])
    return ids


def open_link_ids(sim: Sim, category: str) -> set[str | None]:
    return {o.client_id for o in sim.engine("bybit", category).orders_of("user") if o.status in ("NEW",)}


async def test_cancel_batch_answers_each_order_its_ids_and_its_code(bybit: Bybit, sim: Sim) -> None:
    """Two open orders and an unknown one: ids and code 0 for each cancelled, 110001 and no orderId for the other."""
    first, _ = await resting(bybit, "spot", "a-1", "a-2")
    answer = await body(await bybit.signed("POST", CANCEL, category="spot", request=[
        {"symbol": "BTCUSDT", "orderId": first}, {"symbol": "BTCUSDT", "orderLinkId": "nobody"},
        {"symbol": "BTCUSDT", "orderLinkId": "a-2"}]))
    assert answer["retCode"] == 0
    rows, codes = answer["result"]["list"], answer["retExtInfo"]["list"]
    assert [c["code"] for c in codes] == [0, 110001, 0]
    assert [(r["orderId"] != "", r["orderLinkId"]) for r in rows] == [(True, "a-1"), (False, "nobody"), (True, "a-2")]
    assert rows[0]["orderId"] == first and rows[0]["category"] == "spot" and rows[0]["symbol"] == "BTCUSDT"
    assert open_link_ids(sim, "spot") == set()


async def test_amend_batch_answers_each_order_its_ids_and_its_code(bybit: Bybit, sim: Sim) -> None:
    """An open order amended in place, an unknown one refused 110001: two lists in request order."""
    [first] = await resting(bybit, "linear", "b-1")
    answer = await body(await bybit.signed("POST", AMEND, category="linear", request=[
        {"symbol": "BTCUSDT", "orderId": first, "price": "999", "qty": "0.02"},
        {"symbol": "BTCUSDT", "orderLinkId": "nobody", "price": "999"}]))
    rows, codes = answer["result"]["list"], answer["retExtInfo"]["list"]
    assert [c["code"] for c in codes] == [0, 110001]
    assert [(r["orderId"], r["orderLinkId"]) for r in rows] == [(first, "b-1"), ("", "nobody")]
    order = sim.engine("bybit", "linear").find("user", "BTCUSDT", client_id="b-1")
    assert (str(order.price), str(order.quantity)) == ("999", "0.02")


@pytest.mark.parametrize("path", [CANCEL, AMEND])
@pytest.mark.parametrize(("category", "most"), [("spot", 10), ("linear", 20)])
async def test_more_orders_than_the_category_allows_is_refused_whole(bybit: Bybit, sim: Sim, path: str,
                                                                     category: str, most: int) -> None:
    """Spot takes 10 orders a request, linear 20: one more is 10001, nothing touched."""
    await resting(bybit, category, "c-0")
    rows: list[dict[str, Any]] = [{"symbol": "BTCUSDT", "orderLinkId": "c-0", "price": "998"}] * (most + 1)
    answer = await body(await bybit.signed("POST", path, category=category, request=rows))
    assert answer["retCode"] == 10001
    assert str(sim.engine("bybit", category).find("user", "BTCUSDT", client_id="c-0").price) == "1000"
    assert open_link_ids(sim, category) == {"c-0"}


async def test_a_cancel_batch_is_counted_per_order_and_the_orders_past_the_limit_fail(
        http: aiohttp.ClientSession) -> None:
    """Budget 2 a second, a cancel-batch of 3: the first two cancelled, the third 10006 and left open."""
    async with serve(("bybit",), seed=4, config=SimConfig(driver_rate=0, limits=Limits(bybit_per_second=2))) as tight:
        keys = tight.api_keys("bybit")
        client = Bybit(http, tight.rest_url("bybit"), keys.hmac_key, keys.hmac_secret)
        for link_id in ("r-0", "r-1", "r-2"):
            tight.engine("bybit", "spot").place("user", "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"),
                                                price=Decimal(1000), tif="GTC", client_id=link_id)
        answer = await body(await client.signed("POST", CANCEL, category="spot", request=[
            {"symbol": "BTCUSDT", "orderLinkId": f"r-{n}"} for n in range(3)]))
        assert [c["code"] for c in answer["retExtInfo"]["list"]] == [0, 0, 10006]
        assert open_link_ids(tight, "spot") == {"r-2"}

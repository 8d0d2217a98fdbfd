"""Bybit v5 GET /v5/order/realtime paging: ``limit`` 1..50 (default 20), ``cursor`` in, ``nextPageCursor``
out, empty on the last page (https://bybit-exchange.github.io/docs/v5/order/open-order), newest first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sim_helpers import Bybit, body

from lotusx.sim import Sim
from lotusx.sim.engine import Order

BTC = "BTCUSDT"


def rest(sim: Sim, bybit: Bybit, count: int) -> list[Order]:
    """``count`` resting spot limit buys of the test key's account, placed straight into the engine."""
    account = sim.venue("bybit").keys[bybit.key].account
    engine = sim.engine("bybit")
    return [engine.place(account, BTC, "BUY", "LIMIT", quantity=Decimal("0.01"), price=Decimal(30_000 + n))
            for n in range(count)]


async def realtime(bybit: Bybit, **params: Any) -> dict[str, Any]:
    """One signed GET /v5/order/realtime of spot open orders, decoded."""
    answer: dict[str, Any] = await body(await bybit.signed("GET", "/v5/order/realtime", category="spot", **params))
    return answer


async def walk(bybit: Bybit, limit: int) -> list[list[str]]:
    """The orderIds of every page, following nextPageCursor (at most 20 pages)."""
    pages: list[list[str]] = []
    cursor = ""
    for _ in range(20):
        result = (await realtime(bybit, limit=limit, **({"cursor": cursor} if cursor else {})))["result"]
        pages.append([row["orderId"] for row in result["list"]])
        cursor = result["nextPageCursor"]
        if not cursor:
            return pages
    raise AssertionError("the cursor never ran out")


async def test_default_page_is_20(sim: Sim, bybit: Bybit) -> None:
    """Without ``limit`` a page holds 20 orders and a cursor points at the rest."""
    rest(sim, bybit, 25)
    result = (await realtime(bybit))["result"]
    assert len(result["list"]) == 20 and result["nextPageCursor"]


async def test_a_walk_lists_every_order_once_newest_first(sim: Sim, bybit: Bybit) -> None:
    """120 open orders come as pages of 50, 50 and 20, each order once, newest first, then an empty cursor."""
    placed = rest(sim, bybit, 120)
    pages = await walk(bybit, 50)
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [int(i) for page in pages for i in page] == [o.order_id for o in reversed(placed)]


async def test_a_full_last_page_has_no_cursor(sim: Sim, bybit: Bybit) -> None:
    """Exactly ``limit`` orders fit one page whose nextPageCursor is already empty."""
    rest(sim, bybit, 50)
    result = (await realtime(bybit, limit=50))["result"]
    assert (len(result["list"]), result["nextPageCursor"]) == (50, "")


async def test_no_open_orders_is_an_empty_last_page(bybit: Bybit) -> None:
    """No open orders: an empty list and an empty cursor."""
    result = (await realtime(bybit, limit=50))["result"]
    assert (result["list"], result["nextPageCursor"]) == ([], "")


@pytest.mark.parametrize("limit", ["0", "51", "ten", "-1"])
async def test_limit_out_of_range_is_10001(bybit: Bybit, limit: str) -> None:
    """``limit`` outside [1, 50] (or not a number) is retCode 10001."""
    assert (await realtime(bybit, limit=limit))["retCode"] == 10001


@pytest.mark.parametrize("cursor", ["garbage", "7%3A8", "%3A7"])
async def test_a_cursor_the_sim_never_issued_is_10001(bybit: Bybit, cursor: str) -> None:
    """A cursor the venue did not hand out is retCode 10001."""
    assert (await realtime(bybit, cursor=cursor))["retCode"] == 10001


async def test_cursor_holds_a_percent_and_goes_back_encoded(sim: Sim, bybit: Bybit) -> None:
    """The cursor is percent-encoded text like Bybit's; sent back once more encoded it reaches the next page."""
    rest(sim, bybit, 3)
    first = (await realtime(bybit, limit=2))["result"]
    assert "%" in first["nextPageCursor"]
    second = (await realtime(bybit, limit=2, cursor=first["nextPageCursor"]))["result"]
    assert len(second["list"]) == 1 and second["nextPageCursor"] == ""


async def test_changes_between_pages_repeat_and_skip_nothing(sim: Sim, bybit: Bybit) -> None:
    """Cancelling and placing between pages: no order twice, every order open throughout listed once."""
    placed = rest(sim, bybit, 30)
    account, engine = sim.venue("bybit").keys[bybit.key].account, sim.engine("bybit")
    first = (await realtime(bybit, limit=10))["result"]
    seen = [row["orderId"] for row in first["list"]]
    gone = {placed[-1].order_id, placed[5].order_id}  # one already read, one on a later page
    for order_id in gone:
        engine.cancel(account, BTC, order_id)
    newcomer = rest(sim, bybit, 1)[0]
    cursor = first["nextPageCursor"]
    for _ in range(10):
        result = (await realtime(bybit, limit=10, cursor=cursor))["result"]
        seen += [row["orderId"] for row in result["list"]]
        cursor = result["nextPageCursor"]
        if not cursor:
            break
    assert not cursor and len(seen) == len(set(seen))
    kept = {o.order_id for o in placed} - gone
    assert kept <= {int(i) for i in seen} and str(newcomer.order_id) not in seen


async def test_lookup_by_id_has_no_cursor(sim: Sim, bybit: Bybit) -> None:
    """A query by orderId answers that one order with an empty nextPageCursor, whatever else is open."""
    placed = rest(sim, bybit, 30)
    result = (await realtime(bybit, symbol=BTC, orderId=str(placed[3].order_id)))["result"]
    assert ([row["orderId"] for row in result["list"]], result["nextPageCursor"]) == ([str(placed[3].order_id)], "")

"""get_open_orders and get_order_history follow ``nextPageCursor`` to the end, and never forever.

Paging as documented at https://bybit-exchange.github.io/docs/v5/order/open-order and
https://bybit-exchange.github.io/docs/v5/order/order-list: ``limit`` 1..50, ``cursor`` = the
previous answer's ``nextPageCursor``, which is empty on the last page; a history query's
startTime and endTime at most 7 days apart.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from bybit_helpers import answer
from test_bybit_requests import ORDER, Venue, connect, wire

import lotusx
from lotusx.exchanges.bybit import Bybit
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.sim import Sim

REALTIME, HISTORY = "/v5/order/realtime", "/v5/order/history"
WEEK_MS = 7 * 24 * 3600 * 1000


def row(order_id: int) -> dict[str, str]:
    """An open order row with ``order_id``."""
    return ORDER | {"orderId": str(order_id), "orderLinkId": f"cid-{order_id}"}


def page(ids: range | list[int], cursor: str) -> Response:
    """One realtime answer listing ``ids``, pointing at ``cursor``."""
    return answer({"category": "spot", "nextPageCursor": cursor, "list": [row(i) for i in ids]})


async def test_sim_with_120_open_orders_returns_all_120_once(bybit: Bybit, sim: Sim,
                                                              credentials: lotusx.Credentials) -> None:
    """120 resting orders on the sim (three pages of up to 50) come back complete, each once, newest first."""
    account = sim.venue("bybit").keys[credentials.api_key].account
    placed = [sim.engine("bybit").place(account, "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"),
                                        price=Decimal(30_000 + n)) for n in range(120)]
    listed = await bybit.get_open_orders("BTCUSDT")
    assert [o.order_id for o in listed] == [str(o.order_id) for o in reversed(placed)]
    assert len({o.client_order_id for o in listed}) == 120


async def test_a_single_page_is_one_request() -> None:
    """An answer with an empty nextPageCursor ends the walk after one request, which carries no cursor."""
    conn, transport, _ = connect(lambda c: Venue(c, order_realtime=[page(range(1, 4), "")]))
    async with conn as ex:
        listed = await ex.get_open_orders("BTCUSDT")
    [request] = wire(transport, REALTIME)
    assert request.query_string == "category=spot&symbol=BTCUSDT&limit=50"
    assert [o.order_id for o in listed] == ["1", "2", "3"]


async def test_each_cursor_goes_back_as_given() -> None:
    """Every next request sends the previous nextPageCursor as ``cursor`` (its ``%`` encoded once more)."""
    conn, transport, _ = connect(lambda c: Venue(c, order_realtime=[
        page(range(1, 51), "50%3A50"), page(range(51, 101), "100%3A100"), page(range(101, 121), "")]))
    async with conn as ex:
        listed = await ex.get_open_orders()
    queries = [r.query_string for r in wire(transport, REALTIME)]
    assert queries == ["category=spot&limit=50", "category=spot&limit=50&cursor=50%253A50",
                       "category=spot&limit=50&cursor=100%253A100"]
    assert [o.order_id for o in listed] == [str(i) for i in range(1, 121)]


async def test_an_order_on_two_pages_is_listed_once() -> None:
    """An order a venue repeats on the next page (offset paging shifted by a new order) is listed once."""
    conn, _, _ = connect(lambda c: Venue(c, order_realtime=[page([1, 2], "c1"), page([2, 3], "")]))
    async with conn as ex:
        listed = await ex.get_open_orders()
    assert [o.order_id for o in listed] == ["1", "2", "3"]


async def test_a_repeated_cursor_is_a_protocol_error() -> None:
    """A venue answering the same cursor twice ends in ProtocolError after that second page, no hang."""
    conn, transport, _ = connect(lambda c: Venue(c, order_realtime=lambda r: page([1], "same")))
    async with conn as ex:
        with pytest.raises(e.ProtocolError, match="same page cursor twice"):
            await ex.get_open_orders()
    assert len(wire(transport, REALTIME)) == 2


async def test_a_cursor_that_never_ends_stops_at_the_page_cap() -> None:
    """Fresh cursors forever end in ProtocolError after exactly 100 requests."""
    def endless(request: Request) -> Response:
        return page([1], f"c{len(wire(transport, REALTIME))}")

    conn, transport, _ = connect(lambda c: Venue(c, order_realtime=endless))
    async with conn as ex:
        with pytest.raises(e.ProtocolError, match="after 100 pages"):
            await ex.get_open_orders()
    assert len(wire(transport, REALTIME)) == 100


async def test_sim_history_with_60_closed_orders_returns_all_60_once(bybit: Bybit, sim: Sim,
                                                                     credentials: lotusx.Credentials) -> None:
    """60 orders closed on the sim (two pages of up to 50) come back from the history complete, each once."""
    account = sim.venue("bybit").keys[credentials.api_key].account
    since = sim.venue("bybit").now_ms()
    closed = [sim.engine("bybit").place(account, "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"),
                                        price=Decimal(30_000 + n), tif="IOC") for n in range(60)]
    listed = await bybit.get_order_history("BTCUSDT", since=since)
    assert sorted(int(o.order_id) for o in listed) == [o.order_id for o in closed]
    assert {(o.status, o.quantity, o.filled_quantity) for o in listed} == {("CANCELED", Decimal("0.01"), 0)}


async def test_order_history_is_asked_in_windows_of_at_most_7_days() -> None:
    """Two weeks and a millisecond are three windows, each walked from its first page."""
    conn, transport, _ = connect(lambda c: Venue(c, order_history=lambda r: page([1], "")))
    async with conn as ex:
        listed = await ex.get_order_history(since=0, until=2 * WEEK_MS)
    assert [r.query_string for r in wire(transport, HISTORY)] == [
        f"category=spot&startTime=0&endTime={WEEK_MS - 1}&limit=50",
        f"category=spot&startTime={WEEK_MS}&endTime={2 * WEEK_MS - 1}&limit=50",
        f"category=spot&startTime={2 * WEEK_MS}&endTime={2 * WEEK_MS}&limit=50"]
    assert [o.order_id for o in listed] == ["1"]


async def test_order_history_follows_the_cursor_within_a_window() -> None:
    """A history window's pages are walked like open orders' (one symbol here), every order kept once."""
    conn, transport, _ = connect(lambda c: Venue(c, order_history=[page(range(1, 51), "50%3A50"),
                                                                  page(range(50, 53), "")]))
    async with conn as ex:
        listed = await ex.get_order_history("BTCUSDT", since=1000, until=2000)
    assert [r.query_string for r in wire(transport, HISTORY)] == [
        "category=spot&symbol=BTCUSDT&startTime=1000&endTime=2000&limit=50",
        "category=spot&symbol=BTCUSDT&startTime=1000&endTime=2000&limit=50&cursor=50%253A50"]
    assert [o.order_id for o in listed] == [str(i) for i in range(1, 53)]

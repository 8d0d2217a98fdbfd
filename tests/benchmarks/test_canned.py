"""The canned server: the sim's answers to depth and order calls, a few µs each, so the clients are the limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
import orjson
import pytest

from bench.canned import Counts
from bench.measure import Server
from bench.rest import Floor, Lotusx, check


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server("canned")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def base(server: Server) -> str:
    return str(server.info["rest_url"])


async def test_depth_is_the_sims_book_with_the_weight_counted_per_call(base: str) -> None:
    """Two depth calls: the same 100-level book, and the used weight grows by the call's weight (5)."""
    async with aiohttp.ClientSession() as session:
        answers = []
        for _ in range(2):
            async with session.get(f"{base}/api/v3/depth?symbol=BTCUSDT&limit=100") as response:
                answers.append((response.status, int(response.headers["X-MBX-USED-WEIGHT-1M"]), await response.read()))
    (status, first, book), (_, second, again) = answers
    assert status == 200
    assert len(orjson.loads(book)["bids"]) == 100 and book == again
    assert second - first == 5 or second == 5  # or a new minute began between the two


async def test_an_order_answer_echoes_the_query_parameters_as_the_sim_writes_them(base: str) -> None:
    """Client id, side, price and quantity come back from the request (8 decimals), with a new order id."""
    query = "symbol=BTCUSDT&side=SELL&type=LIMIT&quantity=0.002&price=75000&newClientOrderId=abc-1"
    async with aiohttp.ClientSession() as session:
        ids = []
        for _ in range(2):
            async with session.post(f"{base}/api/v3/order?{query}") as response:
                answer = orjson.loads(await response.read())
                ids.append(answer["orderId"])
                assert "X-MBX-ORDER-COUNT-10S" in response.headers
    assert (answer["clientOrderId"], answer["side"], answer["price"], answer["origQty"], answer["status"]) == (
        "abc-1", "SELL", "75000.00000000", "0.00200000", "NEW")
    assert ids[1] == ids[0] + 1


async def test_order_parameters_in_a_form_body_are_read_too(base: str) -> None:
    """ccxt sends an order's parameters in the body: the answer echoes them all the same."""
    async with aiohttp.ClientSession() as session, session.post(
            f"{base}/api/v3/order", data="symbol=BTCUSDT&side=BUY&price=25000&quantity=0.001&newClientOrderId=b-2",
            headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
        answer = orjson.loads(await response.read())
    assert (answer["clientOrderId"], answer["side"], answer["price"]) == ("b-2", "BUY", "25000.00000000")


async def test_other_calls_are_answered_by_the_sim(base: str) -> None:
    """Server time is the sim's: a client's start-up (clock sync, markets) works as against the sim."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/v3/time") as response:
        server_time = orjson.loads(await response.read())["serverTime"]
    assert abs(server_time - time.time() * 1000) < 60_000


async def test_the_floor_and_lotusx_do_their_whole_work_against_it(server: Server) -> None:
    """A full typed book with exact prices and a resting order, for the hand-written client and ours."""
    for client in (Floor(server.info), Lotusx(server.info)):
        try:
            if isinstance(client, Lotusx):
                await client.open()
            await check(client)
            if isinstance(client, Lotusx):
                book = await client.depth(0)
                assert isinstance(book.bids[0][0], Decimal)
        finally:
            await client.close()


def test_counts_add_up_within_a_window_and_start_again_in_the_next() -> None:
    """A fixed window: 5 + 5 in one minute is 10; the next minute starts from its own first call."""
    counts = Counts()
    assert counts.add("w", 60, 5, 120.0) == 5
    assert counts.add("w", 60, 5, 179.9) == 10
    assert counts.add("w", 60, 5, 180.0) == 5
    assert counts.add("o", 10, 1, 180.0) == 1

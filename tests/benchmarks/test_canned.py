"""The canned server: the sim's answers to depth and order calls, a few µs each, so the clients are the limit."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from decimal import Decimal

import aiohttp
import orjson
import pytest
from yarl import URL

from bench.canned import Counts
from bench.measure import Server
from bench.rest import Floor, Lotusx, check
from lotusx import encode_query

SERVER = "canned"  # the bench server the `server` fixture (conftest) runs


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


async def exchange(base: str, raw: bytes) -> tuple[bytes, bytes]:
    """Write ``raw`` on a fresh connection; the response's head and its Content-Length body."""
    url = URL(base)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return head, await reader.readexactly(length)
    finally:
        writer.close()


FORM = b"symbol=BTCUSDT&side=SELL&price=75000&quantity=0.001&newClientOrderId=zz"


async def test_content_length_is_read_from_its_own_header_only(base: str) -> None:
    """A header merely ending in "content-length" does not decide how much body is read."""
    _, answer = await exchange(base, b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nX-Original-Content-Length: 0\r\n"
                                     b"Content-Length: %d\r\n\r\n" % len(FORM) + FORM)
    assert orjson.loads(answer)["clientOrderId"] == "zz"


async def test_a_chunked_body_is_refused_not_misread(base: str) -> None:
    """No bench client sends one: a 501 and a closed connection, never an order without its parameters."""
    head, _ = await exchange(base, b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   + b"%x\r\n" % len(FORM) + FORM + b"\r\n0\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 501")


async def test_a_call_handed_to_the_sim_keeps_its_signed_query_byte_for_byte(server: Server) -> None:
    """A percent-encoded ':' in a signed query reaches the sim as sent, so its signature verifies."""
    info = server.info
    query = encode_query((("symbol", "BTCUSDT"), ("origClientOrderId", "a:b"),
                          ("timestamp", str(int(time.time() * 1000)))))
    signature = hmac.new(info["secret"].encode(), query.encode(), hashlib.sha256).hexdigest()
    url = URL(f"{info['rest_url']}/api/v3/order?{query}&signature={signature}", encoded=True)
    async with aiohttp.ClientSession() as session, session.get(url, headers={"X-MBX-APIKEY": info["api_key"]}) as r:
        answer = orjson.loads(await r.read())
    assert answer["code"] == -2013  # order does not exist: the signature was good


async def test_the_used_weight_counts_canned_and_handed_on_calls_together(base: str) -> None:
    """Depth calls, then a call the sim answers: the weight it reports is ours plus its own, never the sim's alone."""
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(f"{base}/api/v3/depth?symbol=BTCUSDT&limit=100") as response:
                before = int(response.headers["X-MBX-USED-WEIGHT-1M"])
            async with session.get(f"{base}/api/v3/time") as response:
                after = int(response.headers["X-MBX-USED-WEIGHT-1M"])
            if after == before + 1:
                break  # else a minute began between the two: try again
    assert after == before + 1


def test_counts_add_up_within_a_window_and_start_again_in_the_next() -> None:
    """A fixed window: 5 + 5 in one minute is 10; the next minute starts from its own first call."""
    counts = Counts()
    assert counts.add("w", 60, 5, 120.0) == 5
    assert counts.add("w", 60, 5, 179.9) == 10
    assert counts.add("w", 60, 5, 180.0) == 5
    assert counts.add("o", 10, 1, 180.0) == 1

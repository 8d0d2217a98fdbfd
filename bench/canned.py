"""A REST server in the sim's Binance dialect that answers the two timed calls from canned responses.

Against the sim, the 16-way rows measure the sim: its core is 95-99 % busy for the floor and
lotusx alike, so both get the sim's rate and the throughput target could not fail. This
server answers ``GET /api/v3/depth`` and ``POST /api/v3/order`` the way the sim answered them
at start-up (the same body and header names; the usage counts, and each order's id, client
id, side, price and quantity filled in), a few µs of work each on a bare asyncio stream, so
the clients are the limit. Every other request (server time, exchangeInfo, ...) is handed to
the sim, running in this process, so each client starts up exactly as it does against the
sim. The canned calls check no signature and never reach the sim's book.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from decimal import Decimal
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import orjson
from yarl import URL

from lotusx.sim.binance_guard import weight_of

DEPTH_PATH, ORDER_PATH = "/api/v3/depth", "/api/v3/order"
WEIGHT = "X-MBX-USED-WEIGHT-1M"
ORDERS = (("X-MBX-ORDER-COUNT-10S", 10), ("X-MBX-ORDER-COUNT-1D", 86_400))
_REPLACED = frozenset({"content-length", "date", "server", "connection", "keep-alive", "transfer-encoding",
                       WEIGHT.lower(), *(name.lower() for name, _ in ORDERS)})
_EIGHT = Decimal("0.00000001")


class Counts:
    """Fixed-window counts of every client together, as the sim's guard reports them."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, int]] = {}  # header -> (window index, total)

    def add(self, header: str, per: int, amount: int, now: float) -> int:
        """Charge ``amount`` to the current ``per``-second window of ``header``; the window's total."""
        index = int(now // per)
        held = self._held.get(header)
        total = amount + (held[1] if held is not None and held[0] == index else 0)
        self._held[header] = (index, total)
        return total


class Answers:
    """The canned answers: the sim's header lines (but the replaced ones) and bodies."""

    def __init__(self, depth: tuple[list[tuple[str, str]], bytes], order: tuple[list[tuple[str, str]], bytes]) -> None:
        self.depth_headers, self.depth_body = _kept(depth[0]), depth[1]
        self.order_headers, self.order_template = _kept(order[0]), orjson.loads(order[1])
        self.counts = Counts()
        self.order_ids = itertools.count(1_000_000)
        self._date = (0, b"")
        # The sim's own weights for the two canned calls (its guard's table), looked up once.
        self._depth_weight = weight_of("GET", DEPTH_PATH, {"limit": "100"})
        self._order_weight = weight_of("POST", ORDER_PATH, {})

    def charge(self, method: str, path: str, params: dict[str, str]) -> int:
        """Charge a call the sim answers its documented weight; the weight used this minute."""
        return self._used(weight_of(method, path, params), time.time())

    def _used(self, weight: int, now: float) -> int:
        return self.counts.add(WEIGHT, 60, weight, now)

    def depth(self) -> bytes:
        """The whole HTTP response to a depth call."""
        now = time.time()
        used = self._used(self._depth_weight, now)
        return self._response(now, self.depth_headers, f"{WEIGHT}: {used}\r\n".encode(), self.depth_body)

    def order(self, params: dict[str, str]) -> bytes:
        """The whole HTTP response to an order: the sim's RESULT answer for these parameters."""
        now = time.time()
        counted = [f"{WEIGHT}: {self._used(self._order_weight, now)}\r\n"]
        counted += [f"{name}: {self.counts.add(name, per, 1, now)}\r\n" for name, per in ORDERS]
        template, stamp = self.order_template, int(now * 1000)
        body = orjson.dumps({
            **template, "orderId": next(self.order_ids), "clientOrderId": params.get("newClientOrderId", ""),
            "side": params.get("side", template["side"]), "transactTime": stamp, "workingTime": stamp,
            "price": _eight(params.get("price"), template["price"]),
            "origQty": _eight(params.get("quantity"), template["origQty"])})
        return self._response(now, self.order_headers, "".join(counted).encode(), body)

    def _response(self, now: float, headers: bytes, counted: bytes, body: bytes) -> bytes:
        second = int(now)
        if self._date[0] != second:
            self._date = (second, f"Date: {formatdate(second, usegmt=True)}\r\n".encode())
        return (b"HTTP/1.1 200 OK\r\n" + headers + counted + self._date[1]
                + b"Server: bench-canned\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def _kept(headers: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers if k.lower() not in _REPLACED)


def _eight(text: str | None, default: str) -> str:
    # The sim (and Binance) write amounts with 8 decimals whatever the request's own writing.
    return default if text is None else str(Decimal(text).quantize(_EIGHT))


async def capture(base: str, api_key: str, secret: str) -> Answers:
    """The sim's answers to one depth call and one resting order (a new client id each time), headers and bodies."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}{DEPTH_PATH}?symbol=BTCUSDT&limit=100") as response:
            depth = (list(response.headers.items()), await response.read())
        # A new client id each time: a second capture from the same sim must not be a duplicate order.
        query = (f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=25000"
                 f"&newClientOrderId=canned-{time.time_ns()}&newOrderRespType=RESULT"
                 f"&timestamp={int(time.time() * 1000)}")
        signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        async with session.post(f"{base}{ORDER_PATH}?{query}&signature={signature}",
                                headers={"X-MBX-APIKEY": api_key}) as response:
            order = (list(response.headers.items()), await response.read())
        for (_, body), what in ((depth, "depth"), (order, "order")):
            if b'"code"' in body[:20]:
                raise RuntimeError(f"the sim refused the {what} call to can: {body[:200]!r}")
    return Answers(depth, order)


async def serve_canned(answers: Answers, sim: str, session: aiohttp.ClientSession,
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One keep-alive connection: canned answers for depth and orders, the sim's for the rest."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *lines = head[:-4].decode("latin-1").split("\r\n")
            method, target, _ = line.split(" ", 2)
            headers = {name.strip().lower(): value.strip()
                       for name, _, value in (raw.partition(":") for raw in lines)}
            if "transfer-encoding" in headers:  # no bench client sends one: refuse rather than misread
                writer.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            path, _, query = target.partition("?")
            if path == DEPTH_PATH and method == "GET":
                writer.write(answers.depth())
            elif path == ORDER_PATH and method == "POST":
                # Binance reads order parameters from the query and the form body alike (ccxt uses the body).
                writer.write(answers.order(dict(parse_qsl(f"{query}&{body.decode('latin-1')}"))))
            else:
                writer.write(await _from_sim(answers, session, sim, method, target, headers, body))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        return  # the client went away, or sent what no bench client sends
    finally:
        writer.close()


async def _from_sim(answers: Answers, session: aiohttp.ClientSession, sim: str, method: str, target: str,
                    headers: dict[str, str], body: bytes) -> bytes:
    forwarded = {name: value for name, value in headers.items()
                 if name not in ("host", "content-length", "connection", "accept-encoding", "transfer-encoding")}
    # encoded=True: the query goes to the sim byte for byte, or a signature over it would not verify.
    async with session.request(method, URL(f"{sim}{target}", encoded=True), data=body or None,
                               headers=forwarded) as response:
        answer = await response.read()
        kept = _kept(list(response.headers.items()))
        reason = (response.reason or "").encode("latin-1")
    # The weight is this server's count, charged the call's documented weight: one count per IP,
    # as the venue keeps it, never the sim's own (which misses every canned call).
    path, _, query = target.partition("?")
    used = answers.charge(method, path, dict(parse_qsl(query)))
    return (b"HTTP/1.1 %d %s\r\n" % (response.status, reason) + kept + f"{WEIGHT}: {used}\r\n".encode()
            + b"Content-Length: %d\r\n\r\n" % len(answer) + answer)


async def start(base: str, api_key: str, secret: str) -> tuple[asyncio.Server, aiohttp.ClientSession]:
    """The canned server on a free loopback port, its answers captured from the sim at ``base``."""
    answers = await capture(base, api_key, secret)
    session = aiohttp.ClientSession()
    server = await asyncio.start_server(lambda r, w: serve_canned(answers, base, session, r, w), "127.0.0.1", 0)
    return server, session


def info(server: asyncio.Server, keys: dict[str, Any]) -> dict[str, Any]:
    """What the runner gets: the canned server's REST URL and the sim's keys (its signatures are the sim's)."""
    return {"rest_url": f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", **keys}

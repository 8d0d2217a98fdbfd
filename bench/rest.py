"""REST clients under test, all against the same sim process: the floor, lotusx and ccxt.

The floor is what a careful engineer writes by hand: one ``aiohttp.ClientSession``, URLs
pre-encoded (no yarl re-quoting), ``orjson.loads`` of the body, HMAC-SHA256 signing with
``hmac`` (the payload rule of binance-spot-api-docs rest-api.md "SIGNED Endpoint security":
hex HMAC over the query string, ``signature`` appended last). It returns string prices:
it does the least work any client can do, so every ratio is against the cheapest path.

Two more clients send the orders over the WebSocket API (``/ws-api/v3``), their book calls
by REST: *floor ws-api* by hand (one ``ws_connect``, the request signed as web-socket-api.md
"SIGNED request security" says, params sorted by name; answers matched to callers by id) and
*lotusx ws-api* (``lotusx.connect("binance", ws_trading=True)``, the same stack as *lotusx*).

Orders rest far from the market (buys at half the mid, sells at 1.5x, alternating) and never
fill; the runner cancels them in bulk outside the timed sections.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import re
import statistics
import time
from decimal import Decimal
from typing import Any, Protocol

import aiohttp
import orjson
from yarl import URL

import lotusx
from lotusx.kernel.client import RestClient
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, stack
from lotusx.layers.clock import ClockSync
from lotusx.layers.limiter import Pool
from lotusx.layers.ratelimit import RateLimit
from lotusx.layers.retry import Retry
from lotusx.layers.trace import Trace
from lotusx.metrics import Metrics

SYMBOL = "BTCUSDT"
DEPTH = 100
QUANTITY = Decimal("0.001")
BUY_PRICE, SELL_PRICE = Decimal("25000.00"), Decimal("75000.00")
HUGE = 10**12
# Same pool names as the Binance declaration, with budgets the bench never reaches: the layer
# still runs (and charges every pool), it just never waits.
POOLS = {name: [Pool(name, HUGE, 60)] for name in ("REQUEST_WEIGHT", "ORDERS", "RAW_REQUESTS")}


def side_of(i: int) -> tuple[str, Decimal]:
    """Alternate far-away buys and sells so neither balance drains."""
    return ("BUY", BUY_PRICE) if i % 2 == 0 else ("SELL", SELL_PRICE)


class Client(Protocol):
    name: str

    async def depth(self, i: int) -> Any: ...
    async def order(self, i: int) -> Any: ...
    async def close(self) -> None: ...


class Floor:
    """Hand-written aiohttp + orjson + hmac client (see the module docstring)."""

    name = "floor"

    def __init__(self, info: dict[str, Any]) -> None:
        self.base = info["rest_url"]
        self.secret = info["secret"].encode()
        self.headers = {"X-MBX-APIKEY": info["api_key"]}
        self.session = aiohttp.ClientSession()
        self.depth_url = URL(f"{self.base}/api/v3/depth?symbol={SYMBOL}&limit={DEPTH}", encoded=True)
        self.prefix = f"symbol={SYMBOL}&type=LIMIT&timeInForce=GTC&quantity={QUANTITY}&newOrderRespType=RESULT"

    async def depth(self, i: int) -> Any:
        async with self.session.get(self.depth_url) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"floor depth: HTTP {response.status}")
        return orjson.loads(body)

    async def order(self, i: int) -> Any:
        side, price = side_of(i)
        query = (f"{self.prefix}&side={side}&price={price}&newClientOrderId=floor-{i}-{time.time_ns()}"
                 f"&timestamp={time.time_ns() // 1_000_000}")
        signature = hmac.new(self.secret, query.encode(), hashlib.sha256).hexdigest()
        url = URL(f"{self.base}/api/v3/order?{query}&signature={signature}", encoded=True)
        async with self.session.post(url, headers=self.headers) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"floor order: HTTP {response.status} {body[:200]!r}")
        return orjson.loads(body)

    async def close(self) -> None:
        await self.session.close()


class FloorWs(Floor):
    """The floor's orders over the WebSocket API by hand: one socket, sorted-params HMAC, answers by id."""

    name = "floor ws-api"
    ops = ("order",)  # its book calls are the floor's own, by REST: not timed twice

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(info)
        self.ws_url, self.api_key = f"{info['ws_url']}/ws-api/v3", info["api_key"]
        self.ids = itertools.count()
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.ws = await self.session.ws_connect(self.ws_url)
        self.reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            answer = orjson.loads(message.data)
            self.waiting.pop(answer["id"]).set_result(answer)

    async def order(self, i: int) -> Any:
        assert self.ws is not None
        side, price = side_of(i)
        params = {"apiKey": self.api_key, "newClientOrderId": f"floor-{i}-{time.time_ns()}",
                  "newOrderRespType": "RESULT", "price": str(price), "quantity": str(QUANTITY), "side": side,
                  "symbol": SYMBOL, "timeInForce": "GTC", "timestamp": time.time_ns() // 1_000_000, "type": "LIMIT"}
        payload = "&".join(f"{k}={v}" for k, v in params.items())  # written in name order
        params["signature"] = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        request_id = next(self.ids)
        answered = self.waiting[request_id] = asyncio.get_running_loop().create_future()
        # Text frames: "Requests must be sent as JSON in text frames" (web-socket-api.md "Request format").
        await self.ws.send_str(orjson.dumps({"id": request_id, "method": "order.place", "params": params}).decode())
        answer = await answered
        if answer["status"] != 200:
            raise RuntimeError(f"floor ws-api order: {answer}")
        return answer["result"]

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        await super().close()


class Lotusx:
    """``lotusx.connect("binance")``: Retry, RateLimit (memory), ClockSync, Sign, Trace with metrics."""

    name = "lotusx"
    ws_trading = False

    def __init__(self, info: dict[str, Any]) -> None:
        credentials = lotusx.Credentials(api_key=info["api_key"], secret=info["secret"])
        over_ws = {"ws_url": info["ws_url"], "ws_trading": True} if self.ws_trading else {}
        self.connecting = lotusx.connect("binance", credentials=credentials, rest_url=info["rest_url"],
                                         rate_limits=POOLS, metrics=Metrics(), **over_ws)
        self.ex: Any = None

    async def open(self) -> None:
        self.ex = await self.connecting.__aenter__()

    async def depth(self, i: int) -> Any:
        book = await self.ex.get_order_book(SYMBOL, DEPTH)
        return book

    async def order(self, i: int) -> Any:
        side, price = side_of(i)
        return await self.ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side=side, type="LIMIT",
                                                         time_in_force="GTC", quantity=QUANTITY, price=price))

    async def close(self) -> None:
        await self.connecting.__aexit__(None, None, None)


class LotusxWs(Lotusx):
    """``lotusx.connect("binance", ws_trading=True)``: the same stack, the orders over the WebSocket API."""

    name = "lotusx ws-api"
    ops = ("order",)  # its book calls go by REST, as lotusx's: not timed twice
    ws_trading = True


class Without(Lotusx):
    """``Lotusx`` with some layers taken out of its canonical stack: what those layers cost.

    The connector is built exactly as above, then its ``RestClient`` is rebuilt on the same
    transport over the same layers minus ``drop`` (``RestClient.layers`` is the stack).
    """

    def __init__(self, info: dict[str, Any], drop: tuple[type, ...]) -> None:
        super().__init__(info)
        self.drop = drop
        self.name = "lotusx -" + " -".join(layer.__name__ for layer in drop)

    async def open(self) -> None:
        await super().open()
        rest = self.ex.rest
        kept = [layer for layer in rest.layers if not isinstance(layer, self.drop)]
        assert len(kept) == len(rest.layers) - len(self.drop), "each dropped layer is in the stack once"
        self.ex.rest = RestClient(rest.transport, stack(*kept))


class Stopwatch:
    """A layer noting when the request passes it going in and when the response comes out."""

    def __init__(self) -> None:
        self.went_in = self.came_out = 0

    def __call__(self, inner: Service) -> Service:
        clock = time.perf_counter_ns

        async def service(request: Request) -> Response:
            self.went_in = clock()
            response = await inner(request)
            self.came_out = clock()
            return response

        return service


class Probed(Lotusx):
    """``Lotusx`` with a :class:`Stopwatch` between every two layers: each layer's own time.

    A layer's own time in one call is its way in (its stopwatch to the next) plus its way
    out (the next stopwatch's exit to its own): precise to a fraction of a µs in one run,
    where taking a layer out (:class:`Without`) shows the whole effect but is noisy. "above
    the stack" is the connector and ``RestClient`` (request building, decoding, models);
    "transport + wire" is everything below the last layer, the server included. Each
    stopwatch adds its own ~0.2 µs to the layer above it.
    """

    name = "lotusx probed"

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(info)
        self.watches: list[Stopwatch] = []
        self.names: list[str] = []
        self.own_ns: dict[str, dict[str, list[int]]] = {}

    async def open(self) -> None:
        await super().open()
        rest = self.ex.rest
        layers = list(rest.layers)
        self.watches = [Stopwatch() for _ in range(len(layers) + 1)]
        self.names = ["above the stack", *(type(layer).__name__ for layer in layers), "transport + wire"]
        interleaved = [layer for pair in zip(self.watches, layers, strict=False) for layer in pair]
        self.ex.rest = RestClient(rest.transport, stack(*interleaved, self.watches[-1]))

    async def depth(self, i: int) -> Any:
        return await self._timed("depth", super().depth, i)

    async def order(self, i: int) -> Any:
        return await self._timed("order", super().order, i)

    async def _timed(self, op: str, call: Any, i: int) -> Any:
        clock = time.perf_counter_ns
        started = clock()
        result = await call(i)
        ended = clock()
        w, names = self.watches, self.names
        rows = self.own_ns.setdefault(op, {name: [] for name in names})
        rows[names[0]].append(w[0].went_in - started + ended - w[0].came_out)
        for k in range(len(w) - 1):
            rows[names[k + 1]].append(w[k + 1].went_in - w[k].went_in + w[k].came_out - w[k + 1].came_out)
        rows[names[-1]].append(w[-1].came_out - w[-1].went_in)
        return result

    def medians_us(self, op: str) -> dict[str, float]:
        """Each part's median own time per ``op`` call, in µs."""
        return {name: statistics.median(ns) / 1000 for name, ns in self.own_ns[op].items()}


# The layers of the canonical stack around Sign and MapErrors, one at a time, then all four.
ABLATIONS: tuple[tuple[type, ...], ...] = ((Trace,), (RateLimit,), (Retry,), (ClockSync,),
                                           (Retry, RateLimit, ClockSync, Trace))


class Ccxt:
    """ccxt's async Binance client with its URLs pointed at the sim.

    ccxt's own throttle (``enableRateLimit``) is switched off: it would sleep 50 ms between
    calls and measure nothing but the sleep. Markets are loaded before any timing.
    """

    name = "ccxt"

    def __init__(self, info: dict[str, Any]) -> None:
        import ccxt.async_support as ccxt_async

        self.ex = ccxt_async.binance({
            "apiKey": info["api_key"], "secret": info["secret"], "enableRateLimit": False,
            "options": {"fetchMarkets": ["spot"], "fetchMargins": False, "fetchCurrencies": False,
                        "adjustForTimeDifference": False}})
        pattern = re.compile(r"^https://api[a-z0-9-]*\.binance\.com")
        api = self.ex.urls["api"]
        for key, value in list(api.items()):
            if isinstance(value, str):
                api[key] = pattern.sub(info["rest_url"], value)

    async def open(self) -> None:
        await self.ex.load_markets()

    async def depth(self, i: int) -> Any:
        return await self.ex.fetch_order_book("BTC/USDT", DEPTH)

    async def order(self, i: int) -> Any:
        side, price = side_of(i)
        return await self.ex.create_order("BTC/USDT", "limit", side.lower(), float(QUANTITY), float(price),
                                          {"newOrderRespType": "RESULT"})

    async def close(self) -> None:
        await self.ex.close()


async def open_client(name: str, info: dict[str, Any], drop: tuple[type, ...] = ()) -> Client:
    """A ready client by name (markets loaded, sessions open); ``drop``: see :class:`Without`."""
    if name == "floor":
        return Floor(info)
    client: Lotusx | Ccxt | FloorWs
    if name == "lotusx":
        client = Without(info, drop) if drop else Lotusx(info)
    elif name == FloorWs.name:
        client = FloorWs(info)
    elif name == LotusxWs.name:
        client = LotusxWs(info)
    else:
        client = Probed(info) if name == Probed.name else Ccxt(info)
    try:
        await client.open()
    except BaseException:
        await client.close()
        raise
    return client


async def check(client: Client) -> None:
    """Each client really did the work: a full 100-level book and an accepted resting order."""
    book = await client.depth(0)
    bids = book["bids"] if isinstance(book, dict) else book.bids
    if len(bids) != DEPTH:
        raise RuntimeError(f"{client.name}: expected {DEPTH} bid levels, got {len(bids)}")
    if client.name.startswith("lotusx"):
        assert isinstance(bids[0][0], Decimal), "lotusx prices are exact"
    order = await client.order(0)
    status = order["status"] if isinstance(order, dict) else order.status
    if status not in ("NEW", "open"):
        raise RuntimeError(f"{client.name}: order not resting: {status}")

"""Each REST client's own CPU per call, in process, warm and after the idle of a round trip.

Over the socket a sequential client's core sits idle while its request is on the wire
(0.3-1 ms here). On this kind of VM the idle costs the client its caches: work that takes
1 µs in a warm loop takes 3-10 µs right after such a wait, and how much depends on how much
code and data a call touches, not only on how many instructions it runs. This measures it
without a server, so without the server's noise: every client runs over the same replay
transport, which waits ``IDLE`` seconds (a round trip's idle) and hands back the sim's own
captured answer. Calls of all clients are interleaved, one of each in turn, so all share the
machine's moods. A client's own cost is its CPU per call minus that of a call that only waits
(the event loop's own cost of the wait), taken round by round; the figure is the median round.
Each call's timing ends after one more turn of the loop, so what it scheduled for the next turn
is billed to it (until round 14 lotusx's learning ran in the next client's call).

The floor does what ``bench.rest.Floor`` does but the aiohttp part (it builds the same URL);
lotusx runs ``lotusx.connect("binance")``'s canonical stack over the replay transport, so
``AiohttpRest``'s own few µs are not in its figure either. ``lotusx -Layer`` is the same
connector with that layer taken out of its stack: the difference is what the layer costs.
``lotusx +8 pass-through`` has eight layers more that only await the next one: what being a
stack of layers costs, apart from what the layers do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

import lotusx
from bench.canned import DEPTH_PATH, ORDER_PATH, Answers, capture
from bench.rest import ABLATIONS, DEPTH, POOLS, QUANTITY, SYMBOL, side_of
from lotusx.kernel.client import RestClient
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, stack
from lotusx.metrics import Metrics

IDLE = 0.0007  # seconds: about a sequential order's round trip against the sim
PASS_THROUGH = 8
Call = Callable[[int], Awaitable[object]]


def pass_through(inner: Service) -> Service:
    """A layer that does nothing but call the next one."""

    async def service(request: Request) -> Response:
        return await inner(request)

    return service


class Replay:
    """A transport answering depth and order calls with the sim's captured answers after ``idle`` s.

    The answers are built once: handing one back costs the caller nothing but the wait.
    """

    def __init__(self, answers: Answers, idle: float) -> None:
        self.idle = idle
        self.depth = _answer(answers.depth())
        self.order = _answer(answers.order({"side": "BUY", "price": "25000", "quantity": str(QUANTITY)}))

    async def __call__(self, request: Request) -> Response:
        if self.idle:
            await asyncio.sleep(self.idle)
        if request.path == DEPTH_PATH:
            return self.depth
        if request.path == ORDER_PATH:
            return self.order
        if request.path == "/api/v3/time":
            return Response(status=200, body=orjson.dumps({"serverTime": time.time_ns() // 1_000_000}))
        raise AssertionError(f"the replay transport has no answer for {request.path}")


def _answer(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    headers = CIMultiDict((name, value.strip()) for name, _, value in (line.partition(":") for line in lines))
    return Response(status=200, body=body, headers=CIMultiDictProxy(headers))


def floor_calls(info: dict[str, Any], replay: Replay) -> tuple[Call, Call]:
    """The floor's depth and order: ``bench.rest.Floor`` with the replay's wait for aiohttp (its
    depth URL is built once, before any call)."""
    base, secret = info["rest_url"], info["secret"].encode()
    prefix = f"symbol={SYMBOL}&type=LIMIT&timeInForce=GTC&quantity={QUANTITY}&newOrderRespType=RESULT"

    async def depth(i: int) -> object:
        if replay.idle:
            await asyncio.sleep(replay.idle)
        return orjson.loads(replay.depth.body)

    async def order(i: int) -> object:
        side, price = side_of(i)
        query = (f"{prefix}&side={side}&price={price}&newClientOrderId=floor-{i}-{time.time_ns()}"
                 f"&timestamp={time.time_ns() // 1_000_000}")
        signature = hmac.new(secret, query.encode(), hashlib.sha256).hexdigest()
        url = URL(f"{base}{ORDER_PATH}?{query}&signature={signature}", encoded=True)
        if replay.idle:
            await asyncio.sleep(replay.idle)
        return url, orjson.loads(replay.order.body)

    return depth, order


async def lotusx_calls(info: dict[str, Any], replay: Replay, drop: tuple[type, ...], exits: list[Any],
                       extra: int = 0) -> tuple[Call, Call]:
    """``lotusx.connect("binance")`` over ``replay``, without the ``drop`` layers, with ``extra``
    pass-through layers on top; the connector is appended to ``exits`` (the caller closes it)."""
    connecting = lotusx.connect("binance", credentials=lotusx.Credentials(api_key=info["api_key"],
                                                                          secret=info["secret"]),
                                rate_limits=POOLS, metrics=Metrics(), transport=replay)
    ex = await connecting.__aenter__()
    exits.append(ex)  # closed with ex.aclose(); ex.rest.layers is the stack the calls run
    if drop or extra:
        kept = (layer for layer in ex.rest.layers if not isinstance(layer, drop))
        ex.rest = RestClient(ex.rest.transport, stack(*[pass_through] * extra, *kept))

    async def depth(i: int) -> object:
        return await ex.get_order_book(SYMBOL, DEPTH)

    async def order(i: int) -> object:
        side, price = side_of(i)
        return await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side=side, type="LIMIT",  # type: ignore[arg-type]
                                                    time_in_force="GTC", quantity=QUANTITY, price=price))

    return depth, order


async def own_costs(info: dict[str, Any], answers: Answers, idle: float, calls: int, rounds: int
                    ) -> dict[str, dict[str, float]]:
    """op -> client -> own CPU µs per call (the median round), every client interleaved call by call."""
    replay = Replay(answers, idle)

    async def wait(i: int) -> object:
        if idle:
            await asyncio.sleep(idle)
        return None

    clients: dict[str, tuple[Call, Call]] = {"wait": (wait, wait), "floor": floor_calls(info, replay)}
    exits: list[Any] = []
    try:
        clients["lotusx"] = await lotusx_calls(info, replay, (), exits)
        for drop in ABLATIONS:
            name = "lotusx -" + " -".join(layer.__name__ for layer in drop)
            clients[name] = await lotusx_calls(info, replay, drop, exits)
        clients[f"lotusx +{PASS_THROUGH} pass-through"] = await lotusx_calls(info, replay, (), exits, PASS_THROUGH)
        out: dict[str, dict[str, float]] = {}
        for index, op in enumerate(("depth", "order")):
            for pair in clients.values():  # warm every path once, outside the count
                for i in range(20):
                    await pair[index](i)
            spent: dict[str, list[float]] = {name: [] for name in clients}
            for round_ in range(rounds):
                ns = dict.fromkeys(clients, 0)
                named = list(clients.items())[::-1 if round_ % 2 else 1]
                for i in range(calls):
                    for name, pair in named:
                        started = time.thread_time_ns()
                        await pair[index](i)
                        # What the call left for the loop's next turn (RateLimit's learning from the
                        # answer) is its own cost: unturned, it ran in the next client's call.
                        await asyncio.sleep(0)
                        ns[name] += time.thread_time_ns() - started
                for name in clients:
                    spent[name].append((ns[name] - ns["wait"]) / calls / 1000)
            out[op] = {name: statistics.median(figures) for name, figures in spent.items() if name != "wait"}
        return out
    finally:
        for ex in exits:
            await ex.aclose()


async def idle_suite(info: dict[str, Any], calls: int, rounds: int) -> dict[str, Any]:
    """Own costs back to back and after ``IDLE``.

    ``{"idle_s": IDLE, "back_to_back": {op: {client: µs}}, "after_idle": {op: {client: µs}}}``.
    """
    answers = await capture(info["rest_url"], info["api_key"], info["secret"])
    return {"idle_s": IDLE, "back_to_back": await own_costs(info, answers, 0.0, calls, rounds),
            "after_idle": await own_costs(info, answers, IDLE, calls, rounds)}


def report(idle: dict[str, Any]) -> str:
    """A Markdown table: each client's own µs per call back to back and after the idle."""
    warm, cold = idle["back_to_back"], idle["after_idle"]
    after = f"after {idle['idle_s'] * 1e3:g} ms idle"
    lines = [f"| op | client | back to back µs | {after} µs | growth | vs floor, {after} |",
             "|---|---|---:|---:|---:|---:|"]
    for op in ("depth", "order"):
        floor = cold[op]["floor"]
        for name, after in cold[op].items():
            before = warm[op][name]
            grown = f"{after / before:.1f}" if before > 0 else "-"
            lines.append(f"| {op} | {name} | {before:.1f} | {after:.1f} | {grown} | {after / floor:.2f}x |")
    return "\n".join(lines)

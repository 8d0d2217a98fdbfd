"""HTTP and WebSocket plumbing shared by the dialects: JSON answers, REST chaos, WS connections."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, typedefs, web

from lotusx.log import get_logger
from lotusx.sim.venue import Event, Venue

log = get_logger("lotusx.sim")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = typedefs.Middleware
QUEUE_SIZE = 10_000
VENUE = web.AppKey("venue", Venue)


def answer(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response encoded with orjson."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        headers=headers)


def plain(value: Decimal) -> str:
    """A decimal as a plain (non-exponent) string without trailing zeros."""
    # Not normalize(): it rounds to the current context's precision.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def loses_answer(venue: Venue) -> bool:
    """Whether chaos loses the answer of an order call just carried out (``lose_answer_rate``, the venue's rng)."""
    rate = venue.chaos.lose_answer_rate
    return bool(rate) and venue.rng.random() < rate


def chaos_middleware(venue: Venue, forced: Callable[[int], web.Response],
                     orders: Collection[tuple[str, str]] = ()) -> Middleware:
    """REST chaos: latency, 5xx and forced 429/418 answers (WS upgrades and /_sim pass through).

    ``orders`` are the (method, path) of the dialect's order placement and cancel: the requests whose
    answer ``lose_answer_rate`` loses after they were executed.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim") or request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        chaos = venue.chaos
        delay = chaos.latency_ms + venue.rng.uniform(-chaos.jitter_ms, chaos.jitter_ms)
        if delay > 0:
            await venue.clock.sleep(delay / 1000)
        if chaos.error_rate and venue.rng.random() < chaos.error_rate:
            return answer({"code": -1001, "msg": "Internal error; unable to process your request."}, 503)
        status = chaos.take_forced()
        if status is not None:
            return forced(status)
        response = await handler(request)
        if (request.method, request.path) in orders and loses_answer(venue) and request.transport is not None:
            # Executed, then the connection is gone: writing the answer fails, and aiohttp drops it.
            request.transport.abort()
        return response

    return middleware


async def admin_chaos(request: web.Request) -> web.Response:
    """GET shows the venue's chaos knobs; POST a JSON object to change some of them."""
    venue = request.app[VENUE]
    if request.method == "POST":
        try:
            venue.chaos.update(orjson.loads(await request.read()))
        except (ValueError, TypeError, AttributeError) as exc:
            return answer({"error": str(exc)}, 400)
        log.info("sim.chaos", venue=venue.name, chaos=repr(venue.chaos))
    return answer(vars(venue.chaos))


@dataclass(frozen=True)
class _Close:
    """An outbox entry that closes the connection when the sender reaches it."""

    code: int
    reason: bytes


class Connection:
    """One server-side WS connection: a bounded outbox, chaos on send, lifetime and heartbeat.

    Events reach it through ``push`` (called by the hub, synchronously); a sender task formats
    and writes them, so a slow client never blocks the engine. A full outbox closes the
    connection, as the venues do with slow consumers.
    """

    def __init__(self, venue: Venue, ws: web.WebSocketResponse, render: Callable[[Event], list[Any]], *,
                 max_rate: int | None = None) -> None:
        self.venue = venue
        self.max_rate = max_rate  # client messages (text and PING frames) per second; one more closes
        self._arrivals: deque[float] = deque()
        self.ws = ws
        self.render = render
        self.sent = 0
        self.last_seen = venue.clock.monotonic()
        self.last_pong = venue.clock.monotonic()
        self._outbox: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)
        self._tasks: list[asyncio.Task[Any]] = []
        self._sending: asyncio.Task[Any] | None = None  # the sender's task, which a queued close ends

    def push(self, event: Event) -> None:
        """Queue whatever ``event`` renders to for this connection."""
        for message in self.render(event):
            self.enqueue(message)

    def enqueue(self, message: Any) -> None:
        """Queue one message; a full queue ends the connection."""
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.stop()

    async def send(self, message: Any) -> None:
        """Send one message now, honouring the garble, truncate, gzip and disconnect knobs."""
        chaos = self.venue.chaos
        data_of: Any = message.get("data") if isinstance(message, dict) else None
        # A list ``data`` is Bybit's; an object one only a Binance combined-stream event's (Bybit's
        # objects, books and tickers, are left alone).
        knobbed = isinstance(data_of, list) or (isinstance(data_of, dict) and "stream" in message)
        if chaos.garble_ws_data and knobbed:
            chaos.garble_ws_data -= 1
            garbled = {"e": data_of.get("e")} if isinstance(data_of, dict) else [{} for _ in data_of]
            message = {**message, "data": garbled}
        data = orjson.dumps(message)
        if chaos.truncate_ws_data and knobbed:
            chaos.truncate_ws_data -= 1
            data = data[:-1]
        if chaos.ws_gzip:
            await self.ws.send_bytes(gzip.compress(data))
        else:
            await self.ws.send_str(data.decode())
        self.sent += 1
        once = chaos.drop_ws_once is not None and self.sent >= chaos.drop_ws_once
        if once:
            chaos.drop_ws_once = None
        if once or (chaos.drop_ws_after is not None and self.sent >= chaos.drop_ws_after) or (
                chaos.drop_ws_rate and self.venue.rng.random() < chaos.drop_ws_rate):
            await self.ws.close(code=1001, message=b"chaos")

    def start(self, *loops: Callable[[], Awaitable[None]]) -> None:
        """Run the sender, the lifetime timer and ``loops`` until the connection ends."""
        self._sending = asyncio.create_task(self._guard(self._sender))
        self._tasks.append(self._sending)
        for loop in (self._lifetime, *loops):
            self._tasks.append(asyncio.create_task(self._guard(loop)))

    def stop(self) -> None:
        """Cancel the background tasks (the socket closes when the handler returns)."""
        for task in self._tasks:
            task.cancel()
        if not self.ws.closed:
            self._tasks.append(asyncio.create_task(self.ws.close(code=1008, message=b"slow consumer")))

    async def messages(self) -> Any:
        """Yield the client's text messages; answers protocol pings unless muted."""
        async for msg in self.ws:
            self.last_seen = self.venue.clock.monotonic()
            if msg.type in (WSMsgType.TEXT, WSMsgType.PING) and self._over_rate():
                await self.ws.close(code=1008, message=b"too many messages")
                return
            if msg.type == WSMsgType.PING and not self.venue.chaos.mute_pings:
                await self.ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                self.last_pong = self.venue.clock.monotonic()
            elif msg.type == WSMsgType.TEXT:
                yield msg.data

    def _over_rate(self) -> bool:
        """Count one client message; True when the last second holds more than ``max_rate``."""
        if self.max_rate is None:
            return False
        now, arrivals = self.last_seen, self._arrivals
        arrivals.append(now)
        while arrivals[0] <= now - 1.0:
            arrivals.popleft()
        return len(arrivals) > self.max_rate

    async def server_pings(self) -> None:
        """Ping every ``ping_interval``; close when the pong is ``pong_timeout`` late."""
        config, clock = self.venue.config, self.venue.clock
        while not self.ws.closed:
            await clock.sleep(config.ping_interval)
            if clock.monotonic() - self.last_pong > config.pong_timeout:
                await self.ws.close(code=1008, message=b"pong timeout")
                return
            if not self.venue.chaos.mute_pings:
                await self.ws.ping(b"sim")

    async def idle_watch(self) -> None:
        """Close when the client sent nothing for ``idle_timeout``."""
        config, clock = self.venue.config, self.venue.clock
        while not self.ws.closed:
            await clock.sleep(min(config.idle_timeout, 1.0))
            if clock.monotonic() - self.last_seen > config.idle_timeout:
                await self.ws.close(code=1000, message=b"idle")
                return

    async def close_after_queued(self, code: int, reason: bytes) -> None:
        """Close once the messages queued so far are sent; whatever is queued after is dropped."""
        self.enqueue(_Close(code, reason))
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)

    async def _sender(self) -> None:
        while not self.ws.closed:
            message = await self._outbox.get()
            if isinstance(message, _Close):
                await self.ws.close(code=message.code, message=message.reason)
                return
            await self.send(message)

    async def _lifetime(self) -> None:
        await self.venue.clock.sleep(self.venue.config.ws_lifetime)
        await self.ws.close(code=1001, message=b"lifetime")

    async def _guard(self, loop: Callable[[], Awaitable[None]]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await loop()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def open_ws(request: web.Request, venue: Venue) -> web.WebSocketResponse:
    """Accept a WS upgrade (refused while ``refuse_ws``); permessage-deflate only when the chaos knob asks for it."""
    if venue.chaos.refuse_ws:
        raise web.HTTPServiceUnavailable(text="chaos: streams are down")
    ws = web.WebSocketResponse(autoping=False, compress=venue.chaos.ws_deflate, max_msg_size=1 << 20)
    await ws.prepare(request)
    return ws

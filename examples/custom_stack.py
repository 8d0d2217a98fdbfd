"""Build a custom REST stack: a user middleware, a user layer, the aiohttp transport.

Starts its own tiny HTTP server on 127.0.0.1, calls it through the stack, prints the
stack and the decoded response, and exits.

    python examples/custom_stack.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from decimal import Decimal

import msgspec
from aiohttp import web

from lotusx import MapErrors, Request, Response, RestClient, Service, around, stack
from lotusx.transport import AiohttpRest


class Ticker(msgspec.Struct):
    """What the server answers, decoded once at the edge with exact prices."""

    symbol: str
    bid: Decimal
    ask: Decimal
    seen_headers: list[str]


async def add_client_tag(request: Request, call_next: Service) -> Response:
    """A middleware: tag every request (runs once per logical call, outside the layer below)."""
    return await call_next(request.with_headers(("X-Client", "custom-stack-example")))


@dataclass(frozen=True)
class Timed:
    """A user layer: measure each call and report it through ``report``."""

    label: str

    def __call__(self, inner: Service) -> Service:
        label = self.label

        async def service(request: Request) -> Response:
            started = time.perf_counter()
            response = await inner(request)
            print(f"[{label}] {request.method} {request.path} -> {response.status} "
                  f"in {(time.perf_counter() - started) * 1e3:.2f} ms")
            return response

        return service


async def ticker(request: web.Request) -> web.Response:
    return web.json_response({
        "symbol": request.query["symbol"], "bid": "64999.99", "ask": "65000.01",
        "seen_headers": sorted(h for h in request.headers if h.startswith("X-")),
    })


async def main() -> None:
    app = web.Application()
    app.router.add_get("/ticker", ticker)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        layers = stack(around(add_client_tag), Timed("timing"), MapErrors())
        print("stack:", repr(layers))
        async with RestClient(AiohttpRest(f"http://127.0.0.1:{port}"), layers) as client:
            result = await client.get("/ticker", {"symbol": "BTCUSDT"}, type=Ticker)
            print("decoded:", result)
            print("spread:", result.ask - result.bid)
            raw = await client.get("/ticker", {"symbol": "ETHUSDT"})  # no type=: the JSON as plain values
            print("raw:", raw["symbol"], raw["bid"])
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C: the local server and the client were closed on the way out
        sys.exit(130)

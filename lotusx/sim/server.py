"""``serve()``: run the simulated venues on loopback, one port per venue."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import decimal
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from aiohttp import web
from nacl.signing import SigningKey

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.log import get_logger
from lotusx.sim.binance_guard import Throttle, guard_middleware
from lotusx.sim.binance_rest import BinanceRest
from lotusx.sim.binance_ws import BinanceWs
from lotusx.sim.binance_wsapi import BinanceWsApi
from lotusx.sim.book import SIM_DECIMALS
from lotusx.sim.bybit_rest import BybitRest, bybit_forced
from lotusx.sim.bybit_trade import BybitTrade
from lotusx.sim.bybit_ws import BybitWs
from lotusx.sim.chaos import Chaos
from lotusx.sim.common import VENUE, admin_chaos, answer, chaos_middleware
from lotusx.sim.driver import Driver, publish_depth
from lotusx.sim.engine import Engine
from lotusx.sim.venue import ApiKeys, SimConfig, Venue, random_key

log = get_logger("lotusx.sim")
CATEGORIES = {"binance": ("spot",), "bybit": ("spot", "linear")}
# The REST requests that place or cancel an order: the ones whose answer the lose_answer_rate knob loses.
BINANCE_ORDERS = frozenset({("POST", "/api/v3/order"), ("DELETE", "/api/v3/order"),
                            ("DELETE", "/api/v3/openOrders"), ("PUT", "/api/v3/order/amend/keepPriority"),
                            ("POST", "/api/v3/order/cancelReplace")})
BYBIT_ORDERS = frozenset({("POST", "/v5/order/create"), ("POST", "/v5/order/cancel"),
                          ("POST", "/v5/order/cancel-all"), ("POST", "/v5/order/amend"),
                          ("POST", "/v5/order/create-batch"), ("POST", "/v5/order/cancel-batch"),
                          ("POST", "/v5/order/amend-batch")})


def binance_forced(status: int) -> web.Response:
    """A forced 429 or 418 in Binance's shape."""
    msg = "Too many requests." if status == 429 else "Way too many requests; IP banned."
    return answer({"code": -1003, "msg": msg}, status, {"Retry-After": "1"})


@dataclass
class Running:
    """One venue being served."""

    venue: Venue
    keys: ApiKeys
    port: int


class Sim:
    """Handle on running simulated venues: URLs, keys, chaos knobs and engines."""

    def __init__(self, host: str, running: dict[str, Running]) -> None:
        self.host = host
        self._running = running

    def __repr__(self) -> str:
        return f"Sim({', '.join(f'{n}={self.rest_url(n)}' for n in self._running)})"

    @property
    def venues(self) -> tuple[str, ...]:
        """The names of the served venues."""
        return tuple(self._running)

    def venue(self, name: str) -> Venue:
        """All state of one venue (engines, keys, chaos, config)."""
        return self._get(name).venue

    def rest_url(self, name: str) -> str:
        """Base REST URL (scheme, host, port) of a venue."""
        return f"http://{self.host}:{self._get(name).port}"

    def ws_url(self, name: str) -> str:
        """Base WebSocket URL (scheme, host, port) of a venue."""
        return f"ws://{self.host}:{self._get(name).port}"

    def api_keys(self, name: str) -> ApiKeys:
        """The API keys a venue accepts."""
        return self._get(name).keys

    def revoke_key(self, name: str, api_key: str) -> None:
        """Delete an API key from a venue, as its owner would: requests with it are refused from now on."""
        self._get(name).venue.keys.pop(api_key, None)

    def ws_api_logons(self, name: str) -> int:
        """How many WebSocket API ``session.logon`` requests a venue accepted (Binance's)."""
        return self._get(name).venue.ws_api_logons

    def chaos(self, name: str) -> Chaos:
        """The live chaos knobs of a venue."""
        return self._get(name).venue.chaos

    def engine(self, name: str, category: str = "spot") -> Engine:
        """The matching engine of a venue's category: its books and orders, and the venue's balances."""
        return self._get(name).venue.engines[category]

    def _get(self, name: str) -> Running:
        if name not in self._running:
            raise ConfigError(f"venue {name!r} is not served; served: {list(self._running)}")
        return self._running[name]


def make_keys(venue: Venue) -> ApiKeys:
    """Generate (from the venue's seeded rng) and register the venue's keys."""
    key, secret = random_key(venue.rng), random_key(venue.rng)
    venue.add_hmac_key(key, secret)
    if venue.name != "binance":
        return ApiKeys(key, secret)
    signing = SigningKey(venue.rng.randbytes(32))
    ed_key = random_key(venue.rng)
    venue.add_ed25519_key(ed_key, bytes(signing.verify_key))
    return ApiKeys(key, secret, ed_key, base64.b64encode(bytes(signing)).decode(),
                   base64.b64encode(bytes(signing.verify_key)).decode())


def build_app(venue: Venue) -> web.Application:
    """The aiohttp application speaking ``venue``'s dialect."""
    if venue.name == "binance":
        throttle = Throttle(venue)
        rest = BinanceRest(venue, throttle)
        app = web.Application(middlewares=[chaos_middleware(venue, binance_forced, BINANCE_ORDERS),
                                           guard_middleware(throttle)])
        app.add_routes(rest.routes() + BinanceWs(venue, rest).routes() + BinanceWsApi(venue, throttle, rest).routes())
    else:
        bybit = BybitRest(venue)
        app = web.Application(middlewares=[chaos_middleware(venue, bybit_forced, BYBIT_ORDERS)])
        app.add_routes(bybit.routes() + bybit.dcp_routes() + BybitWs(venue).routes()
                       + BybitTrade(venue, bybit).routes())
    app[VENUE] = venue
    app.add_routes([web.get("/_sim/chaos", admin_chaos), web.post("/_sim/chaos", admin_chaos)])
    return app


@contextlib.asynccontextmanager
async def serve(venues: Iterable[str] = ("binance", "bybit"), *, seed: int = 0, port: int = 0,
                host: str = "127.0.0.1", config: SimConfig | None = None,
                clock: Clock = SYSTEM_CLOCK) -> AsyncIterator[Sim]:
    """Serve each venue on ``host`` (port 0: any free port; else ``port``, ``port + 1``, ...)."""
    config = config or SimConfig()
    venues = tuple(venues)
    if port and not (port > 0 and port + len(venues) - 1 <= 65535):  # else bind() raises OverflowError
        raise ConfigError(f"port {port}: the sim listens on ports {port} to {port + len(venues) - 1}, one per venue; "
                          "each must be 1-65535 (0: any free port)")
    runners: list[web.AppRunner] = []
    tasks: list[asyncio.Task[None]] = []
    running: dict[str, Running] = {}
    # The sim computes in a decimal context of its own: the caller's (a strategy's getcontext().prec = 6,
    # in the process serving the sim) would round its fills and answers. Its server, so every request
    # handler, and its driver run in copies of `own`.
    own = contextvars.copy_context()
    own.run(decimal.setcontext, SIM_DECIMALS.copy())
    try:
        for index, name in enumerate(venues):
            if name not in CATEGORIES:
                also = " (the bybit sim serves spot and linear alike)" if name.startswith("bybit") else ""
                raise ConfigError(f"unknown sim venue {name!r}; known: {sorted(CATEGORIES)}{also}")
            venue = Venue(name, CATEGORIES[name], seed=seed, config=config, clock=clock)
            keys = make_keys(venue)
            driver = own.run(Driver, venue, seed)
            runner = web.AppRunner(build_app(venue), access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, host, port + index if port else 0)
            await asyncio.create_task(site.start(), context=own.copy())
            bound = runner.addresses[-1][1]
            tasks += [asyncio.create_task(driver.run(), context=own.copy()),
                      asyncio.create_task(publish_depth(venue), context=own.copy())]
            running[name] = Running(venue, keys, bound)
            log.info("sim.started", venue=name, port=bound)
        yield Sim(host, running)
    finally:
        for task in tasks:
            task.cancel()
        for each in running.values():
            each.venue.dcp.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for runner in reversed(runners):
            await runner.cleanup()

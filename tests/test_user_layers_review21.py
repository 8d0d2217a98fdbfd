"""A user's own layers in a connector's stack against the simulator, placed where the README says."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import ConnectError, LotusXError, Request, Response, Service, around
from lotusx.sim import Sim, serve
from lotusx.testing import FakeClock

ORDER = lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                        quantity=Decimal("0.01"), price=Decimal("45000"))


@dataclass
class Recorder:
    """Keeps every request it sees, for replay."""

    seen: list[Request] = field(default_factory=list)

    async def __call__(self, request: Request, call_next: Service) -> Response:
        self.seen.append(request)
        return await call_next(request)

    def paths(self) -> list[tuple[str, str, str]]:
        return [(r.method, r.path, r.endpoint.name) for r in self.seen]


@dataclass
class EndpointStats:
    """Per-endpoint call counts and latencies, read from the way back."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)

    async def __call__(self, request: Request, call_next: Service) -> Response:
        name = request.endpoint.name
        self.calls[name] += 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            response = await call_next(request)
        except LotusXError:
            self.errors[name] += 1
            raise
        self.latencies.setdefault(name, []).append(loop.time() - started)
        return response


@dataclass(frozen=True)
class CircuitBreaker:
    """Fails fast, sending nothing, once ``threshold`` calls in a row have failed."""

    threshold: int
    failures: list[int] = field(default_factory=lambda: [0])

    def __call__(self, inner: Service) -> Service:
        failures, threshold = self.failures, self.threshold

        async def service(request: Request) -> Response:
            if failures[0] >= threshold:
                raise ConnectError(f"{request.method} {request.path}: circuit open")  # never left: safe to say so
            try:
                response = await inner(request)
            except LotusXError:
                failures[0] += 1
                raise
            failures[0] = 0
            return response

        return service


async def desk_tag(request: Request, call_next: Service) -> Response:
    return await call_next(request.with_headers(("X-Desk", "mm-1")))


@asynccontextmanager
async def binance(sim: Sim, **options: Any) -> AsyncIterator[Any]:
    keys = sim.api_keys("binance")
    async with lotusx.connect("binance", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                              rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance"), **options) as ex:
        yield ex


def headers_of(request: Request) -> Mapping[str, str]:
    return dict(request.headers)


async def test_a_header_added_outside_reaches_the_wire_and_the_signed_order_is_accepted() -> None:
    """An outer middleware's header is on every wire attempt below Sign; the venue takes the signed order."""
    wire = Recorder()
    async with serve(venues=("binance",)) as sim, binance(sim, outer=[around(desk_tag)], inner=[around(wire)]) as ex:
        order = await ex.place_order(ORDER)
    assert order.status == "NEW"
    placed = [r for r in wire.seen if r.endpoint.name == "place_order"]
    assert placed and all(headers_of(r).get("X-Desk") == "mm-1" for r in placed)


async def test_per_endpoint_counters_outside_retry_count_logical_calls() -> None:
    """Outer stats count one call per method called, even when the sim answers 503 first."""
    stats, wire = EndpointStats(), EndpointStats()
    async with serve(venues=("binance",)) as sim:
        sim.chaos("binance").error_rate = 1.0

        async def heal(request: Request, call_next: Service) -> Response:  # the venue recovers after one 503
            try:
                return await call_next(request)
            except lotusx.ServerError:
                sim.chaos("binance").error_rate = 0.0
                raise

        async with binance(sim, outer=[around(stats)], inner=[around(wire), around(heal)]) as ex:
            await ex.get_order_book("BTCUSDT", depth=5)
    assert stats.calls["depth"] == 1 and stats.errors["depth"] == 0 and len(stats.latencies["depth"]) == 1
    assert wire.calls["depth"] == 2 and wire.errors["depth"] == 1


async def test_a_circuit_breaker_inside_retry_stops_sending_after_three_failures() -> None:
    """Three 503s open the breaker: the next call fails fast, nothing more reaches the venue."""
    wire = Recorder()
    async with serve(venues=("binance",)) as sim, \
            binance(sim, clock=FakeClock(), inner=[CircuitBreaker(3), around(wire)]) as ex:
        sim.chaos("binance").error_rate = 1.0
        with pytest.raises(lotusx.ServerError):
            await ex.get_order_book("BTCUSDT", depth=5)
        with pytest.raises(ConnectError, match="circuit open"):
            await ex.get_order_book("BTCUSDT", depth=5)
    assert [r.endpoint.name for r in wire.seen].count("depth") == 3


async def test_a_recorder_inside_sees_the_lookup_of_an_order_whose_answer_was_lost() -> None:
    """inner layers see every signed wire attempt: the reconcile query too."""
    wire = Recorder()
    async with serve(venues=("binance",)) as sim, binance(sim, inner=[around(wire)]) as ex:
        sim.chaos("binance").lose_answer_rate = 1.0
        order = await ex.place_order(ORDER)
    assert order.status == "NEW"
    assert ("GET", "/api/v3/order", "get_order") in wire.paths()


async def test_a_recorder_inside_sees_the_clocks_server_time_samples() -> None:
    """inner layers see every wire attempt: the clock sync's samples before a signed call too."""
    wire = Recorder()
    async with serve(venues=("binance",)) as sim, binance(sim, inner=[around(wire)]) as ex:
        await ex.place_order(ORDER)
    assert ("GET", "/api/v3/time", "time") in wire.paths()

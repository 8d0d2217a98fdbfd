"""Fixtures for the Bybit connector tests: a fast embedded sim and connectors on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.exchanges.bybit import Bybit
from lotusx.kernel.message import Request, Response
from lotusx.sim import Sim, SimConfig, serve

PAYLOADS = Path(__file__).parent / "payloads"
FAST = SimConfig(depth_interval=0.02, driver_rate=0)
"""Quick depth events and no random flow: books move only when a test trades, so they compare exactly."""


def payload(name: str) -> bytes:
    """A recorded official example (see payloads/README.md)."""
    return (PAYLOADS / name).read_bytes()


def answer(result: Any, *, ret_code: int = 0, ret_msg: str = "OK", time: int = 1_700_000_000_000,
           headers: dict[str, str] | None = None) -> Response:
    """A Bybit envelope as the venue would send it."""
    body = orjson.dumps({"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}, "time": time})
    return Response(status=200, body=body, headers=headers or {})


def routes(table: dict[str, Callable[[Request], Response]]) -> Callable[[Request], Response]:
    """A FakeTransport handler answering by path; server time is always there."""

    def handle(request: Request) -> Response:
        if request.path == "/v5/market/time":
            return Response(status=200, body=payload("server_time.json"))
        return table[request.path](request)

    return handle


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """Bybit alone on loopback, seed 1."""
    async with serve(("bybit",), seed=1, config=FAST) as running:
        yield running


@pytest.fixture
def credentials(sim: Sim) -> lotusx.Credentials:
    """The sim's HMAC key."""
    keys = sim.api_keys("bybit")
    return lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)


@pytest.fixture
async def bybit(sim: Sim, credentials: lotusx.Credentials) -> AsyncIterator[Bybit]:
    """A spot connector on the sim."""
    async with lotusx.connect("bybit", credentials=credentials, rest_url=sim.rest_url("bybit"),
                              ws_url=sim.ws_url("bybit")) as ex:
        yield ex

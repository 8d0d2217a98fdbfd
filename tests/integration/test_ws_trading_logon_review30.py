"""Binance ``ws_trading=True`` with an Ed25519 key: each connection logs on once, calls go unsigned on it.

Against the embedded simulator over real loopback sockets (web-socket-api.md "Session Authentication").
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx.kernel.errors import AuthenticationError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.models import NewOrder
from lotusx.sim import Sim, SimConfig, serve

SYMBOL = "BTCUSDT"
QUIET = SimConfig(driver_rate=0, depth_interval=0.05)


@dataclass
class Seen:
    """An inner layer: the signed query of every request that reached the wire, by endpoint name."""

    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __call__(self, inner: Service) -> Service:
        async def call(request: Request) -> Response:
            self.queries.append((request.endpoint.name, dict(request.query)))
            return await inner(request)
        return call


@dataclass
class Desk:
    ex: Any
    sim: Sim
    seen: Seen
    key: str


@asynccontextmanager
async def desk() -> AsyncIterator[Desk]:
    async with serve(("binance",), seed=1, config=QUIET) as sim:
        keys = sim.api_keys("binance")
        seed = base64.b64decode(keys.ed25519_private_key or "")
        seen = Seen()
        credentials = lotusx.Credentials(keys.ed25519_key or "", seed)  # type: ignore[arg-type]
        async with lotusx.connect("binance", credentials=credentials, rest_url=sim.rest_url("binance"),
                                  ws_url=sim.ws_url("binance"), ws_trading=True, inner=[seen]) as ex:
            yield Desk(ex, sim, seen, keys.ed25519_key or "")


def bid(d: Desk, cid: str) -> NewOrder:
    engine = d.sim.engine("binance", "spot")
    price = (engine.books[SYMBOL].prices("BUY")[0] / 2).quantize(engine.markets[SYMBOL].tick)
    return NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.001"),
                    price=price, client_order_id=cid)


async def test_an_ed25519_key_places_and_cancels_on_one_logged_on_connection() -> None:
    """Place then cancel: the venue has the order cancelled, and saw one logon for the one connection."""
    async with desk() as d:
        order = await d.ex.place_order(bid(d, "ed-1"))
        await d.ex.cancel_order(SYMBOL, order_id=order.order_id)
        statuses = [o.status for o in d.sim.engine("binance").orders_of("user") if o.client_id == "ed-1"]
        assert (statuses, d.sim.ws_api_logons("binance")) == (["CANCELED"], 1)


async def test_the_calls_on_a_logged_on_connection_carry_no_key_or_signature() -> None:
    """The place and cancel frames' params: timestamp and recvWindow, no apiKey, no signature."""
    async with desk() as d:
        order = await d.ex.place_order(bid(d, "ed-2"))
        await d.ex.cancel_order(SYMBOL, order_id=order.order_id)
        sent = [query for name, query in d.seen.queries if name in ("place_order", "cancel_order")]
        assert len(sent) == 2
        assert all("apiKey" not in q and "signature" not in q and "timestamp" in q for q in sent)


async def test_a_key_revoked_mid_session_fails_typed_at_the_next_logon() -> None:
    """The key deleted: the session is revoked, the next connection's logon is refused, AuthenticationError."""
    async with desk() as d:
        await d.ex.place_order(bid(d, "ed-3"))
        d.sim.revoke_key("binance", d.key)
        with pytest.raises(AuthenticationError) as refused:
            await d.ex.get_open_orders(SYMBOL)
        assert d.key not in f"{refused.value} {refused.value!r}"
        dropped = d.ex.metrics.registry.get_sample_value(
            "lotusx_ws_reconnects_total", {"exchange": "binance", "reason": "trading_dropped"})
        assert (dropped, d.sim.ws_api_logons("binance")) == (1, 1)

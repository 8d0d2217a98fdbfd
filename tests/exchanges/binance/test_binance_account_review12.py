"""Binance account streams, review 12: balances ordered by the account update time ``u``."""

from __future__ import annotations

import asyncio
from typing import Any

from lotusx.exchanges.binance import Binance
from tests.exchanges.binance import test_binance_streams as scripted
from tests.exchanges.binance.test_binance_streams import Venue

# The scripted venue of test_binance_streams and a connector pointed at it.
venue, metrics, ex = scripted.venue, scripted.metrics, scripted.ex


def position(u: int, asset: str, free: str) -> dict[str, Any]:
    """An outboundAccountPosition (user-data-stream.md "Account Update") of one asset at account time ``u``."""
    return {"e": "outboundAccountPosition", "E": u + 5, "u": u, "B": [{"a": asset, "f": free, "l": "0.00000000"}]}


async def test_a_position_older_than_the_last_of_its_asset_is_dropped(ex: Binance, venue: Venue) -> None:
    """A position that arrives after a newer one (a rotation's old connection) does not put BTC back to 1."""
    venue.user = [[position(200, "BTC", "2"), position(100, "BTC", "1"), position(300, "ETH", "5")]]
    changes = ex.watch_balances()
    try:
        got = [await asyncio.wait_for(anext(changes), 5.0) for _ in range(2)]
    finally:
        await changes.aclose()  # type: ignore[attr-defined]
    assert [{asset: b.free for asset, b in change.items()} for change in got] == [{"BTC": 2}, {"ETH": 5}]

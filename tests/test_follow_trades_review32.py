"""follow_trades: a public trade stream that continues across gaps from the venue's recent trades."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from lotusx.account import follow_trades
from lotusx.metrics import Metrics
from lotusx.models import Trade
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Resumed


def trade(trade_id: int, timestamp: int) -> Trade:
    return Trade(symbol="BTCUSDT", trade_id=str(trade_id), price=Decimal("1"), quantity=Decimal("1"), side="BUY",
                 timestamp=timestamp)


async def script(*messages: Any) -> AsyncIterator[Any]:
    for message in messages:
        yield message


def carried(message: Any) -> list[Trade]:
    return [message] if isinstance(message, Trade) else []


async def followed(recent: list[Trade], *messages: Any, page: int = 1000, metrics: Metrics | None = None) -> list[str]:
    async def fetch() -> list[Trade]:
        return recent

    return [t.trade_id async for t in follow_trades(script(*messages), trades=carried, fetch=fetch, page=page,
                                                     clock=FakeClock(), metrics=metrics, exchange="x")]


async def test_the_trades_a_gap_hid_come_before_the_stream_once_each() -> None:
    """After Gap and Resumed: the recent trades not yielded yet, oldest first; one both fetched and streamed, once."""
    recent = [trade(1, 100), trade(2, 100), trade(3, 105), trade(4, 110)]
    got = await followed(recent, trade(1, 100), Gap("reconnect", 0.0), Resumed(0.0), trade(4, 110), trade(5, 120))
    assert got == ["1", "2", "3", "4", "5"]


async def test_a_gap_longer_than_the_page_is_counted() -> None:
    """A full page that does not reach back to the last trade yielded: older trades are lost, and counted."""
    metrics = Metrics()
    got = await followed([trade(7, 200), trade(8, 210)], trade(1, 100), Gap("reconnect", 0.0), Resumed(0.0),
                         page=2, metrics=metrics)
    assert got == ["1", "7", "8"]
    assert metrics.ws_dropped.labels("x", "trades_past_backfill")._value.get() == 1

"""follow_fills: every execution of the account once, the ones a stream gap hid fetched by REST after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from lotusx.account import RECONCILE_WAITS, follow_fills
from lotusx.kernel.errors import AuthenticationError, LotusXError, ServerError, SubscriptionRejected
from lotusx.metrics import Metrics
from lotusx.models import Fill
from lotusx.testing import FakeClock
from lotusx.ws import Gap, Lost, Resumed


def fill(trade_id: str, timestamp: int = 1, order_id: str = "o1", side: str = "BUY",
         symbol: str = "BTCUSDT") -> Fill:
    return Fill(trade_id=trade_id, order_id=order_id, client_order_id=None, symbol=symbol, side=side,  # type: ignore[arg-type]
                price=Decimal("100.5"), quantity=Decimal("0.001"), fee=Decimal("0.0000001"), fee_asset="BTC",
                maker=True, timestamp=timestamp)


class Venue:
    """The REST side: the fills it lists since a gap, after scripted failures; records what was asked."""

    def __init__(self, fills: list[Fill] | None = None, fail: list[LotusXError] | None = None) -> None:
        self.fills = fills or []
        self.fail = fail or []
        self.asked: list[tuple[float, frozenset[str]]] = []

    async def fetch(self, gap_time: float, symbols: frozenset[str]) -> list[Fill]:
        self.asked.append((gap_time, symbols))
        if self.fail:
            raise self.fail.pop(0)
        return self.fills


async def stream(*messages: Any) -> AsyncIterator[Any]:
    for message in messages:
        yield message


def fills(message: Any) -> list[Fill]:
    return list(message) if isinstance(message, tuple) else [message] if isinstance(message, Fill) else []


async def follow(venue: Venue, *messages: Any, clock: FakeClock | None = None,
                 metrics: Metrics | None = None) -> list[Fill]:
    return [f async for f in follow_fills(stream(*messages), fills=fills, fetch=venue.fetch,
                                          clock=clock or FakeClock(), metrics=metrics, exchange="testex")]


async def test_stream_fills_are_yielded_as_they_come() -> None:
    """Each execution on the stream is yielded, other messages are not, and nothing is asked by REST."""
    venue = Venue()
    got = await follow(venue, fill("1"), "an order update", fill("2", 2))
    assert [f.trade_id for f in got] == ["1", "2"]
    assert venue.asked == []


async def test_fills_missed_during_a_gap_come_once_oldest_first_after_it() -> None:
    """After a gap the fills since it began are fetched: those not yet yielded come oldest first, then the stream."""
    venue = Venue([fill("1", 1), fill("4", 4), fill("3", 3)])
    got = await follow(venue, fill("1", 1), Gap("disconnected", 5.0), Resumed(6.0), fill("5", 5))
    assert [f.trade_id for f in got] == ["1", "3", "4", "5"]
    assert venue.asked == [(5.0, frozenset({"BTCUSDT"}))]


async def test_a_fill_both_fetched_and_streamed_after_the_gap_comes_once() -> None:
    """A fill made while the reconcile ran is in its answer and then on the stream: yielded once."""
    venue = Venue([fill("2", 2)])
    got = await follow(venue, Gap("disconnected", 1.0), Resumed(2.0), fill("2", 2), fill("3", 3))
    assert [f.trade_id for f in got] == ["2", "3"]


async def test_the_two_rows_of_a_self_trade_are_both_yielded() -> None:
    """One trade id, the buyer's order and the seller's: two fills, each once, on the stream and in the reconcile."""
    buy, sell = fill("7", order_id="o1", side="BUY"), fill("7", order_id="o2", side="SELL")
    venue = Venue([buy, sell])
    got = await follow(venue, buy, Gap("disconnected", 1.0), Resumed(2.0), sell)
    assert [(f.trade_id, f.order_id) for f in got] == [("7", "o1"), ("7", "o2")]


async def test_gaps_before_the_stream_is_back_are_asked_once_from_the_earliest() -> None:
    """Several gaps in a row: one fetch, from the first gap's time."""
    venue = Venue()
    await follow(venue, Gap("disconnected", 50.0), Gap("disconnected", 40.0), Resumed(60.0))
    assert [gap for gap, _ in venue.asked] == [40.0]


async def test_a_fetch_failing_for_a_passing_reason_is_asked_again() -> None:
    """A 5xx: asked again after the first wait, counted; the fills then come."""
    clock, metrics = FakeClock(), Metrics()
    venue = Venue([fill("1")], fail=[ServerError("busy", status=503)])
    got = await follow(venue, Gap("disconnected", 1.0), Resumed(2.0), clock=clock, metrics=metrics)
    assert [f.trade_id for f in got] == ["1"]
    assert clock.slept == [RECONCILE_WAITS[0]]
    assert metrics.reconcile_retries.labels("testex", "fills", "ServerError")._value.get() == 1


async def test_a_fetch_failing_for_good_ends_the_iteration_with_its_error() -> None:
    """An error no wait mends (a revoked key) ends the fills at once: a fill is never silently skipped."""
    venue = Venue(fail=[AuthenticationError("key revoked")])
    with pytest.raises(AuthenticationError):
        await follow(venue, fill("1"), Gap("disconnected", 1.0), Resumed(2.0))
    assert len(venue.asked) == 1


async def test_a_fetch_failing_past_the_waits_ends_the_iteration() -> None:
    """Passing failures that outlast every wait: the last one ends the iteration."""
    venue = Venue(fail=[ServerError("busy", status=503) for _ in range(len(RECONCILE_WAITS) + 1)])
    with pytest.raises(ServerError):
        await follow(venue, Gap("disconnected", 1.0), Resumed(2.0))


async def test_a_lost_stream_ends_with_subscription_rejected() -> None:
    """Gap then Lost: the SubscriptionRejected naming the stream, nothing fetched."""
    venue = Venue()
    with pytest.raises(SubscriptionRejected, match="'execution'"):
        await follow(venue, fill("1"), Gap("test", 1.0), Lost("execution", "Request not authorized", 2.0, 0))
    assert venue.asked == []


async def test_amounts_stay_exact_decimals() -> None:
    """Price, quantity and fee come through as the Decimals they were, streamed or fetched."""
    venue = Venue([fill("2", 2)])
    got = await follow(venue, fill("1"), Gap("disconnected", 1.0), Resumed(2.0))
    assert all(type(v) is Decimal for f in got for v in (f.price, f.quantity, f.fee))
    assert [(f.price, f.fee) for f in got] == [(Decimal("100.5"), Decimal("0.0000001"))] * 2


async def test_the_memory_of_fills_yielded_is_bounded() -> None:
    """Past the bound the oldest keys are forgotten, so memory does not grow with a long session's fills."""
    from lotusx import account

    many = [fill(str(n), n) for n in range(account._FILLS_REMEMBERED + 1)]
    venue = Venue([many[0]])  # the first one, forgotten by now, is fetched again
    got = await follow(venue, tuple(many), Gap("disconnected", 1.0), Resumed(2.0))
    assert len(got) == len(many) + 1

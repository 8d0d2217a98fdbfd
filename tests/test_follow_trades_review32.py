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


class Venue:
    """Consecutive trade ids (Binance): ``fetch_after(last)`` lists up to ``page`` from last's id + 1."""

    def __init__(self, made: int, page: int = 1000) -> None:
        self.made, self.page, self.fetched = made, page, 0

    async def fetch_after(self, last: Trade) -> list[Trade]:
        self.fetched += 1
        first = int(last.trade_id) + 1
        return [trade(i, i) for i in range(first, min(first + self.page, self.made + 1))]

    async def recent(self) -> list[Trade]:
        raise AssertionError("a venue with consecutive ids is walked from the last trade, not asked its recent trades")


def skipped(prev: Trade, later: Trade) -> int:
    return int(later.trade_id) - int(prev.trade_id) - 1


async def walked(venue: Venue, *messages: Any, pages: int = 10, metrics: Metrics | None = None) -> list[str]:
    return [t.trade_id async for t in follow_trades(
        script(*messages), trades=carried, fetch=venue.recent, page=venue.page, fetch_after=venue.fetch_after,
        skipped=skipped, pages=pages, clock=FakeClock(), metrics=metrics, exchange="x")]


async def test_an_outage_that_hid_2500_trades_is_walked_in_three_pages() -> None:
    """Consecutive ids: every trade the outage hid comes once, in id order, before the stream's, in 3 pages."""
    venue = Venue(made=2503)
    got = await walked(venue, trade(1, 1), Gap("reconnect", 0.0), Resumed(0.0), trade(2502, 2502), trade(2503, 2503))
    assert got == [str(i) for i in range(1, 2504)]
    assert venue.fetched == 3


async def test_a_hole_in_the_live_stream_is_filled() -> None:
    """Ids jumping by more than one without any gap marker: the missing ids are fetched before the later trade."""
    venue = Venue(made=7)
    got = await walked(venue, trade(1, 1), trade(2, 2), trade(6, 6), trade(7, 7))
    assert got == ["1", "2", "3", "4", "5", "6", "7"]
    assert venue.fetched == 1


async def test_ids_going_back_or_repeating_are_dropped_without_a_fetch() -> None:
    """A trade not later than the last yielded is no hole: dropped, nothing fetched."""
    venue = Venue(made=3)
    got = await walked(venue, trade(1, 1), trade(2, 2), trade(2, 2), trade(1, 1), trade(3, 3))
    assert got == ["1", "2", "3"]
    assert venue.fetched == 0


async def test_the_walk_stops_at_its_page_cap_and_counts_the_loss() -> None:
    """Past ``pages`` pages the walk gives up: the rest is counted lost, the stream continues, nothing is re-fetched."""
    metrics = Metrics()
    venue = Venue(made=2504)
    got = await walked(venue, trade(1, 1), Gap("reconnect", 0.0), Resumed(0.0), trade(2502, 2502), trade(2503, 2503),
                       trade(2504, 2504), pages=2, metrics=metrics)
    assert got == [str(i) for i in range(1, 2002)] + ["2502", "2503", "2504"]
    assert venue.fetched == 2
    assert metrics.ws_dropped.labels("x", "trades_past_backfill")._value.get() == 1


async def test_a_quiet_resume_walks_until_a_short_page() -> None:
    """Back after a gap with no trade yet on the stream: the hidden trades are fetched at once, up to the present."""
    venue = Venue(made=1500)
    got = await walked(venue, trade(1, 1), Gap("reconnect", 0.0), Resumed(0.0))
    assert got == [str(i) for i in range(1, 1501)]
    assert venue.fetched == 2


async def test_a_hole_after_a_walk_gave_up_is_still_filled() -> None:
    """Giving up covers that one gap only: a later jump in the stream is walked again."""
    venue = Venue(made=2510, page=1000)
    got = await walked(venue, trade(1, 1), Gap("reconnect", 0.0), Resumed(0.0), trade(2502, 2502), trade(2505, 2505),
                       pages=1)
    assert got[-4:] == ["2502", "2503", "2504", "2505"]
    assert venue.fetched == 2


async def test_a_walk_that_ends_short_of_the_stream_counts_the_loss() -> None:
    """The venue lists nothing up to the stream's trade (its history lags): the missing ones are counted lost."""
    metrics = Metrics()
    venue = Venue(made=3)  # knows 1 to 3 while the stream already shows 6
    got = await walked(venue, trade(1, 1), trade(6, 6), metrics=metrics)
    assert got == ["1", "2", "3", "6"]
    assert metrics.ws_dropped.labels("x", "trades_past_backfill")._value.get() == 1

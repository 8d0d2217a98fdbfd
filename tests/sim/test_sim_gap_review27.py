"""The sequence-gap knob burns update ids no snapshot has told yet."""

from __future__ import annotations

from decimal import Decimal

from lotusx.book import BookEvent, DiffSync, Gap
from lotusx.sim import SimConfig
from lotusx.sim.book import DepthChange
from lotusx.sim.venue import MAKER, Event, Venue


def test_a_book_synced_from_a_snapshot_of_pending_changes_sees_the_gap() -> None:
    """A book synced from /api/v3/depth while three changes were unpublished (its lastUpdateId counts them)
    sees the gap the knob injects in the next depth event: the burned ids come after theirs, never in front."""
    venue = Venue("binance", ("spot",), seed=1, config=SimConfig(driver_rate=0))
    engine = venue.engines["spot"]
    published: list[DepthChange] = []

    def depth(event: Event) -> None:
        if event.kind == "depth" and event.symbol == "BTCUSDT":
            published.append(event.data)

    venue.hub.subscribe(depth)
    venue.publish_depth()  # nothing pending from here on but what is placed below
    for price in ("40000", "40001", "40002"):
        engine.place(MAKER, "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.01"), price=Decimal(price))
    sync = DiffSync("BTCUSDT")
    # The snapshot's lastUpdateId, as GET /api/v3/depth answers it now (lotusx.sim.binance_rest).
    sync.on_snapshot([], [], engine.books["BTCUSDT"].update_id)
    venue.chaos.sequence_gap = 3
    venue.publish_depth()
    [change] = published
    assert isinstance(sync.on_event(BookEvent(change.first_id, change.last_id, [], [])), Gap)

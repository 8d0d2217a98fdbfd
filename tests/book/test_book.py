"""Local books and their synchronisation rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lotusx.book import BookEvent, DiffSync, Gap, LocalBook, SnapshotDeltaSync
from lotusx.kernel.errors import ConfigError
from lotusx.models import Balance, OrderBook

D = Decimal


def test_levels_are_exact_and_zero_removes() -> None:
    """Quantities are Decimal, equal prices in different spellings are one level, zero deletes."""
    book = LocalBook("BTCUSDT")
    book.reset([("100.10", "1")], [("101.0", "2")], 5)
    book.update([("100.1", "3"), ("99", "1")], [("101.00", "0")], 6)
    view = book.view()
    assert view.bids == [(D("100.1"), D("3")), (D("99"), D("1"))]
    assert view.asks == [] and view.sequence == 6


def test_view_is_best_first_and_limited() -> None:
    """view(depth) gives the best levels first, at most depth per side."""
    book = LocalBook("X")
    book.reset([(str(p), "1") for p in range(1, 11)], [(str(p), "1") for p in range(11, 21)], 1)
    view = book.view(3)
    assert [p for p, _ in view.bids] == [D(10), D(9), D(8)]
    assert [p for p, _ in view.asks] == [D(11), D(12), D(13)]
    assert view.best_bid == (D(10), D(1)) and view.best_ask == (D(11), D(1))
    assert not book.crossed


def test_crossed_book_is_detected() -> None:
    """A bid at or above the best ask marks the book crossed."""
    book = LocalBook("X")
    book.reset([("10", "1")], [("10", "1")], 1)
    assert book.crossed


def ev(first: int, last: int, bid: str = "1", qty: str = "1") -> BookEvent:
    return BookEvent(first, last, [(bid, qty)], [])


def test_diff_sync_follows_the_documented_procedure() -> None:
    """Events buffer until the snapshot; stale ones are dropped; the rest apply in order."""
    sync = DiffSync("BTCUSDT")
    assert sync.on_event(ev(95, 100, "1")) == "buffered"
    assert sync.on_event(ev(101, 103, "2")) == "buffered"
    assert sync.on_snapshot([("5", "1")], [], last_update_id=101) == "snapshot"
    assert sync.synced and sync.book.sequence == 103
    assert D("2") in sync.book.bids and D("1") not in sync.book.bids  # u=100 <= 101 was dropped
    assert sync.on_event(ev(104, 104, "3")) == "applied"
    assert sync.on_event(ev(90, 104)) == "stale"


def test_diff_sync_refuses_a_snapshot_older_than_the_stream() -> None:
    """A snapshot that ends before the first buffered event is stale: fetch another."""
    sync = DiffSync("X")
    sync.on_event(ev(200, 210))
    assert sync.on_snapshot([], [], last_update_id=150) == "stale"
    assert not sync.synced
    assert sync.on_snapshot([], [], last_update_id=199) == "snapshot"


def test_diff_sync_reports_a_gap_and_rebuffers() -> None:
    """A skipped update id yields a Gap, discards the book and buffers the event for the resync."""
    sync = DiffSync("X")
    sync.on_snapshot([("1", "1")], [], last_update_id=10)
    assert sync.on_event(ev(11, 12)) == "applied"
    gap = sync.on_event(ev(14, 15))
    assert gap == Gap("X", "sequence gap", expected=13, got=14)
    assert not sync.synced and sync.book.bids == {}
    assert sync.on_snapshot([], [], last_update_id=13) == "snapshot"
    assert sync.book.sequence == 15


def test_diff_sync_gap_inside_the_buffer_is_reported() -> None:
    """A gap among buffered events is found while replaying them after the snapshot."""
    sync = DiffSync("X")
    sync.on_event(ev(11, 12))
    sync.on_event(ev(20, 21))
    assert isinstance(sync.on_snapshot([], [], last_update_id=10), Gap)


def test_diff_sync_keeps_the_diffs_buffered_after_a_gap_found_on_replay() -> None:
    """Diffs after the one that revealed a gap stay buffered: the next snapshot continues through them."""
    sync = DiffSync("X")
    sync.on_event(ev(11, 12))
    sync.on_event(ev(15, 16))  # 13..14 lost
    sync.on_event(ev(17, 18, "7"))
    assert isinstance(sync.on_snapshot([], [], last_update_id=12), Gap)
    assert sync.on_snapshot([], [], last_update_id=16) == "snapshot"
    assert (sync.book.sequence, sync.on_event(ev(19, 19))) == (18, "applied")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 20), st.integers(0, 3), st.booleans()),
                min_size=1, max_size=60))
def test_diff_sync_always_converges_to_the_true_book(steps: list[tuple[int, int, int, bool]]) -> None:
    """Whatever events are lost, resyncing after each gap ends with exactly the venue's book."""
    truth = LocalBook("X")
    sync = DiffSync("X")
    sync.on_snapshot([], [], last_update_id=0)
    seq = 0
    for span, price, qty, lost in steps:
        event = ev(seq + 1, seq + span, str(price), str(qty))
        seq += span
        truth.update(event.bids, event.asks, seq)
        if lost:
            continue
        if isinstance(sync.on_event(event), Gap):
            view = truth.view()
            outcome = sync.on_snapshot([(str(p), str(q)) for p, q in view.bids], [], last_update_id=seq)
            assert outcome == "snapshot"
    if not sync.synced or sync.book.sequence != seq:  # the last loss is only seen with the next event
        sync.reset()
        sync.on_snapshot([(str(p), str(q)) for p, q in truth.view().bids], [], last_update_id=seq)
    assert sync.book.view() == truth.view()


def test_snapshot_delta_sync_follows_bybit_rules() -> None:
    """Snapshot resets, deltas need u+1, u == 1 is a fresh snapshot, a skip is a gap."""
    sync = SnapshotDeltaSync("BTCUSDT")
    assert sync.on_message("delta", 5, [("1", "1")], []) == "buffered"
    assert sync.on_message("snapshot", 10, [("100", "1")], [("101", "1")]) == "snapshot"
    assert sync.on_message("delta", 11, [("100", "0")], []) == "applied"
    assert sync.on_message("delta", 11, [], []) == "stale"
    assert sync.book.bids == {}
    assert sync.on_message("delta", 1, [("50", "2")], []) == "snapshot"
    assert sync.book.view().bids == [(D(50), D(2))] and sync.book.asks == {}
    gap = sync.on_message("delta", 3, [], [])
    assert gap == Gap("BTCUSDT", "sequence gap", expected=2, got=3)
    assert not sync.synced


def test_reprs_and_models() -> None:
    """Reprs summarise state; Balance.total adds free and locked; empty books have no best level."""
    assert "synced=False" in repr(DiffSync("X")) and "SnapshotDeltaSync" in repr(SnapshotDeltaSync("X"))
    assert "LocalBook('X'" in repr(LocalBook("X"))
    assert Balance(asset="BTC", free=D("1.5"), locked=D("0.25")).total == D("1.75")
    empty = OrderBook(symbol="X", bids=[], asks=[], sequence=0)
    assert empty.best_bid is None and empty.best_ask is None


def test_view_of_depth_zero_is_empty_and_negative_depth_is_refused() -> None:
    """view(0) has no levels (not all of them); a negative depth is a ConfigError."""
    book = LocalBook("BTCUSDT")
    book.reset([("100", "1"), ("99", "2")], [("101", "1")], 1)
    empty = book.view(0)
    assert (list(empty.bids), list(empty.asks)) == ([], [])
    assert [price for price, _ in book.view(1).bids] == [Decimal("100")]
    assert len(book.view(5).bids) == 2
    with pytest.raises(ConfigError):
        book.view(-1)


def test_a_lost_diff_discards_a_synced_book() -> None:
    """on_lost on a synced book: a Gap with the reason, and the book waits for a new snapshot."""
    sync = DiffSync("X")
    sync.on_snapshot([("10", "1")], [], 5)
    assert sync.on_lost("unreadable message") == Gap("X", "unreadable message")
    assert not sync.synced and sync.book.sequence == 0


def test_a_lost_diff_while_buffering_asks_for_a_snapshot_and_keeps_the_buffer() -> None:
    """Before the snapshot a lost diff is a Gap too (a snapshot asked for earlier may miss it);
    the diffs buffered before it stay, to be replayed onto the next snapshot."""
    sync = DiffSync("X")
    sync.on_event(BookEvent(6, 6, [("10", "1")], []))
    assert sync.on_lost("unreadable message") == Gap("X", "unreadable message")
    assert not sync.synced
    assert sync.on_snapshot([], [], 5) == "snapshot"  # diff 6, buffered before the loss, replayed
    assert sync.book.sequence == 6


@pytest.mark.parametrize("size", [0, -1])
def test_a_diff_sync_that_could_buffer_nothing_is_a_config_error(size: int) -> None:
    """max_buffer below 1 would drop every diff that comes while the snapshot is on its way: refused."""
    with pytest.raises(ConfigError, match="max_buffer"):
        DiffSync("BTCUSDT", max_buffer=size)

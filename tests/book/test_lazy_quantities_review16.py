"""A diff's quantities are read when the book is read: exact, checked, and a bad one still resyncs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.book import BookEvent, DiffSync, Gap, LocalBook, SnapshotDeltaSync, readable
from lotusx.book.sync import MALFORMED
from lotusx.kernel.errors import ProtocolError
from tests.book.test_crossed_book_review14 import after_one_diff

BIDS, ASKS = [("100", "1"), ("99", "2")], [("101", "1")]


def synced() -> DiffSync:
    """A book synced on BIDS/ASKS at update id 10."""
    sync = DiffSync("X")
    assert sync.on_snapshot(BIDS, ASKS, 10) == "snapshot"
    return sync


def test_a_diff_quantity_reads_as_the_exact_decimal_sent() -> None:
    """A quantity kept as the venue's string is read back as exactly that Decimal."""
    book = LocalBook("X")
    book.update([("100", "1.50000000"), ("99", "0.00100000")], [], 1)
    assert book.view().bids == [(Decimal(100), Decimal("1.50000000")), (Decimal(99), Decimal("0.00100000"))]


def test_bids_and_asks_hold_decimals_only() -> None:
    """Reading bids/asks gives Decimal quantities, never the strings a diff left."""
    book = LocalBook("X")
    book.update([("100", "1.5")], [("101", "2")], 1)
    assert book.bids == {Decimal(100): Decimal("1.5")} and book.asks == {Decimal(101): Decimal(2)}
    assert {type(quantity) for quantity in (*book.bids.values(), *book.asks.values())} == {Decimal}


@pytest.mark.parametrize("zero", ["0", "0.00000000", "000", ".0", "0.", "-0", "0E-8", "+0.0"])
def test_every_way_of_writing_zero_removes_the_level(zero: str) -> None:
    """A zero quantity, in any form Decimal reads as zero, removes its level."""
    sync = synced()
    assert sync.on_event(BookEvent(11, 11, [("100", zero)], [])) == "applied"
    assert readable(sync).bids == [(Decimal(99), Decimal(2))]  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["", ".", "0.0.0", "NaN", "-1", "-0.5", "Infinity", "abc", "sNaN", "0x10"])
def test_a_quantity_that_cannot_be_a_positive_amount_is_a_gap_at_the_update(bad: str) -> None:
    """A quantity that is not zero and does not start like a positive number fails the diff at once."""
    sync = synced()
    outcome = sync.on_event(BookEvent(11, 11, [("100", bad)], []))
    assert isinstance(outcome, Gap) and outcome.reason == MALFORMED and not sync.synced


@pytest.mark.parametrize("odd", ["1e3", "+2", " 3 ", "1_000"])
def test_a_quantity_decimal_reads_is_kept_as_decimal_reads_it(odd: str) -> None:
    """Forms Decimal accepts give the level Decimal gives them, whichever path they take."""
    sync = synced()
    assert sync.on_event(BookEvent(11, 11, [("100", odd)], [])) == "applied"
    assert readable(sync).bids[0] == (Decimal(100), Decimal(odd))  # type: ignore[union-attr]


def test_a_quantity_that_only_starts_like_a_number_fails_the_view() -> None:
    """'1.5x' passes the update; the view that reads it raises ProtocolError naming the level."""
    book = LocalBook("X")
    book.update([("100", "1.5x")], [], 1)
    with pytest.raises(ProtocolError, match=r"1\.5x"):
        book.view()


def test_a_quantity_that_only_starts_like_a_number_fails_bids() -> None:
    """Reading bids raises ProtocolError for a quantity that is no amount."""
    book = LocalBook("X")
    book.update([("100", "7 lots")], [], 1)
    with pytest.raises(ProtocolError):
        _ = book.bids


def test_readable_answers_a_malformed_gap_for_such_a_quantity_and_discards_the_book() -> None:
    """readable() turns the read's ProtocolError into a MALFORMED Gap; the book waits for a snapshot."""
    sync = synced()
    assert sync.on_event(BookEvent(11, 11, [("100", "1.5x")], [])) == "applied"
    outcome = readable(sync)
    assert isinstance(outcome, Gap) and outcome.reason == MALFORMED
    assert not sync.synced and sync.book.view().bids == []


def test_readable_checks_only_the_levels_it_reads() -> None:
    """A bad quantity below the depth read is not read, so the view of the top is given."""
    sync = synced()
    sync.on_event(BookEvent(11, 11, [("99", "2.5x")], []))
    assert readable(sync, 1).bids == [(Decimal(100), Decimal(1))]  # type: ignore[union-attr]
    outcome = readable(sync, 2)
    assert isinstance(outcome, Gap) and outcome.reason == MALFORMED


def test_a_bybit_delta_with_such_a_quantity_is_a_malformed_gap_when_read() -> None:
    """SnapshotDeltaSync: the delta applies; readable() answers MALFORMED and the book waits for a snapshot."""
    sync = SnapshotDeltaSync("X")
    sync.on_message("snapshot", 5, BIDS, ASKS)
    assert sync.on_message("delta", 6, [("100", "3..")], []) == "applied"
    outcome = readable(sync)
    assert isinstance(outcome, Gap) and outcome.reason == MALFORMED and not sync.synced


def test_exact_decimal_levels_still_apply() -> None:
    """Diff levels given as Decimals (not strings) set and remove levels as before."""
    book = LocalBook("X")
    book.update([(Decimal(100), Decimal("1.5")), (Decimal(99), Decimal(2))], [], 1)
    book.update([(Decimal(99), Decimal(0))], [], 2)
    assert book.view().bids == [(Decimal(100), Decimal("1.5"))]


def test_a_read_quantity_is_kept_read() -> None:
    """A second view gives the same Decimal object: a quantity is parsed once."""
    book = LocalBook("X")
    book.update([("100", "1.5")], [], 1)
    assert book.view().bids[0][1] is book.view().bids[0][1]


async def test_follow_books_resyncs_a_diff_whose_quantity_is_no_amount() -> None:
    """The diff is never yielded: a MALFORMED resync, then the next snapshot's book."""
    first, second, resyncs = await after_one_diff([(BIDS, ASKS, 10), ([("98", "1")], [("103", "1")], 20)],
                                                  BookEvent(11, 11, [("100", "1.5x")], []), depth=5)
    assert first.sequence == 10
    assert resyncs == [("X", MALFORMED)]
    assert (second.sequence, second.bids) == (20, [(Decimal(98), Decimal(1))])

"""Dedup: repeats are dropped only around an overlap of two links, and forgotten after."""

from __future__ import annotations

from lotusx.ws.hub import Dedup


def dedup(size: int = 4) -> Dedup:
    return Dedup(lambda message: message, size)


def test_inactive_until_an_overlap_starts() -> None:
    """A fresh Dedup asks the reader for no checks at all."""
    assert not dedup().active


def test_repeats_during_an_overlap_are_dropped() -> None:
    """While two links overlap, a message seen once is not fresh the second time."""
    d = dedup()
    d.overlap_started()
    assert d.active
    assert [d.fresh(m) for m in (1, 2, 1, 2, 3)] == [True, True, False, False, True]


def test_checks_continue_for_size_messages_after_the_overlap_then_stop_and_forget() -> None:
    """After the overlap, `size` more messages are checked; then Dedup goes inactive with nothing remembered."""
    d = dedup(size=2)
    d.overlap_started()
    d.fresh(1)
    d.overlap_ended()
    assert d.active
    assert d.fresh(1) is False  # a late copy from the survivor
    assert d.fresh(2) is True
    assert d.fresh(1) is True and not d.active  # past the tail: no longer checked or remembered
    d.overlap_started()
    assert d.fresh(2) is True  # forgotten: a new overlap starts from nothing


def test_memory_is_bounded_by_size() -> None:
    """Only the last `size` identities are remembered."""
    d = dedup(size=2)
    d.overlap_started()
    for m in (1, 2, 3):
        d.fresh(m)
    assert d.fresh(1) is True
    assert d.fresh(3) is False


def test_messages_without_identity_are_always_fresh() -> None:
    """A message whose key is None is never dropped."""
    d = Dedup(lambda message: None, 4)
    d.overlap_started()
    assert d.fresh("x") and d.fresh("x")

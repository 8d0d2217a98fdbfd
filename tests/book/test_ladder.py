"""Price order of a LocalBook: settled lazily at read time, always equal to a full sort."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lotusx.book import LocalBook
from lotusx.book.ladder import Ladder
from lotusx.models import OrderBook

D = Decimal

# The same price spelled differently (exponent) or given exact must stay one level.
price = st.builds(lambda p, spelling: [str(p), f"{p}.0", f"{p}.00", D(p)][spelling],
                  st.integers(1, 30), st.integers(0, 3))
quantity = st.sampled_from(["0", "0.000", "-0", "1", "2.50", "0.001"])
levels = st.lists(st.tuples(price, quantity), max_size=8)
step = st.one_of(
    st.tuples(st.just("update"), levels, levels),
    st.tuples(st.just("reset"), levels, levels),
    st.tuples(st.just("read"), st.sampled_from([None, 0, 1, 3, 50]), st.just([])),
)


def naive(side: dict[Decimal, Decimal], given_levels: list[tuple[str | Decimal, str]]) -> None:
    for p, q in given_levels:
        if D(q):
            side[D(p)] = D(q)
        else:
            side.pop(D(p), None)


def expected(bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal], depth: int | None) -> OrderBook:
    best_bids, best_asks = sorted(bids.items(), reverse=True), sorted(asks.items())
    return OrderBook(symbol="X", bids=best_bids[:depth], asks=best_asks[:depth], sequence=0)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=60))
def test_reads_match_a_naive_sorted_model(steps: list[tuple[str, object, object]]) -> None:
    """Whatever mix of updates, snapshots and reads, every view equals sorting a plain dict."""
    book = LocalBook("X")
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for kind, first, second in steps:
        if kind == "read":
            depth = first if isinstance(first, int) else None
            view = book.view(depth)
            assert (view.bids, view.asks) == (expected(bids, asks, depth).bids, expected(bids, asks, depth).asks)
            assert book.crossed == bool(bids and asks and max(bids) >= min(asks))
            continue
        assert isinstance(first, list) and isinstance(second, list)
        if kind == "reset":
            bids.clear()
            asks.clear()
            book.reset(first, second, 0)
        else:
            book.update(first, second, 0)
        naive(bids, first)
        naive(asks, second)
    final = book.view()
    assert (final.bids, final.asks) == (expected(bids, asks, None).bids, expected(bids, asks, None).asks)


def test_inserts_and_deletes_between_reads_are_sorted_in() -> None:
    """Levels added below, above and between, and levels removed, all land in order on the next read."""
    book = LocalBook("X")
    book.reset([("10", "1"), ("8", "1")], [("11", "1"), ("13", "1")], 1)
    assert book.view(1).best_bid == (D(10), D(1))
    book.update([("9", "2"), ("12", "1"), ("10", "0")], [("10.5", "1"), ("13", "0"), ("14", "3")], 2)
    view = book.view()
    assert [p for p, _ in view.bids] == [D(12), D(9), D(8)]
    assert [p for p, _ in view.asks] == [D("10.5"), D(11), D(14)]
    assert book.crossed


def test_many_unread_updates_still_read_in_order() -> None:
    """More unread updates than are worth patching still give a fully ordered view."""
    book = LocalBook("X")
    book.reset([], [], 0)
    for n in range(1, 100):
        book.update([(str(n * 7 % 101), "1"), (str(n * 3 % 101), "0")], [], n)
    bids = book.view().bids
    assert [p for p, _ in bids] == sorted(book.bids, reverse=True)
    assert len(bids) == len(book.bids) > 0


def test_a_side_cannot_be_changed_behind_updates_back() -> None:
    """book.bids is read-only (it was the side's dict until review 16): writing to it is refused, the book unchanged."""
    book = LocalBook("X")
    book.reset([("5", "1")], [], 1)
    book.view()
    with pytest.raises(TypeError):
        book.bids[D(7)] = D(2)  # type: ignore[index]
    assert book.view().bids == [(D(5), D(1))]


def test_prices_read_after_the_price_cache_was_emptied_are_still_placed() -> None:
    """Unread updates from before the price cache was cleared are still sorted in."""
    book = LocalBook("X")
    book.update([(str(p), "1") for p in range(1, 10_003)], [], 1)
    book.update([("0.5", "1")], [], 2)  # the cache is over its bound: emptied first
    view = book.view(3)
    assert [p for p, _ in view.bids] == [D(10_002), D(10_001), D(10_000)]
    assert len(book.view().bids) == 10_003


def test_ladder_repr_shows_size_only() -> None:
    """A ladder's repr is its size, not its prices."""
    ladder = Ladder()
    ladder.rebuild({D(1): D(1), D(2): D(1)})
    assert repr(ladder) == "Ladder(2 prices)" and ladder.prices == [D(1), D(2)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(levels, max_size=3), max_size=20))
def test_ladder_patch_alone_keeps_prices_sorted(reads: list[list[list[tuple[str | Decimal, str]]]]) -> None:
    """Patching with the touched levels alone (no re-sort) equals sorting the side, read after read."""
    side: dict[Decimal, Decimal] = {}
    ladder = Ladder()
    ladder.rebuild(side)
    for batches in reads:
        for batch in batches:
            naive(side, batch)
        ladder.patch(side, [level for batch in batches for level in batch], {})
        assert ladder.prices == sorted(side)

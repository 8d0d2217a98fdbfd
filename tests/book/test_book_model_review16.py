"""A maintained book against an eager reference model: random snapshots, diffs and reads, both venues.

The library parses a diff's quantity strings only when a read returns them (``LocalBook``).
The reference here parses every level when it comes, by the documented rules: a quantity is
zero (the level goes), a positive finite amount, or no amount (NaN, Infinity, negative, no
number at all); a price is a positive finite number. Then, at every read:

* a view (``view(depth)``, ``readable``, ``bids``/``asks``) equals the reference's top levels,
  with ``Decimal`` quantities, unless a level it returns is no amount;
* a level the reference says is no amount is refused (``ProtocolError`` from a ``LocalBook``
  read, a ``MALFORMED`` Gap from the syncs) no later than the first read that returns it;
  an update may refuse it earlier, but only an update that carries such a level or price;
* ``crossed`` agrees with the reference, and ``readable`` never answers a crossed book;
* nothing raises anything but ``ProtocolError`` (no ``decimal.InvalidOperation``, no ``KeyError``).

Seeded and bounded: the same episodes every run, a few seconds in all.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

import lotusx.book.levels as levels_module
from lotusx.book import BookEvent, DiffSync, Gap, LocalBook, SnapshotDeltaSync, readable
from lotusx.book.sync import CROSSED, MALFORMED
from lotusx.kernel.errors import ProtocolError
from lotusx.models import OrderBook

BAD = "no amount"  # the reference's mark for a level whose quantity is no amount

POSITIVE = ["1", "2", "10", "1.5", "0.25", "0.001", "1.50000000", "0.00100000", "7", "123.456", "1e3",
            "1E-2", "01", "1_000", "+2", " 3 ", "3 ", "\t4", "٣", "1e-1000000000000000000"]
ZERO = ["0", "0.00000000", "00", ".0", "0.", "-0", "0E-8", "+0.0", "-0.0", " 0 ", "0 ", "0e5"]
# No amount, in two looks: refused at once, or only when read (they start like a positive number).
GARBAGE = ["", ".", "..", "0.0.0", "0..", "NaN", "nan", "sNaN", "-1", "-0.5", "Infinity", "-Infinity", "inf",
           "0x10", "abc", "e1", "0-1", " ", "0.0.", "-", Decimal("NaN"), Decimal(-1), Decimal("Infinity"),
           Decimal("-0.5")]
LOOKS_POSITIVE = ["1.5x", "7 lots", "3..", "1e999999999999999999999", "0.5.5", "1-", "1e", "1.5 x", "1,5",
                  "9e-99999999999999999999999", "2NaN", "1.2.3"]
DECIMALS = [Decimal("1.5"), Decimal(2), Decimal("2.500"), Decimal(0), Decimal("-0"), Decimal("0E-8"), Decimal("1E+3")]
BAD_PRICES = ["abc", "NaN", "-5", "0", "", "Infinity", "1.2.3"]

BID_PRICES = list(range(90, 103))  # 98..102 overlap the asks: a diff may cross the book
ASK_PRICES = list(range(98, 111))


def parse_quantity(quantity: Any) -> Decimal | str | None:
    """The documented rule, eagerly: None for zero, BAD for no amount, else the Decimal."""
    try:
        amount = Decimal(quantity)
    except InvalidOperation:
        return BAD
    if amount.is_nan():
        return BAD
    if not amount:
        return None
    if amount.is_signed() or not amount.is_finite():
        return BAD
    return amount


def parse_price(price: Any) -> Decimal | None:
    try:
        key = Decimal(price)
    except InvalidOperation:
        return None
    return key if key.is_finite() and key > 0 else None


class Reference:
    """One book, every level parsed when it came; BAD marks a level that is no amount."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal | str] = {}
        self.asks: dict[Decimal, Decimal | str] = {}
        self.sequence = 0
        self.synced = False

    def clear(self) -> None:
        self.bids, self.asks, self.synced = {}, {}, False

    def apply(self, bids: Sequence[Sequence[Any]], asks: Sequence[Sequence[Any]]) -> bool:
        """Apply a diff; True when it carries a price or a quantity that is no amount."""
        refused = False
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, quantity in levels:
                key = parse_price(price)
                if key is None:
                    refused = True
                    continue
                amount = parse_quantity(quantity)
                refused |= amount == BAD
                if amount is None:
                    side.pop(key, None)
                else:
                    side[key] = amount
        return refused

    def top(self, depth: int | None) -> tuple[list[tuple[Decimal, Decimal | str]], list[tuple[Decimal, Decimal | str]]]:
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        return (bids, asks) if depth is None else (bids[:depth], asks[:depth])

    def malformed_within(self, depth: int | None) -> bool:
        bids, asks = self.top(depth)
        return any(quantity == BAD for _, quantity in (*bids, *asks))

    @property
    def crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))


class Episode:
    """One random walk over a sync of one venue's shape, checked against the reference at every read."""

    def __init__(self, rng: random.Random, bybit: bool) -> None:
        self.rng = rng
        self.bybit = bybit
        self.sync: DiffSync | SnapshotDeltaSync = SnapshotDeltaSync("X") if bybit else DiffSync("X")
        self.ref = Reference()
        self.next_id = 100  # the venue's next update id (a Bybit delta with u == 1 is a snapshot)
        self.buffered: list[BookEvent] = []  # DiffSync: diffs sent while it waits for its snapshot
        self.log: list[str] = []
        self.held: tuple[LocalBook, str, Any] | None = None  # a side read earlier, kept by "the user"
        self.seen: Counter[str] = Counter()  # what the walk met, so a test can tell it met everything

    # ----- what the venue (or garbage) sends -----

    def quantity(self, garbage: float) -> Any:
        roll = self.rng.random()
        if roll < garbage:
            return self.rng.choice(GARBAGE if self.rng.random() < 0.3 else LOOKS_POSITIVE)
        if roll < garbage + 0.08:
            return self.rng.choice(DECIMALS)
        if roll < garbage + 0.4:
            return self.rng.choice(ZERO)
        return self.rng.choice(POSITIVE)

    def price(self, value: int, bad: float) -> Any:
        if self.rng.random() < bad:
            return self.rng.choice(BAD_PRICES)
        return self.rng.choice([str(value), f"{value}.0", f"{value}.00", f"0{value}", Decimal(value)])

    def level(self, price: Any, quantity: Any) -> Any:
        return (price, quantity) if self.rng.random() < 0.5 else [price, quantity]

    def side(self, prices: list[int], count: int, garbage: float, bad_price: float) -> Sequence[Any]:
        levels = [self.level(self.price(self.rng.choice(prices), bad_price), self.quantity(garbage))
                  for _ in range(count)]
        return levels if self.rng.random() < 0.7 else tuple(levels)

    def snapshot_sides(self) -> tuple[list[Any], list[Any]]:
        """An uncrossed snapshot (the venue's word), rarely with a level that is no amount."""
        cut = self.rng.randint(99, 101)
        garbage = 0.02 if self.rng.random() < 0.1 else 0.0
        bids = [self.level(self.price(p, 0.0), self.rng.choice(POSITIVE) if self.rng.random() > garbage
                           else self.rng.choice(GARBAGE))
                for p in BID_PRICES if p < cut and self.rng.random() < 0.7]
        asks = [self.level(self.price(p, 0.0), self.rng.choice(POSITIVE))
                for p in ASK_PRICES if p >= cut and self.rng.random() < 0.7]
        return bids, asks

    def diff_sides(self) -> tuple[Sequence[Any], Sequence[Any]]:
        garbage = self.rng.choice([0.0, 0.0, 0.0, 0.01, 0.05])
        bad_price = 0.02 if self.rng.random() < 0.03 else 0.0
        # Bids stay below 101 and asks above 99 mostly; sometimes a side reaches across.
        bid_prices = BID_PRICES if self.rng.random() < 0.15 else BID_PRICES[:-3]
        ask_prices = ASK_PRICES if self.rng.random() < 0.15 else ASK_PRICES[3:]
        return (self.side(bid_prices, self.rng.randint(0, 6), garbage, bad_price),
                self.side(ask_prices, self.rng.randint(0, 6), garbage, bad_price))

    # ----- the walk -----

    def run(self, steps: int) -> None:
        for step in range(steps):
            roll = self.rng.random()
            if not self.sync.synced and roll < 0.5:
                self.snapshot()
            elif roll < 0.75:
                self.diff()
            elif roll < 0.8:  # a burst no one reads: past _MAX_PENDING, the read re-sorts whole sides
                self.seen["burst"] += 1
                for _ in range(self.rng.randint(20, 45)):
                    if self.sync.synced:
                        self.diff(read=False)
            elif roll < 0.81 and self.sync.synced:  # a diff not read at once (a slow consumer)
                self.diff(read=False)
            elif roll < 0.83 and self.sync.synced and not self.bybit and self.ref.sequence > 0:
                self.stale()
            else:
                for _ in range(self.rng.randint(1, 3)):
                    self.read()
            self.log.append(f"step {step} ok")

    def snapshot(self) -> None:
        bids, asks = self.snapshot_sides()
        bad = self.ref_snapshot_is_bad(bids, asks)
        self.log.append(f"snapshot {bids} {asks} bad={bad}")
        if isinstance(self.sync, SnapshotDeltaSync):
            sequence = self.next_id
            self.next_id += 1
            outcome = self.sync.on_message("snapshot", sequence, bids, asks)
            if bad:
                assert isinstance(outcome, Gap) and outcome.reason == MALFORMED, outcome
                self.ref.clear()
                return
            assert outcome == "snapshot"
            self.reference_snapshot(bids, asks, sequence)
            # The connector views a Bybit snapshot directly: it was read whole as it came.
            self.compare(self.sync.book.view(self.depth()), self.depth_used)
            return
        # DiffSync: the snapshot falls somewhere among the diffs buffered while it was fetched.
        last_update_id = self.rng.randint(self.next_id - 1 - len(self.buffered), self.next_id - 1)
        if bad:
            with pytest.raises(ProtocolError):
                self.sync.on_snapshot(bids, asks, last_update_id)
            self.hard_reset()
            return
        outcome = self.sync.on_snapshot(bids, asks, last_update_id)
        self.reference_snapshot(bids, asks, last_update_id)
        refused = False
        for event in self.buffered:
            if event.last > last_update_id:
                refused |= self.ref.apply(event.bids, event.asks)
                self.ref.sequence = event.last
        self.buffered.clear()
        if isinstance(outcome, Gap):  # a diff replayed onto it carried something that is no amount
            assert outcome.reason == MALFORMED and refused, outcome
            self.hard_reset()
            return
        assert outcome == "snapshot", outcome
        self.readable()  # follow_books reads the snapshot through readable(): the replay may cross it

    def ref_snapshot_is_bad(self, bids: list[Any], asks: list[Any]) -> bool:
        return any(parse_quantity(q) == BAD for side in (bids, asks) for _, q in side)

    def reference_snapshot(self, bids: list[Any], asks: list[Any], sequence: int) -> None:
        self.ref.clear()
        self.ref.apply(bids, asks)
        self.ref.sequence, self.ref.synced = sequence, True

    def diff(self, *, read: bool = True) -> None:
        bids, asks = self.diff_sides()
        update_id = self.next_id
        self.next_id += 1
        self.log.append(f"diff {update_id} {bids} {asks}")
        if isinstance(self.sync, SnapshotDeltaSync):
            outcome = self.sync.on_message("delta", update_id, bids, asks)
            if not self.ref.synced:
                assert outcome == "buffered", outcome
                return
        else:
            event = BookEvent(update_id, update_id, bids, asks)
            outcome = self.sync.on_event(event)
            if not self.ref.synced:
                assert outcome == "buffered", outcome
                self.buffered.append(event)
                return
        refused = self.ref.apply(bids, asks)
        bad_price = any(parse_price(p) is None for side in (bids, asks) for p, _ in side)
        if isinstance(outcome, Gap):
            assert outcome.reason == MALFORMED and refused, (outcome, bids, asks)
            self.seen["refused by the update"] += 1
            self.hard_reset()
            return
        assert outcome == "applied", outcome
        assert not bad_price, "a price that is no number must be refused by the update"
        self.ref.sequence = update_id
        if read and self.rng.random() < 0.5:  # both connectors read after every applied diff
            self.readable()

    def stale(self) -> None:
        """An old diff again (Binance): dropped, the book unchanged."""
        old = self.rng.randint(max(1, self.ref.sequence - 5), self.ref.sequence)
        outcome = self.sync.on_event(BookEvent(old, old, [("95", "999")], [("105", "999")]))  # type: ignore[union-attr]
        assert outcome == "stale", outcome

    def hard_reset(self) -> None:
        self.sync.reset()
        self.ref.clear()
        self.buffered.clear()

    def depth(self) -> int | None:
        self.depth_used: int | None = self.rng.choice([None, 0, 1, 1, 2, 3, 5, 8, 20])
        return self.depth_used

    # ----- reads -----

    def read(self) -> None:
        if not self.ref.synced:
            return
        kind = self.rng.choice(["view", "view", "view", "readable", "readable", "bids", "asks", "held", "crossed",
                                "repr"])
        self.log.append(f"read {kind}")
        book = self.sync.book
        if kind == "view":
            depth = self.depth()
            if self.ref.malformed_within(depth):
                self.seen["view refused"] += 1
                with pytest.raises(ProtocolError):
                    book.view(depth)
            else:
                self.seen["view"] += 1
                self.compare(book.view(depth), depth)
        elif kind == "readable":
            self.readable()
        elif kind in ("bids", "asks"):
            ref_side = self.ref.bids if kind == "bids" else self.ref.asks
            if BAD in ref_side.values():
                self.seen["side refused"] += 1
                with pytest.raises(ProtocolError):
                    getattr(book, kind)
            else:
                side = getattr(book, kind)
                assert side == ref_side and all(type(q) is Decimal for q in side.values())
                self.held = (book, kind, side)
        elif kind == "held":  # the side read before, read again after the diffs since: still exact
            if self.held is None or self.held[0] is not book:
                return
            _, side_name, side = self.held
            ref_side = self.ref.bids if side_name == "bids" else self.ref.asks
            self.seen["held side"] += 1
            assert len(side) == len(ref_side) and set(side) == set(ref_side)
            for price, quantity in ref_side.items():
                if quantity == BAD:
                    with pytest.raises(ProtocolError):
                        side[price]
                else:
                    assert type(side[price]) is Decimal and side[price] == quantity, (price, side[price])
        elif kind == "crossed":
            assert book.crossed == self.ref.crossed
        else:
            assert repr(book) == (f"LocalBook('X', {len(self.ref.bids)} bids, {len(self.ref.asks)} asks, "
                                  f"seq={self.ref.sequence})")

    def readable(self) -> None:
        depth = self.depth()
        outcome = readable(self.sync, depth)
        self.seen["readable: " + ("crossed" if self.ref.crossed else "malformed" if self.ref.malformed_within(depth)
                                  else "book")] += 1
        if BAD in (*self.ref.bids.values(), *self.ref.asks.values()) and not self.ref.malformed_within(depth):
            self.seen["readable: no amount below the depth read"] += 1
        if self.ref.crossed:  # a level read there may be no amount too: either reason is right
            assert isinstance(outcome, Gap) and (outcome.reason == CROSSED or (
                outcome.reason == MALFORMED and self.ref.malformed_within(depth))), outcome
        elif self.ref.malformed_within(depth):
            assert isinstance(outcome, Gap) and outcome.reason == MALFORMED, outcome
        else:
            assert isinstance(outcome, OrderBook), outcome
            self.compare(outcome, depth)
            return
        assert not self.sync.synced and not self.sync.book.view().bids and not self.sync.book.view().asks
        self.hard_reset()

    def compare(self, view: OrderBook, depth: int | None) -> None:
        bids, asks = self.ref.top(depth)
        assert list(view.bids) == bids and list(view.asks) == asks, (view, bids, asks)
        assert all(type(q) is Decimal for _, q in (*view.bids, *view.asks))
        assert view.sequence == self.ref.sequence


SEEDS = range(50)


@pytest.mark.parametrize("bybit", [False, True], ids=["binance", "bybit"])
@pytest.mark.parametrize("cache", [levels_module._PRICE_CACHE_SIZE, 6], ids=["cache", "tiny-cache"])
def test_the_book_reads_as_the_eager_reference(bybit: bool, cache: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of the lazily parsed book agrees with a book parsed level by level as it came."""
    monkeypatch.setattr(levels_module, "_PRICE_CACHE_SIZE", cache)  # tiny: emptied while strings wait
    seen: Counter[str] = Counter()
    for seed in SEEDS:
        episode = Episode(random.Random(f"{seed}-{bybit}-{cache}"), bybit)
        try:
            episode.run(120)
        except AssertionError as failure:
            tail = "\n".join(episode.log[-12:])
            raise AssertionError(f"seed {seed}: {failure}\n--- last steps ---\n{tail}") from None
        seen += episode.seen
    # The walk met what it is for: a model test that never reaches a kept bad level proves nothing.
    wanted = {"readable: book", "readable: crossed", "readable: malformed", "readable: no amount below the depth read",
              "view", "view refused", "side refused", "held side", "refused by the update", "burst"}
    assert wanted <= {kind for kind, count in seen.items() if count}, seen


# ----- a LocalBook read on its own, as a user holding one would -----

def local_walk(rng: random.Random, steps: int, on_update_error: Callable[[LocalBook], None]) -> None:
    """Diffs straight into a LocalBook; after an update's ProtocolError, ``on_update_error`` decides."""
    book, ref = LocalBook("X"), Reference()
    ref.synced = True
    episode = Episode(rng, bybit=False)
    for sequence in range(1, steps):
        bids, asks = episode.diff_sides()
        refused = ref.apply(bids, asks)
        try:
            book.update(bids, asks, sequence)
        except ProtocolError:
            assert refused
            on_update_error(book)
            book, ref = LocalBook("X"), Reference()
            ref.synced = True
            continue
        ref.sequence = sequence
        depth = rng.choice([None, 1, 3, 10])
        if ref.malformed_within(depth):
            with pytest.raises(ProtocolError):
                book.view(depth)
        else:
            view = book.view(depth)
            assert (list(view.bids), list(view.asks)) == ref.top(depth)
        assert book.crossed == ref.crossed


def test_a_localbook_an_update_refused_can_still_be_looked_at() -> None:
    """After an update's ProtocolError the book is wrong, but a view of it raises nothing untyped.

    The update applied the levels before the bad one; the price order must follow them, or the
    view indexes a price no longer there (``KeyError``) or skips one that came.
    """
    def look(book: LocalBook) -> None:
        with contextlib.suppress(ProtocolError):  # a kept quantity that is no amount: typed, fine
            book.view()

    for seed in range(150):
        local_walk(random.Random(seed), 40, look)


def test_a_localbook_that_raised_mid_view_reads_on_consistently() -> None:
    """A view that stopped at a level that is no amount leaves the book as it was: reads agree after it."""
    book = LocalBook("X")
    book.reset([("100", "1"), ("99", "2"), ("98", "3")], [("101", "1")], 1)
    book.update([("100", "1.25"), ("99", "2.5x"), ("98", "3.75")], [("101", "4.5")], 2)
    with pytest.raises(ProtocolError):
        book.view()
    assert book.view(1).bids == [(Decimal(100), Decimal("1.25"))]  # parsed before the refusal, kept
    with pytest.raises(ProtocolError):
        book.view(2)
    with pytest.raises(ProtocolError):
        _ = book.bids
    assert book.asks == {Decimal(101): Decimal("4.5")} and not book.crossed
    book.update([("99", "0")], [], 3)  # the bad level goes: the book reads whole again
    assert book.view().bids == [(Decimal(100), Decimal("1.25")), (Decimal(98), Decimal("3.75"))]


def test_an_update_refused_halfway_leaves_a_book_whose_view_shows_the_levels_applied() -> None:
    """update()'s docstring: ProtocolError "with the levels before it applied". A view shows those.

    The level count can stay the same (one level gone, one come): the price order must not be
    trusted then, or the view asks for the gone price (``KeyError``) and misses the new one.
    """
    book = LocalBook("X")
    book.reset([("100", "1"), ("99", "2")], [("101", "1")], 1)
    assert book.view().bids == [(Decimal(100), Decimal(1)), (Decimal(99), Decimal(2))]
    with pytest.raises(ProtocolError):
        book.update([("100", "0"), ("98", "1.5"), ("abc", "1")], [], 2)
    assert book.view().bids == [(Decimal(99), Decimal(2)), (Decimal(98), Decimal("1.5"))]
    assert not book.crossed


def test_a_snapshot_refused_halfway_leaves_a_book_whose_view_shows_what_was_read() -> None:
    """reset() with a bad level: the sides hold the snapshot up to it, and a view shows just that."""
    book = LocalBook("X")
    book.reset([("100", "1"), ("99", "2")], [("101", "1")], 1)
    assert book.view().bids == [(Decimal(100), Decimal(1)), (Decimal(99), Decimal(2))]
    with pytest.raises(ProtocolError):
        book.reset([("98", "1"), ("97", "1")], [("102", "NaN")], 5)
    assert book.view().bids == [(Decimal(98), Decimal(1)), (Decimal(97), Decimal(1))]
    assert book.view().asks == []


def test_a_side_held_across_updates_reads_the_later_quantities_as_decimals() -> None:
    """``bids`` is the live side: a reference kept from an earlier read gives Decimals, never a diff's string.

    A string there is silently wrong, not just the wrong type: ``'2.5' * 2`` is ``'2.52.5'``.
    """
    book = LocalBook("X")
    book.reset([("100", "1")], [("101", "1")], 1)
    bids, asks = book.bids, book.asks
    book.update([("100", "2.5"), ("99", "1.25")], [("101", "0"), ("102", "3")], 2)
    assert bids[Decimal(100)] * 2 == Decimal(5)
    assert bids == {Decimal(100): Decimal("2.5"), Decimal(99): Decimal("1.25")} and asks == {Decimal(102): Decimal(3)}
    assert {type(q) for q in (*bids.values(), *asks.values())} == {Decimal}
    assert sorted(bids.items()) == [(Decimal(99), Decimal("1.25")), (Decimal(100), Decimal("2.5"))]
    items, values = bids.items(), bids.values()  # views, held as well
    book.update([("97", "0.5")], [], 3)
    assert (Decimal(97), Decimal("0.5")) in items and sorted(items)[0] == (Decimal(97), Decimal("0.5"))
    assert {type(q) for q in values} == {Decimal} and sum(values) == Decimal("4.25")
    book.update([("98", "4.5x")], [], 4)
    with pytest.raises(ProtocolError):
        bids[Decimal(98)]


def test_a_side_repr_shows_decimals_and_never_raises() -> None:
    """repr(book.bids) reads like the dict it was; a level that is no amount is shown as sent."""
    book = LocalBook("X")
    book.update([("100", "1.5")], [], 1)
    bids = book.bids
    assert repr(bids) == "{Decimal('100'): Decimal('1.5')}"
    book.update([("99", "2x")], [], 2)
    assert repr(bids) == "{Decimal('100'): Decimal('1.5'), Decimal('99'): '2x'}"

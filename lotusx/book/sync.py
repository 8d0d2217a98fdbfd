"""Book synchronisation rules, as state machines without I/O.

:class:`DiffSync` follows Binance's "How to manage a local order book correctly" (spot
web-socket-streams docs): buffer the diff stream, take a REST snapshot, drop events with
``u <= lastUpdateId``, require the first applied event to straddle ``lastUpdateId + 1``
(``U <= lastUpdateId + 1 <= u``) and every later one to continue it (``U == previous u + 1``).
A snapshot is too old when ``lastUpdateId + 1 < U`` of the first buffered event (the docs
say ``lastUpdateId < U``, which also refetches the one snapshot that exactly joins the
stream: harmless, but it spins in a quiet market, so we use the exact bound).

:class:`SnapshotDeltaSync` follows Bybit v5 (orderbook topic): a ``snapshot`` message (or a
delta with ``u == 1``, after a venue restart) replaces the book; each delta must carry
``u == previous u + 1``.

Both answer :class:`Gap` when continuity breaks, or when a stream message has a level that is
not a number (the book may hold part of it), and :class:`DiffSync` for a diff whose ``U`` is
past its ``u``; :func:`readable`, asked when a book is read, answers one for a crossed book
or a quantity that is no amount after all.
The caller resyncs *that symbol only*. A snapshot with such a level raises ``ProtocolError``
from :meth:`DiffSync.on_snapshot`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Literal

import msgspec

from lotusx.book.levels import LocalBook
from lotusx.kernel.errors import ConfigError, ProtocolError
from lotusx.models import OrderBook

Outcome = Literal["buffered", "applied", "stale", "snapshot"]
MALFORMED = "malformed level"
"""The :class:`Gap` reason of a stream message with a level that is not a number (a ``ProtocolError`` from the book)."""
BAD_IDS = "malformed update ids"
"""The :class:`Gap` reason of a diff whose first update id is past its last."""
CROSSED = "crossed book"
"""The :class:`Gap` reason of a book whose best bid reached its best ask after a diff.

Neither venue's engine rests a crossing order (it trades at once), so the book a diff stream
describes is never crossed: a crossed local book missed or misapplied an update, and a level
no later diff touches would keep it wrong for good (see :func:`readable`).
"""


class BookEvent(msgspec.Struct, frozen=True):
    """One diff: update ids ``first``..``last`` and absolute level quantities."""

    first: int
    last: int
    bids: Sequence[tuple[str, str]] | Sequence[list[str]]
    asks: Sequence[tuple[str, str]] | Sequence[list[str]]
    timestamp: int | None = None


class Gap(msgspec.Struct, frozen=True):
    """Continuity broke: the book was discarded and must be resynchronised."""

    symbol: str
    reason: str
    expected: int | None = None
    got: int | None = None


class DiffSync:
    """Binance-style snapshot + diff synchronisation for one symbol."""

    def __init__(self, symbol: str, *, max_buffer: int = 10_000) -> None:
        if max_buffer < 1:  # a book that can hold no diff while its snapshot is on the way never syncs
            raise ConfigError(f"max_buffer must be at least 1, got {max_buffer}")
        self.book = LocalBook(symbol)
        self.synced = False
        self.max_buffer = max_buffer
        self._buffer: deque[BookEvent] = deque(maxlen=max_buffer)

    @property
    def symbol(self) -> str:
        """The symbol this book is for."""
        return self.book.symbol

    def on_event(self, event: BookEvent) -> Outcome | Gap:
        """Feed one stream event: buffered until synced, then applied, ignored or a gap."""
        if not self.synced:
            self._buffer.append(event)
            return "buffered"
        return self._apply(event)

    def snapshot_is_stale(self, last_update_id: int) -> bool:
        """True when the snapshot ends before the first buffered event can join it."""
        return bool(self._buffer) and last_update_id + 1 < self._buffer[0].first

    def on_snapshot(self, bids: Sequence[tuple[str, str]] | Sequence[list[str]],
                    asks: Sequence[tuple[str, str]] | Sequence[list[str]], last_update_id: int,
                    timestamp: int | None = None) -> Outcome | Gap:
        """Load a REST snapshot, then replay the buffer. ``"stale"`` means fetch another."""
        if self.snapshot_is_stale(last_update_id):
            return "stale"
        self.book.reset(bids, asks, last_update_id, timestamp)
        self.synced = True
        buffered, self._buffer = self._buffer, deque(maxlen=self.max_buffer)
        while buffered:
            outcome = self._apply(buffered.popleft())
            if isinstance(outcome, Gap):
                self._buffer.extend(buffered)  # the diffs after it may join the next snapshot
                return outcome
        return "snapshot"

    def on_lost(self, reason: str) -> Gap:
        """A diff of this symbol could not be read: the ``Gap`` says a new snapshot is needed.

        A synced book is wrong from here, so it is discarded as at a sequence gap. While
        buffering, the diffs buffered so far are kept, but a snapshot asked for before the
        loss may not hold the lost diff (and with no later diff, no hole would show): take
        one asked for after it.
        """
        if self.synced:
            self.reset()
        return Gap(self.symbol, reason)

    def reset(self) -> None:
        """Forget the book and buffer (after a reconnect): the next snapshot starts afresh."""
        self.synced = False
        self._buffer.clear()
        self.book = LocalBook(self.book.symbol)

    def _apply(self, event: BookEvent) -> Outcome | Gap:
        if event.first > event.last:
            # No venue sends U > u: read on, such a diff would pass as stale (dropped, its levels
            # lost) or as joining the book. It is as unreadable as a level that is no number.
            self.reset()
            return Gap(self.symbol, BAD_IDS, expected=event.first, got=event.last)
        sequence = self.book.sequence
        if event.last <= sequence:
            return "stale"
        if event.first > sequence + 1:
            self.reset()
            self._buffer.append(event)  # it may join the next snapshot
            return Gap(self.symbol, "sequence gap", expected=sequence + 1, got=event.first)
        try:
            self.book.update(event.bids, event.asks, event.last, event.timestamp)
        except ProtocolError:
            self.reset()  # part of the diff may be in: only a new snapshot gives a right book
            return Gap(self.symbol, MALFORMED)
        return "applied"

    def __repr__(self) -> str:
        return f"DiffSync({self.symbol!r}, synced={self.synced}, buffered={len(self._buffer)})"


class SnapshotDeltaSync:
    """Bybit-style snapshot/delta synchronisation for one symbol."""

    def __init__(self, symbol: str) -> None:
        self.book = LocalBook(symbol)
        self.synced = False

    @property
    def symbol(self) -> str:
        """The symbol this book is for."""
        return self.book.symbol

    def on_message(self, kind: str, update_id: int, bids: Sequence[tuple[str, str]] | Sequence[list[str]],
                   asks: Sequence[tuple[str, str]] | Sequence[list[str]],
                   timestamp: int | None = None) -> Outcome | Gap:
        """Feed one message (``kind`` is ``"snapshot"`` or ``"delta"``)."""
        try:
            return self._follow(kind, update_id, bids, asks, timestamp)
        except ProtocolError:
            self.reset()  # part of the message may be in: only a new snapshot gives a right book
            return Gap(self.symbol, MALFORMED)

    def _follow(self, kind: str, update_id: int, bids: Sequence[tuple[str, str]] | Sequence[list[str]],
                asks: Sequence[tuple[str, str]] | Sequence[list[str]], timestamp: int | None) -> Outcome | Gap:
        if kind == "snapshot" or update_id == 1:
            self.book.reset(bids, asks, update_id, timestamp)
            self.synced = True
            return "snapshot"
        if not self.synced:
            return "buffered"  # deltas before the first snapshot carry nothing we can use
        expected = self.book.sequence + 1
        if update_id < expected:
            return "stale"
        if update_id > expected:
            self.reset()
            return Gap(self.symbol, "sequence gap", expected=expected, got=update_id)
        self.book.update(bids, asks, update_id, timestamp)
        return "applied"

    def reset(self) -> None:
        """Forget the book; wait for the next snapshot."""
        self.synced = False
        self.book = LocalBook(self.book.symbol)

    def __repr__(self) -> str:
        return f"SnapshotDeltaSync({self.symbol!r}, synced={self.synced})"


def readable(sync: DiffSync | SnapshotDeltaSync, depth: int | None = None) -> OrderBook | Gap:
    """The book's view of ``depth`` levels, or a Gap, the book discarded, when it cannot be read.

    Asked where the book is read (``follow_books``, the connectors), not per update: the
    checks need the price order and the levels' amounts, which the view right after needs
    anyway, so an update no one reads stays a dict write per level (the crossed check asked
    per update cost the book benchmark a quarter of its rate). The Gap's reason is
    :data:`CROSSED`, or :data:`MALFORMED` for a diff's quantity that a read found is no
    amount (see :meth:`LocalBook.update`). A Bybit snapshot is the venue's own word, read
    whole as it came: view it directly.
    """
    book = sync.book
    if book.crossed:
        sync.reset()
        return Gap(sync.symbol, CROSSED)
    try:
        return book.view(depth)
    except ProtocolError:
        sync.reset()  # a level the venue sent is no amount: only a new snapshot gives a right book
        return Gap(sync.symbol, MALFORMED)

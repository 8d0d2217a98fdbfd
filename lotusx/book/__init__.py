"""Local order books: exact levels, snapshot + diff synchronisation, gap detection.

The sync classes are pure state machines (no I/O): a connector feeds them stream events
and snapshots and acts on what they answer, so the same rules are testable without a
network and shared by every venue with the same sequencing scheme.
"""

from lotusx.book.follow import follow_books, follow_diffs
from lotusx.book.levels import LocalBook
from lotusx.book.sync import BookEvent, DiffSync, Gap, SnapshotDeltaSync, readable

__all__ = ["BookEvent", "DiffSync", "Gap", "LocalBook", "SnapshotDeltaSync", "follow_books", "follow_diffs",
           "readable"]

"""LocalCounters.take with new, live and expired keys in one request."""

from __future__ import annotations

from lotusx.layers.counters import LocalCounters
from lotusx.testing import FakeClock


def test_a_take_adding_to_a_live_key_keeps_its_expiry() -> None:
    """A key already counting keeps the expiry of its first add: a later charge never stretches its window."""
    counters = LocalCounters(FakeClock())
    counters.take([("a", 1, 10, 10)], 0.0)
    assert counters.take([("a", 2, 10, 10)], 5.0) == [3]
    assert counters.count("a", 9.9) == 3
    assert counters.count("a", 10.0) == 0


def test_a_take_of_a_new_key_and_a_live_one_expires_each_on_its_own() -> None:
    """The new key gets its own expiry from now; the live key keeps the one it had."""
    counters = LocalCounters(FakeClock())
    counters.take([("live", 1, 10, 10)], 0.0)
    assert counters.take([("live", 1, 10, 10), ("new", 1, 10, 60)], 5.0) == [2, 1]
    assert (counters.count("live", 10.0), counters.count("new", 10.0)) == (0, 1)
    assert counters.count("new", 65.0) == 0


def test_a_take_with_an_expired_key_restarts_it_and_adds_to_the_live_one() -> None:
    """In one request, an expired key counts from zero with a fresh expiry while a live one accumulates."""
    counters = LocalCounters(FakeClock())
    counters.take([("short", 5, 10, 10), ("long", 5, 100, 100)], 0.0)
    assert counters.take([("short", 2, 10, 10), ("long", 2, 100, 100)], 10.0) == [2, 7]
    assert (counters.count("short", 19.9), counters.count("long", 19.9)) == (2, 7)
    assert counters.count("short", 20.0) == 0


def test_a_refused_take_leaves_an_expired_key_at_zero() -> None:
    """A request refused by another key's limit adds nothing: the expired key still reads as zero."""
    counters = LocalCounters(FakeClock())
    counters.take([("old", 9, 10, 10), ("full", 10, 10, 100)], 0.0)
    assert counters.take([("old", 1, 10, 10), ("full", 1, 10, 100)], 10.0) == 1
    assert (counters.count("old", 10.0), counters.count("full", 10.0)) == (0, 10)
    assert counters.take([("old", 1, 10, 10)], 10.0) == [1]

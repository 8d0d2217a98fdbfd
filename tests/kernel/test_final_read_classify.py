"""Final read of round 12: what the new Retry-After parsing must still refuse."""

from __future__ import annotations

from lotusx import Response, retry_after


def test_a_retry_after_of_more_digits_than_a_float_holds_is_ignored() -> None:
    """Digits past a float's range read as inf, which would cool a pool off for good: garbled, so ignored."""
    assert retry_after(Response(status=429, headers={"Retry-After": "9" * 400})) is None

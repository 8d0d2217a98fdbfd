"""repr() of a book's levels never raises: a malformed book can still be printed and logged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lotusx.kernel.errors import DecodeError
from lotusx.ws.exact import Levels


def test_a_malformed_level_shows_as_the_venue_sent_it() -> None:
    """repr() shows the raw strings of a level that is no amount; reading it still raises DecodeError."""
    levels = Levels([["100.5", "1"], ["abc", "NaN"]])
    assert "'abc'" in repr(levels) and "'NaN'" in repr(levels)
    with pytest.raises(DecodeError):
        list(levels)


def test_well_formed_levels_show_as_exact_pairs() -> None:
    """repr() of good levels is the list of Decimal pairs, as before."""
    assert repr(Levels([["100.5", "1"]])) == repr([(Decimal("100.5"), Decimal("1"))]).join(("Levels(", ")"))

"""Levels: exact Decimal prices built lazily from the venue's strings."""

from decimal import Decimal

import msgspec

from lotusx.ws.exact import Levels, LevelsOf

RAW = [["50000.10", "1.00000001"], ["49999.9", "0.5"]]


class TestLevels:
    def test_index_gives_exact_decimals(self) -> None:
        """A level reads as a (Decimal, Decimal) pair with every digit kept."""
        assert Levels(RAW)[0] == (Decimal("50000.10"), Decimal("1.00000001"))

    def test_iterates_in_order(self) -> None:
        """Iteration yields every level best first, as given."""
        assert list(Levels(RAW)) == [(Decimal("50000.10"), Decimal("1.00000001")), (Decimal("49999.9"), Decimal("0.5"))]

    def test_slice_and_len(self) -> None:
        """Slices stay lazy Levels; len counts levels."""
        top = Levels(RAW)[:1]
        assert isinstance(top, Levels)
        assert len(top) == 1

    def test_equality(self) -> None:
        """Levels equal other Levels or a list of the same Decimal pairs."""
        assert Levels(RAW) == Levels([list(level) for level in RAW])
        assert Levels(RAW)[:1] == [(Decimal("50000.1"), Decimal("1.00000001"))]
        assert Levels(RAW) != 5

    def test_keeps_raw_strings(self) -> None:
        """The raw strings are still there for code that wants no conversion at all."""
        assert Levels(RAW).raw is RAW

    def test_repr_shows_the_levels(self) -> None:
        """repr shows the Decimal pairs, as a list of them would: printing a book's top shows the prices."""
        assert repr(Levels(RAW)[:1]) == "Levels([(Decimal('50000.10'), Decimal('1.00000001'))])"


def test_levels_concatenate_like_lists() -> None:
    """Levels + Levels (or a list) is a plain list of Decimal pairs."""
    from decimal import Decimal

    from lotusx.ws import Levels

    bids, asks = Levels([["1.5", "2"]]), Levels([["1.6", "3"]])
    assert bids + asks == [(Decimal("1.5"), Decimal("2")), (Decimal("1.6"), Decimal("3"))]
    assert [(Decimal(1), Decimal(1))] + bids == [(Decimal(1), Decimal(1)), (Decimal("1.5"), Decimal("2"))]  # noqa: RUF005


def test_levels_of_reads_a_struct_field_as_exact_levels() -> None:
    """LevelsOf("b") on a Struct gives Levels over that field; on the class, the descriptor itself."""
    class Update(msgspec.Struct):
        b: list[tuple[str, str]]
        bids = LevelsOf("b")

    update = msgspec.json.decode(b'{"b":[["1.10","2"]]}', type=Update)
    assert list(update.bids) == [(Decimal("1.10"), Decimal("2"))]
    assert isinstance(Update.bids, LevelsOf)
    assert msgspec.structs.fields(Update)[0].name == "b" and len(msgspec.structs.fields(Update)) == 1

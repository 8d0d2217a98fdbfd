"""Exact prices without eager ``Decimal``\\s: decode levels as strings, convert on access.

msgspec decodes a 20+20-level update into ``str`` about four times faster than into
``Decimal`` (DESIGN §1). A decimal string is already exact, so :class:`Levels` keeps the
strings and builds ``(Decimal, Decimal)`` pairs only for the levels a consumer reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import Any, cast, overload

from lotusx.kernel.errors import DecodeError

Level = tuple[Decimal, Decimal]


def _level(price: str, quantity: str) -> Level:
    """The exact pair of one level; ``DecodeError`` for a price or quantity that is no amount.

    The schema only says "a string": "abc" or "0x10" would raise ``decimal.InvalidOperation``
    in the reader's hands, and "NaN", "Infinity" or "-1" would pass for a level.
    """
    try:
        exact = Decimal(price)
        size = Decimal(quantity)
    except ArithmeticError:  # decimal.InvalidOperation
        pass
    else:
        # Finite first (NaN has a sign too); is_signed, not < 0: "-0" is no amount either.
        if exact.is_finite() and size.is_finite() and not (exact.is_signed() or size.is_signed()):
            return exact, size
    raise DecodeError(f"not a price level: {str(price)[:40]!r}, {str(quantity)[:40]!r}")


class Levels(Sequence[Level]):
    """A read-only sequence of ``(price, quantity)`` Decimals over the venue's raw strings.

    A level that is no amount raises ``DecodeError`` when it is read.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Sequence[Sequence[str]]) -> None:
        self.raw = raw

    @overload
    def __getitem__(self, index: int) -> Level: ...

    @overload
    def __getitem__(self, index: slice) -> Levels: ...

    def __getitem__(self, index: int | slice) -> Level | Levels:
        if isinstance(index, slice):
            return Levels(self.raw[index])
        price, quantity = self.raw[index][:2]
        return _level(price, quantity)

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[Level]:
        for level in self.raw:
            yield _level(level[0], level[1])

    def __add__(self, other: Sequence[Level]) -> list[Level]:
        """Concatenation gives a plain list, as it would for the list this stands in for."""
        return [*self, *other]

    def __radd__(self, other: Sequence[Level]) -> list[Level]:
        return [*other, *self]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Levels):
            return list(self) == list(other)
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # What a list of the pairs would show (print(book.bids[:5]) is how a user looks at a book);
        # only repr builds them all. A level that is no amount shows as sent: a repr that raised
        # would break the log line reporting that very book.
        try:
            return f"Levels({list(self)!r})"
        except DecodeError:
            return f"Levels(raw={self.raw!r})"


class LevelsOf:
    """A struct's string levels in field ``name``, read as exact :class:`Levels` (a class attribute).

    ``bids = LevelsOf("b")`` on a msgspec Struct whose ``b`` decodes as ``list[tuple[str, str]]``.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> LevelsOf: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Levels: ...

    def __get__(self, obj: Any, owner: type | None = None) -> LevelsOf | Levels:
        return self if obj is None else Levels(getattr(obj, self.name))


_ZERO = Decimal(0)


def check_amounts(*amounts: Decimal | str, signed: bool = False) -> None:
    """Raise ``ValueError`` unless every amount is a finite number, and (unless ``signed``) not below zero.

    Called from a message Struct's ``__post_init__``, where msgspec turns the ``ValueError`` into
    a ``ValidationError``: the message fails its schema (counted, reported) instead of carrying
    a NaN, an Infinity or a negative price or quantity, which no venue sends, to a consumer.
    """
    for amount in amounts:
        try:
            # A str is parsed here. A Decimal (what a Decimal field decodes to) is taken as it is,
            # with no call, and compared with a Decimal zero, not 0, which it would convert first.
            value = amount if type(amount) is Decimal else Decimal(amount)
            if not value.is_finite() or (not signed and value < _ZERO):  # finite first: NaN is not compared
                raise ValueError
        except (ValueError, ArithmeticError):  # decimal.InvalidOperation is an ArithmeticError
            raise ValueError(f"not an amount: {amount!r}") from None


_WIDEST_SUM = 1_000  # digits: far more than any two amounts a venue sends span, far fewer than a DoS


def exact_add(a: Decimal, b: Decimal) -> Decimal:
    """``a + b`` to the last digit, whatever decimal context the caller set (``+`` rounds to its precision:
    a strategy's ``getcontext().prec = 6`` would make 1234567.891 + 0.009 into 1.235E+6).

    Finite amounts whose digits span more than 1 000 places (a "1E+999999999" next to a "0.1") are a
    ``DecodeError``: their exact sum would be as many digits long.
    """
    if not (a.is_finite() and b.is_finite()):
        raise DecodeError(f"not amounts to add: {str(a)[:40]!r}, {str(b)[:40]!r}")
    low = min(cast(int, a.as_tuple().exponent), cast(int, b.as_tuple().exponent))
    digits = max(a.adjusted(), b.adjusted()) - low + 2  # one for a carry, one to spare
    if digits > _WIDEST_SUM:
        raise DecodeError(f"amounts {str(a)[:40]!r} and {str(b)[:40]!r} span more than {_WIDEST_SUM} digits")
    return Context(prec=max(digits, 1), Emax=MAX_EMAX, Emin=MIN_EMIN).add(a, b)

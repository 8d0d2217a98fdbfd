"""A body with invalid UTF-8 inside a JSON string is a payload that fails its schema: lotusx.DecodeError.

msgspec before 0.23 raised UnicodeDecodeError there, past every ``except msgspec.DecodeError``.
"""

from __future__ import annotations

import pytest

from lotusx import DecodeError, Response


def test_invalid_utf8_in_a_string_is_a_decode_error() -> None:
    """Response.decode raises lotusx.DecodeError, not UnicodeDecodeError, for a string with a stray byte."""
    with pytest.raises(DecodeError):
        Response(status=200, body=b'{"symbol":"BTC\x80USDT"}').decode(dict[str, str])


def test_invalid_utf8_in_an_untyped_body_is_a_decode_error() -> None:
    """The same with no schema (decode into Any)."""
    with pytest.raises(DecodeError):
        Response(status=200, body=b'["\xc3("]').decode()

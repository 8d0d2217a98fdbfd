"""help(lotusx.connect) is where a user looks first: it says what each parameter does."""

from __future__ import annotations

import inspect

import lotusx


def test_connect_docstring_names_every_parameter() -> None:
    """Each parameter of lotusx.connect is named, in backquotes, in its own docstring."""
    doc = inspect.getdoc(lotusx.connect) or ""
    missing = [name for name in inspect.signature(lotusx.connect).parameters if f"``{name}``" not in doc]
    assert not missing

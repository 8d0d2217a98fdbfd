"""``help(lotusx.connect)`` describes every option it takes (DESIGN §3), with its default."""

from __future__ import annotations

import inspect

import lotusx


def test_the_connect_docstring_names_every_parameter() -> None:
    """Each keyword of lotusx.connect appears in its own docstring as ``name``."""
    doc = lotusx.connect.__doc__ or ""
    missing = [name for name in inspect.signature(lotusx.connect).parameters if f"``{name}``" not in doc]
    assert not missing


def test_the_connect_docstring_states_the_design_defaults() -> None:
    """The defaults DESIGN §3 promises are the ones the docstring states and the signature has."""
    doc = " ".join((lotusx.connect.__doc__ or "").split())
    params = inspect.signature(lotusx.connect).parameters
    assert params["rate_limit_storage"].default == "memory://" and '``"memory://"``' in doc
    assert '``"redis://host:6379"``' in doc
    for name in ("rest_url", "ws_url", "rate_limits", "credentials"):
        assert params[name].default is None
    assert params["outer"].default == () and params["inner"].default == ()
    assert params["max_wait"].default == 30.0 and "30 s" in doc

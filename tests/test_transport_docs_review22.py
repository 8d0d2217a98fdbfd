"""The REST transport's options and defaults, as help(AiohttpRest), help(lotusx.connect) and README.md state them."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import lotusx
from lotusx.transport import AiohttpRest, AiohttpWs

README = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
UNITS = {"s": 1, "MiB": 1024 * 1024}
STATED = ("timeout", "connect_timeout", "max_body")


def defaults() -> dict[str, float]:
    """AiohttpRest's default for each option a connector's user is told about."""
    params = inspect.signature(AiohttpRest).parameters
    return {name: params[name].default for name in STATED}


def stated(text: str, quote: str) -> dict[str, float]:
    """Each ``name`` (default) the text gives, e.g. ``max_body`` (64 MiB), in base units."""
    found = re.findall(rf"{quote}(\w+){quote} \((\d+) (s|MiB)\)", text)
    return {name: int(number) * UNITS[unit] for name, number, unit in found}


def test_every_option_of_aiohttp_rest_is_in_its_docstring() -> None:
    """Each keyword AiohttpRest takes is named in its class docstring."""
    doc = AiohttpRest.__doc__ or ""
    missing = [name for name in list(inspect.signature(AiohttpRest).parameters)[1:] if f"``{name}" not in doc]
    assert not missing


def test_every_option_of_aiohttp_ws_is_in_its_docstring() -> None:
    """Each keyword AiohttpWs takes is named in its class docstring."""
    doc = AiohttpWs.__doc__ or ""
    missing = [name for name in list(inspect.signature(AiohttpWs).parameters)[1:] if f"``{name}" not in doc]
    assert not missing


def test_the_connect_docstring_states_the_rest_transports_defaults() -> None:
    """help(lotusx.connect) gives the connector's REST timeouts and body cap, as AiohttpRest has them."""
    doc = " ".join((lotusx.connect.__doc__ or "").split())
    assert {name: value for name, value in stated(doc, "``").items() if name in STATED} == defaults()


def test_the_readme_states_the_rest_transports_defaults() -> None:
    """README's connector paragraph gives the same defaults."""
    assert {name: value for name, value in stated(README, "`").items() if name in STATED} == defaults()

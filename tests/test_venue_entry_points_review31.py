"""Finding a venue package by name: the errors its author meets before it is wired right."""

from __future__ import annotations

from pathlib import Path

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.venue import find_venue


def installed(site: Path, name: str, target: str) -> None:
    """A distribution in ``site`` whose lotusx.exchanges entry point ``name`` is ``target``, as pip writes it."""
    info = site / "lotusx_wrong-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lotusx-wrong\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[lotusx.exchanges]\n{name} = {target}\n")


def test_an_entry_point_that_is_no_venue_names_its_target_and_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry point naming the connector class, not the Venue: the error shows what it names and where to fix it."""
    installed(tmp_path, "wrong", "lotusx.exchanges.binance:Binance")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as refused:
        find_venue("wrong")
    assert "lotusx.exchanges.binance:Binance" in str(refused.value)
    assert 'entry-points."lotusx.exchanges"' in str(refused.value)


def test_an_unknown_venue_says_how_a_venue_package_is_found() -> None:
    """A name not installed: the error says a venue package is found once pip-installed."""
    with pytest.raises(ConfigError, match="pip install"):
        find_venue("no-such-venue")

"""examples/market_maker.py keeps a live inventory from watch_fills(since=...) that agrees with get_fills."""

from __future__ import annotations

import re

import pytest

from tests.examples.test_examples import run_example


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_the_streamed_inventory_agrees_with_the_venues_fills(venue: str) -> None:
    """After the kill switch, the fills streamed since the start are the venue's, net position and fees alike."""
    out = run_example("market_maker.py", "--seconds", "3", "--venue", venue)
    line = next(line for line in out.splitlines() if line.startswith("streamed inventory: "))
    assert "agrees with get_fills" in line, line
    streamed, listed = map(int, re.search(r"\((\d+) streamed, (\d+) listed\)", line).groups())  # type: ignore[union-attr]
    assert streamed == listed > 0
    report = re.search(r"fills: .* net (\S+)", out)
    assert report is not None and f"net {report.group(1)}," in line

"""The names README.md quotes are lotusx's own, and the stream paragraph says how a Gap names its connection."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import lotusx.ws
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.bybit import Bybit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def resolve(dotted: str) -> object:
    """``lotusx.a.b.C.d``: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise AssertionError(dotted)


def test_every_dotted_lotusx_name_the_readme_quotes_exists() -> None:
    """Each `lotusx.x.y` (a logger's name aside) and `ReconnectWs.method` in README resolves."""
    dotted = set(re.findall(r"(?<!logger )`(lotusx(?:\.[A-Za-z_]+)+)`", README))
    methods = set(re.findall(r"`ReconnectWs\.([a-z_]+)", README))
    assert dotted and methods
    for name in sorted(dotted):
        resolve(name)
    for name in sorted(methods):
        assert callable(getattr(lotusx.ws.ReconnectWs, name)), name


def test_the_readme_says_how_to_tell_which_connection_a_gap_hit() -> None:
    """A consumer of many streams is told of ReconnectWs.shard_of, which the book watchers use."""
    assert "`ReconnectWs.shard_of" in README


def test_the_book_watchers_do_not_claim_a_single_connection() -> None:
    """watch_order_books spreads over as many connections as the venue's caps need, and says so."""
    for connector in (Binance, Bybit):
        doc = connector.watch_order_books.__doc__ or ""
        assert "on one connection" not in doc and "connection" in doc, connector.__name__

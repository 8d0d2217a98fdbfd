"""examples/ladder.py --ws-trading --ed25519: the ladder quotes over logged-on WebSocket API connections."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re

from tests.examples.loaded import example

ladder = example("ladder")


def test_the_ladder_quotes_over_the_websocket_api_with_an_ed25519_key() -> None:
    """Placed, moved and pulled with nothing unexpected and nothing left; the venue accepted a logon."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        asyncio.run(ladder.main("binance", 2.0, True, ed25519=True))
    text = out.getvalue()
    logons = re.search(r"session.logon accepted by the venue: (\d+)", text)
    assert "unexpected errors: none" in text and "0 open orders left" in text
    assert logons is not None and int(logons.group(1)) >= 1

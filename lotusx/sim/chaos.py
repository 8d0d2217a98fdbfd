"""Live fault-injection knobs of one simulated venue.

Mutable on purpose: tests, the CLI and the admin endpoint (``/_sim/chaos``) change them while
the sim runs, and every request or frame reads the current values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Chaos:
    """What goes wrong, and how often. All off by default."""

    latency_ms: float = 0.0
    """Added to every REST answer."""
    jitter_ms: float = 0.0
    """Uniform +/- spread around ``latency_ms``."""
    error_rate: float = 0.0
    """Share of REST requests answered with HTTP 503."""
    lose_answer_rate: float = 0.0
    """Share of REST order placements and cancels (and Binance WS API ``order.place``, ``order.cancel``,
    ``order.cancelReplace``; Bybit /v5/trade ``order.create``, ``order.amend``, ``order.cancel`` and their
    batches) that the venue carries out as usual, then cuts the connection without answering: the client
    cannot tell whether its order went through. A WS API connection sends the answers queued before,
    then closes (1011)."""
    drop_ws_after: int | None = None
    """Close each WS connection after it sent this many messages."""
    drop_ws_once: int | None = None
    """Close the first WS connection to have sent this many messages, once: the knob then clears
    itself, so the connection that replaces it (whose first message may be a login or subscription
    answer) stays up."""
    drop_ws_rate: float = 0.0
    """Chance of closing a WS connection after any message."""
    mute_pings: bool = False
    """Stop answering client pings (protocol and app level) and stop sending server pings."""
    sequence_gap: int = 0
    """Burn this many update ids before the next depth event (one shot), past every id a snapshot may have
    told: a change pending then is sent under new ids after them (lotusx.sim.book.Book.skip)."""
    sequence_gap_symbol: str | None = None
    """Only burn them in this symbol's book (None: every book)."""
    clock_skew_ms: int = 0
    """Added to the server clock (``serverTime``, timestamp checks, event times)."""
    force_429: int = 0
    """Answer the next N REST requests as rate limited."""
    force_418: int = 0
    """Answer the next N REST requests as IP banned."""
    refuse_ws: bool = False
    """Answer new WS upgrades with HTTP 503: the venue's streams are down, its REST API is not."""
    ws_deflate: bool = False
    """Negotiate permessage-deflate on new WS connections when the client offers it."""
    ws_gzip: bool = False
    """Send WS messages as gzip-compressed binary frames."""
    garble_ws_data: int = 0
    """Send the next N WS messages with a ``data`` that fails the schema: a list (Bybit's) with every
    row emptied, an object (a Binance combined stream's event) with only its event type kept."""
    truncate_ws_data: int = 0
    """Send the next N WS messages whose ``data`` is a list (Bybit's) or a Binance combined-stream
    event cut short by one byte: they are not JSON."""
    closed_orders_forgotten: bool = False
    """Bybit just restarted: /v5/order/realtime no longer finds closed orders by id; only
    /v5/order/history does (docs v5/order/open-order, "After a server release or restart")."""

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` (field name -> value), rejecting unknown names and wrong types."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in fields:
                raise ValueError(f"unknown chaos knob {name!r}")
            if not _fits(value, str(fields[name].type)):
                raise ValueError(f"chaos knob {name!r} cannot be {value!r}")
        for name, value in changes.items():
            setattr(self, name, value)

    def take_forced(self) -> int | None:
        """418 or 429 when a forced answer is pending (consuming one), else None."""
        if self.force_418 > 0:
            self.force_418 -= 1
            return 418
        if self.force_429 > 0:
            self.force_429 -= 1
            return 429
        return None


def _fits(value: Any, annotation: str) -> bool:
    if value is None:
        return "None" in annotation
    if isinstance(value, bool):
        return annotation == "bool"
    if isinstance(value, str):
        return annotation.startswith("str")
    if isinstance(value, int):
        return annotation.startswith(("int", "float"))
    return isinstance(value, float) and annotation == "float"

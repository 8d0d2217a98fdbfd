"""Heartbeat and idle watchdog: when is a connection dead?

The policy (:class:`Heartbeat`) is config; :class:`Liveness` is one connection's state; the
connection's watch task sleeps until :meth:`Liveness.next_check` and acts on
:meth:`Liveness.verdict`. Pings are protocol pings, or the venue's app-level ping message
when the dialect has one (Bybit ``{"op":"ping"}``); either must be answered within
``pong_timeout``. Any inbound data counts as life for the idle watchdog.

While the reader is held by back-pressure (a full ``Overflow.BLOCK`` queue) it reads
nothing, so silence then says nothing about the socket: no verdict is given until it reads
again, and the deadlines count from then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lotusx.kernel.errors import ConfigError


@dataclass(frozen=True)
class Heartbeat:
    """``interval``: seconds between our pings (``None``: never ping); ``idle_timeout``:
    seconds without any inbound frame before the connection is declared dead."""

    interval: float | None = 20.0
    pong_timeout: float = 10.0
    idle_timeout: float = 60.0
    answer_pings: bool = True  # off when the session already answers (AiohttpWs(auto_pong=True))

    def __post_init__(self) -> None:
        # Written so that NaN fails too: a NaN idle_timeout would never find a dead link, a zero one
        # would end every link at once (a reconnect storm), a zero interval would ping without pause.
        if not ((self.interval is None or 0 < self.interval < math.inf)
                and 0 < self.pong_timeout < math.inf and 0 < self.idle_timeout < math.inf):
            raise ConfigError(f"invalid {self!r}: interval (or None), pong_timeout and idle_timeout "
                              "must be positive finite seconds")


class Liveness:
    """When this connection last received anything, last pinged, and whether a pong is due."""

    __slots__ = ("awaiting_pong", "heartbeat", "held", "last_ping", "last_rx")

    def __init__(self, heartbeat: Heartbeat, now: float) -> None:
        self.heartbeat = heartbeat
        self.last_rx = now
        self.last_ping = now
        self.awaiting_pong = False
        self.held = False

    def hold(self) -> None:
        """The reader waits for room in the queue: it reads nothing until :meth:`release`."""
        self.held = True

    def release(self, now: float) -> None:
        """The reader reads again at ``now``; a pong may be waiting unread, so its deadline restarts."""
        self.held = False
        self.last_rx = now
        if self.awaiting_pong:
            self.last_ping = now

    def pinged(self, now: float) -> None:
        """We sent a ping at ``now``."""
        self.last_ping = now
        self.awaiting_pong = True

    def left(self, now: float) -> None:
        """The ping of :meth:`pinged` left at ``now`` (after a wait in the outbound layers): pong due from then."""
        if self.awaiting_pong:
            self.last_ping = now

    def refused(self, now: float) -> None:
        """The ping of :meth:`pinged` never left (refused by an outbound layer): no pong is due, the next ping
        an interval from ``now``."""
        self.awaiting_pong = False
        self.last_ping = now

    def ponged(self) -> None:
        """The pong arrived."""
        self.awaiting_pong = False

    def verdict(self, now: float) -> str | None:
        """``"idle"`` or ``"pong_timeout"`` if the connection is dead at ``now``, else ``None``."""
        hb = self.heartbeat
        if self.held:
            return None
        if self.awaiting_pong and now - self.last_ping >= hb.pong_timeout:
            return "pong_timeout"
        if now - self.last_rx >= hb.idle_timeout:
            return "idle"
        return None

    def ping_due(self, now: float) -> bool:
        """Whether it is time to send a ping."""
        interval = self.heartbeat.interval
        return interval is not None and not self.awaiting_pong and now - self.last_ping >= interval

    def next_check(self, now: float) -> float:
        """Seconds from ``now`` until a ping or a deadline is due."""
        hb = self.heartbeat
        if self.held:
            # Nothing is judged while held: look again later instead of spinning, but not an
            # idle_timeout later, which would leave pings and the pong deadline that long
            # behind once the reader reads again (a dead link found in ~60 s instead of ~30 s).
            return min(hb.idle_timeout, hb.pong_timeout)
        due = [self.last_rx + hb.idle_timeout]
        if self.awaiting_pong:
            due.append(self.last_ping + hb.pong_timeout)
        if hb.interval is not None:
            # Also while a pong is due: one that comes in time (the reader clears it, the watch is
            # not told) leaves the next ping an interval after the last, not after a longer pong_timeout.
            # Once that time has passed with the pong still due, only the pong deadline is left.
            ping_at = self.last_ping + hb.interval
            if not self.awaiting_pong or ping_at > now:
                due.append(ping_at)
        return max(0.0, min(due) - now)

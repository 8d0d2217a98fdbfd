"""Capped full-jitter exponential back-off between reconnect attempts.

``delay(n) = random() * min(cap, base * 2 ** (n - 1))`` for the n-th consecutive failure
("full jitter", AWS Architecture Blog, "Exponential Backoff And Jitter", 2015): spread out,
never above ``cap``, and reset once a connection has stayed healthy for ``healthy_after``.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass

from lotusx.kernel.errors import ConfigError


@dataclass(frozen=True)
class Backoff:
    """How long to wait before reconnect attempt number ``failures`` (1-based)."""

    base: float = 0.5
    cap: float = 30.0
    healthy_after: float = 60.0
    random: Callable[[], float] = _random.random

    def __post_init__(self) -> None:
        # Written so that NaN fails too: a NaN or infinite delay would sleep for ever (a shard that
        # never reconnects), a negative one fails asyncio's sleep, and a negative healthy_after counts
        # every short-lived link as healthy, so the back-off never grows (a reconnect storm).
        # Zero stays allowed: reconnecting at once is a valid (test) choice.
        for name in ("base", "cap", "healthy_after"):
            value = getattr(self, name)
            if not 0 <= value < math.inf:
                raise ConfigError(f"invalid {self!r}: {name} must be finite seconds >= 0, got {value!r}")

    def delay(self, failures: int) -> float:
        """Seconds to sleep after ``failures`` consecutive failures."""
        ceiling = self.cap if failures > 32 else min(self.cap, self.base * 2 ** (failures - 1))
        return self.random() * ceiling

    def __repr__(self) -> str:
        return f"Backoff(base={self.base}, cap={self.cap}, healthy_after={self.healthy_after})"

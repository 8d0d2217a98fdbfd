"""A long-running sim: what the market maker does each step costs the same after an hour of history."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal as D

from lotusx.sim.engine import Engine, Market

BTC = Market("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.001"), D(100))
HISTORY = 50_000  # what `lotusx sim` closes in a few minutes (20 maker orders a second per book)


def best_of(runs: int, call: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``call()``: the machine's other load only ever adds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def test_open_orders_cost_does_not_grow_with_closed_orders() -> None:
    """open_orders() reads the open orders, not every order the venue ever closed (the driver asks every step)."""
    e = Engine([BTC], lambda: 1_000)
    e.deposit("maker", "USDT", D(10**9))
    for _ in range(10):
        e.place("maker", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(50))
    fresh = best_of(20, lambda: e.open_orders("maker", "BTCUSDT"))
    for _ in range(HISTORY):  # IOC orders that find nothing to take: each closes at once, EXPIRED
        e.place("maker", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(50), tif="IOC")
    assert len(e.open_orders("maker", "BTCUSDT")) == 10
    aged = best_of(20, lambda: e.open_orders("maker", "BTCUSDT"))
    assert aged < max(20 * fresh, 0.000_5), f"{aged * 1e3:.2f} ms, {HISTORY} orders later ({fresh * 1e3:.3f} fresh)"

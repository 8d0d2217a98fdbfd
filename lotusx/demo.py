"""``lotusx demo``: one venue's connector against the embedded simulator, offline, in a few seconds.

Starts the simulator on 127.0.0.1, then through ``lotusx.connect(venue, ...)``: reads a book,
places an order below the market and cancels it, streams the maintained book (top of book
twice a second) and prints the Prometheus metrics the calls left. ``examples/quickstart.py``
is the same tour as a script to read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import lotusx
from lotusx.metrics import Metrics
from lotusx.models import Level
from lotusx.sim import serve

SYMBOL = "BTCUSDT"
VENUES = {"binance": "binance", "bybit": "bybit", "bybit-linear": "bybit"}  # venue -> the sim dialect serving it


async def tour(venue: str = "binance", seconds: float = 5.0, *, seed: int = 7,
               out: Callable[[str], object] = print) -> None:
    """Run the demo for ``venue`` (a key of :data:`VENUES`), streaming for ``seconds``; report with ``out``."""
    if venue not in VENUES:
        raise lotusx.ConfigError(f"the demo runs {', '.join(VENUES)}, not {venue!r}")
    dialect, metrics = VENUES[venue], Metrics()
    async with serve(venues=(dialect,), seed=seed) as sim:
        keys = sim.api_keys(dialect)
        out(f"simulator: REST {sim.rest_url(dialect)}  WS {sim.ws_url(dialect)}")
        credentials = lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)
        async with lotusx.connect(venue, credentials=credentials, rest_url=sim.rest_url(dialect),
                                  ws_url=sim.ws_url(dialect), metrics=metrics) as ex:
            await _trade(ex, out)
            await _stream(ex, seconds, out)
    for line in summary(metrics):
        out(line)


async def _trade(ex: Any, out: Callable[[str], object]) -> None:
    book = await ex.get_order_book(SYMBOL, depth=20)
    out(f"book {SYMBOL} #{book.sequence}: best bid {fmt(book.best_bid)}  best ask {fmt(book.best_ask)}  "
        f"({len(book.bids)}+{len(book.asks)} levels)")
    bid = book.best_bid[0] if book.best_bid else Decimal(50_000)
    price = (bid * Decimal("0.95")).quantize(Decimal("0.01"))  # well below the market: it rests
    order = await ex.place_order(lotusx.NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                                 quantity=Decimal("0.01"), price=price))
    out(f"placed  BUY 0.01 @ {price}  id={order.order_id} client_id={order.client_order_id} status={order.status}")
    cancelled = await ex.cancel_order(SYMBOL, order_id=order.order_id)
    out(f"cancel  id={cancelled.order_id} status={cancelled.status}")


async def _stream(ex: Any, seconds: float, out: Callable[[str], object]) -> None:
    out(f"streaming the maintained {SYMBOL} book for {seconds:g} s:")
    updates, shown, started = 0, 0.0, time.monotonic()
    async for view in ex.watch_order_book(SYMBOL, depth=5):
        updates += 1
        now = time.monotonic()
        if now - shown >= 0.5:
            shown = now
            out(f"  #{view.sequence:<8} bid {fmt(view.best_bid):>24}   ask {fmt(view.best_ask):>24}")
        if now - started >= seconds:
            break
    out(f"  {updates} book updates applied")


def fmt(level: Level | None) -> str:
    """``quantity @ price``, or ``-`` for an empty side."""
    return f"{level[1].normalize()} @ {level[0].normalize()}" if level else "-"


def summary(metrics: Metrics) -> list[str]:
    """Request counts, mean latency, retries and reconnects, as a scrape of ``metrics`` would show them."""
    requests: dict[str, float] = {}
    totals = {"lotusx_request_duration_seconds_sum": 0.0, "lotusx_request_duration_seconds_count": 0.0,
              "lotusx_retries_total": 0.0, "lotusx_ws_reconnects_total": 0.0,
              "lotusx_rate_limit_refusals_total": 0.0}
    # Waiting for room in our own limiter is the limiter working; only the venue's 429 is being throttled.
    # The venue's refusals are counted per call: rate_limited_total{source="venue"} counts one per pool cooled.
    throttled = {"local": 0.0}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "lotusx_requests_total":
                key = f"{sample.labels['endpoint']} {sample.labels['status_class']}"
                requests[key] = requests.get(key, 0) + sample.value
            elif sample.name == "lotusx_rate_limited_total" and sample.labels["source"] == "local":
                throttled["local"] += sample.value
            elif sample.name in totals:
                totals[sample.name] += sample.value
    count = totals["lotusx_request_duration_seconds_count"]
    mean = totals["lotusx_request_duration_seconds_sum"] / count * 1e3 if count else 0.0
    return ["metrics (Prometheus registry):",
            *(f"  requests  {key:<24} {value:>5.0f}" for key, value in sorted(requests.items())),
            f"  mean request latency {mean:.2f} ms over {count:.0f} attempts (REST and WS API calls)",
            f"  retries {totals['lotusx_retries_total']:.0f}   rate limit: held back here {throttled['local']:.0f}, "
            f"refused by the venue {totals['lotusx_rate_limit_refusals_total']:.0f}   "
            f"ws reconnects {totals['lotusx_ws_reconnects_total']:.0f}"]

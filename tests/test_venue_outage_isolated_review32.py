"""One venue down (its WebSockets refused, its REST answering 503) leaves another venue's connector whole."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import lotusx
from lotusx.metrics import Metrics
from lotusx.sim import serve as simulate
from tests.test_connectors_share_metrics_review17 import QUIET, opener
from tests.test_log_metrics import scrape


async def test_bybit_outage_leaves_binance_streams_calls_and_metrics_alone() -> None:
    """Bybit refusing WS and 503ing REST: Binance's book moves, its calls answer, Bybit's failures are Bybit's."""
    metrics = Metrics()
    async with simulate(("binance", "bybit"), seed=1, config=QUIET) as sim:
        open_ = opener(sim, metrics)
        async with open_("binance") as binance, open_("bybit") as bybit, asyncio.timeout(10):
            async with contextlib.aclosing(binance.watch_order_book("BTCUSDT")) as books, \
                    contextlib.aclosing(bybit.watch_order_book("BTCUSDT")) as bybit_books:
                first = await anext(books)
                await anext(bybit_books)
                sim.chaos("bybit").refuse_ws = True
                sim.chaos("bybit").drop_ws_once = 1
                sim.chaos("bybit").error_rate = 1.0
                with contextlib.suppress(lotusx.ServerError):
                    await bybit.get_ticker("BTCUSDT")
                bid = first.best_bid[0] + Decimal("0.01")  # inside the spread: the book must show it
                await binance.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                          time_in_force="GTC", quantity=Decimal("0.001"), price=bid))
                async for book in books:
                    if book.best_bid[0] == bid:
                        break
            assert len(await binance.cancel_all_orders("BTCUSDT")) == 1
        text = await scrape(metrics)
    assert 'lotusx_requests_total{endpoint="tickers",exchange="bybit",status_class="5xx"}' in text
    assert 'exchange="binance",status_class="5xx"' not in text
    assert 'lotusx_ws_reconnects_total{exchange="binance"' not in text

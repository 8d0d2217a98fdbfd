"""Connectors of one process given one Metrics report through one scrape, their counts added up, no key in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lotusx
from lotusx.metrics import Metrics
from lotusx.sim import ApiKeys, Sim, SimConfig
from lotusx.sim import serve as simulate
from tests.test_log_metrics import scrape

QUIET = SimConfig(driver_rate=0)


def credentials(keys: ApiKeys) -> lotusx.Credentials:
    return lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)


def opener(sim: Sim, metrics: Metrics) -> Callable[[str], Any]:
    """``open_(venue)``: a connector of ``venue`` on ``sim`` with its key, reporting into ``metrics``."""
    def open_(venue: str) -> Any:
        return lotusx.connect(venue, credentials=credentials(sim.api_keys(venue)), rest_url=sim.rest_url(venue),
                              ws_url=sim.ws_url(venue), metrics=metrics)

    return open_


async def test_two_binance_and_one_bybit_connector_share_one_scrape() -> None:
    """Two Binance connectors' calls add up under exchange="binance", Bybit's apart; the scrape holds no key."""
    metrics = Metrics()
    async with simulate(("binance", "bybit"), seed=1, config=QUIET) as sim:
        open_ = opener(sim, metrics)
        async with open_("binance") as one, open_("binance") as two, open_("bybit") as bybit:
            await one.get_order_book("BTCUSDT")
            await two.get_order_book("BTCUSDT")
            await bybit.get_order_book("BTCUSDT")
        text = await scrape(metrics)
        secrets = [value for venue in ("binance", "bybit") for keys in [sim.api_keys(venue)]
                   for value in (keys.hmac_key, keys.hmac_secret)]
    assert 'lotusx_requests_total{endpoint="depth",exchange="binance",status_class="2xx"} 2.0' in text
    assert 'lotusx_requests_total{endpoint="orderbook",exchange="bybit",status_class="2xx"} 1.0' in text
    assert not [secret for secret in secrets if secret in text]

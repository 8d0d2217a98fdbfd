"""serve(), the Sim handle and the deterministic market driver."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.driver import Driver
from lotusx.sim.venue import Venue


async def test_urls_are_loopback_base_urls(sim: Sim) -> None:
    """Each venue has its own port; URLs are scheme://127.0.0.1:port with no path."""
    assert sim.venues == ("binance", "bybit")
    assert sim.rest_url("binance").startswith("http://127.0.0.1:")
    assert sim.ws_url("bybit").replace("ws://", "http://") == sim.rest_url("bybit")
    assert sim.rest_url("binance") != sim.rest_url("bybit")


async def test_api_keys_are_seeded_and_secrets_stay_out_of_reprs(sim: Sim) -> None:
    """Keys depend only on the seed; reprs show neither secrets nor private keys."""
    keys = sim.api_keys("binance")
    async with serve(("binance",), seed=1, config=SimConfig(driver_rate=0)) as again:
        assert again.api_keys("binance") == keys
    async with serve(("binance",), seed=2, config=SimConfig(driver_rate=0)) as other:
        assert other.api_keys("binance").hmac_key != keys.hmac_key
    assert keys.ed25519_private_key and keys.ed25519_public_key and sim.api_keys("bybit").ed25519_key is None
    for text in (repr(keys), repr(sim), repr(sim.venue("binance")), repr(sim.engine("binance")),
                 repr(sim.venue("binance").keys[keys.hmac_key])):
        assert keys.hmac_secret not in text and keys.ed25519_private_key not in text


async def test_unknown_venues_are_config_errors(sim: Sim) -> None:
    """Asking for a venue that is not served, or serving an unknown one, raises ConfigError."""
    with pytest.raises(ConfigError):
        sim.rest_url("kraken")
    with pytest.raises(ConfigError):
        async with serve(("kraken",)):
            pass  # pragma: no cover


def snapshot(venue: Venue) -> list[object]:
    """Every book's levels, for comparing runs."""
    return [(s, b.levels("BUY", 50), b.levels("SELL", 50)) for e in venue.engines.values() for s, b in e.books.items()]


def test_driver_is_deterministic_per_seed() -> None:
    """The same seed gives the same market; another seed a different one."""
    runs = []
    for seed in (7, 7, 8):
        venue = Venue("bybit", ("spot", "linear"), seed=seed, config=SimConfig())
        driver = Driver(venue, seed)
        for _ in range(200):
            driver.step()
        runs.append(snapshot(venue))
    assert runs[0] == runs[1] != runs[2]


def test_driver_keeps_books_bounded_and_uncrossed() -> None:
    """After many steps the maker has at most 201 resting orders per book and no book is crossed."""
    venue = Venue("binance", ("spot",), seed=3, config=SimConfig())
    driver = Driver(venue, 3)
    for _ in range(600):
        driver.step()
    engine = venue.engines["spot"]
    for book in engine.books.values():
        assert len(engine.open_orders("market-maker", book.market.symbol)) <= 201
        assert max(book.bids) < min(book.asks)
    assert all(engine.trades.values())


async def test_running_driver_moves_books_and_streams(http: aiohttp.ClientSession) -> None:
    """With driver_rate > 0 the books change by themselves and depth events flow."""
    config = SimConfig(driver_rate=200, depth_interval=0.01)
    async with serve(("binance",), seed=9, config=config) as sim:
        book = sim.engine("binance").books["BTCUSDT"]
        start = book.update_id
        async with http.ws_connect(sim.ws_url("binance") + "/ws/btcusdt@depth@100ms") as ws:
            msg = await ws.receive(timeout=3)
        for _ in range(100):
            if book.update_id > start + 5:
                break
            await asyncio.sleep(0.01)
    assert msg.type == aiohttp.WSMsgType.TEXT and book.update_id > start + 5

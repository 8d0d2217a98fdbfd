"""Binance sim: per-symbol consecutive trade ids and GET /api/v3/historicalTrades (rest-api.md "Old trade lookup")."""

from __future__ import annotations

from sim_helpers import Binance, body


async def take(binance: Binance, symbol: str, times: int) -> None:
    """``times`` small MARKET buys of ``symbol``, one trade each against the seeded book."""
    for _ in range(times):
        resp = await binance.signed("POST", "/api/v3/order", symbol=symbol, side="BUY", type="MARKET", quantity="0.01")
        assert resp.status == 200, await resp.text()


async def ids(binance: Binance, path: str, **params: object) -> list[int]:
    return [row["id"] for row in await body(await binance.public(path, **params))]


async def test_trade_ids_are_consecutive_per_symbol(binance: Binance) -> None:
    """Trades of another symbol in between take no ids from this one's sequence."""
    for _ in range(3):
        await take(binance, "BTCUSDT", 1)
        await take(binance, "ETHUSDT", 1)
    btc = await ids(binance, "/api/v3/trades", symbol="BTCUSDT")
    assert btc == list(range(btc[0], btc[0] + 3))


async def test_historical_trades_list_from_an_id(binance: Binance) -> None:
    """fromId lists that trade and the later ones, oldest first, up to limit; past the newest, none."""
    await take(binance, "BTCUSDT", 5)
    made = await ids(binance, "/api/v3/trades", symbol="BTCUSDT")
    assert await ids(binance, "/api/v3/historicalTrades", symbol="BTCUSDT", fromId=made[1], limit=3) == made[1:4]
    assert await ids(binance, "/api/v3/historicalTrades", symbol="BTCUSDT", fromId=made[-1] + 1) == []


async def test_historical_trades_without_from_id_are_the_recent_ones(binance: Binance) -> None:
    """No fromId: the most recent trades, as /trades lists them."""
    await take(binance, "BTCUSDT", 3)
    recent = await ids(binance, "/api/v3/trades", symbol="BTCUSDT", limit=2)
    assert await ids(binance, "/api/v3/historicalTrades", symbol="BTCUSDT", limit=2) == recent


async def test_historical_trades_weigh_25(binance: Binance) -> None:
    """Weight 25 a call, needing no API key (security type NONE)."""
    before = int((await binance.public("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"])
    resp = await binance.public("/api/v3/historicalTrades", symbol="BTCUSDT")
    assert (resp.status, int(resp.headers["X-MBX-USED-WEIGHT-1M"]) - before) == (200, 25)


async def test_historical_trades_bad_parameters_are_refused(binance: Binance) -> None:
    """limit outside 1..1000 or a fromId that is no id: -1100; an unknown symbol: -1121."""
    for params in ({"limit": "0"}, {"limit": "1001"}, {"fromId": "x"}, {"fromId": "-1"}):
        answer = await body(await binance.public("/api/v3/historicalTrades", symbol="BTCUSDT", **params))
        assert answer["code"] == -1100, params
    assert (await body(await binance.public("/api/v3/historicalTrades", symbol="X")))["code"] == -1121

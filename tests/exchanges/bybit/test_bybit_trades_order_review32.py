"""Bybit's recent trades come oldest first, those of one millisecond too."""

from __future__ import annotations

from bybit_helpers import Venue, answer
from test_bybit_requests import connect


def row(exec_id: str, time: str) -> dict[str, object]:
    return {"execId": exec_id, "symbol": "BTCUSDT", "price": "50000", "size": "0.1", "side": "Buy", "time": time}


async def test_trades_of_one_millisecond_come_in_the_order_they_happened() -> None:
    """One taker sweeping three levels makes three trades in one ms: the venue lists them newest first, we oldest."""
    newest_first = [row("13", "1700000000001"), row("12", "1700000000001"), row("11", "1700000000001"),
                    row("10", "1700000000000")]
    conn, _, _ = connect(lambda c: Venue(c, market_recent_trade=lambda r: answer(
        {"category": "spot", "list": newest_first})))
    async with conn as ex:
        trades = await ex.get_trades("BTCUSDT")
    assert [t.trade_id for t in trades] == ["10", "11", "12", "13"]

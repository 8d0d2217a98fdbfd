"""The sim's instruments-info ``status`` filter (docs/v5/market/instrument.mdx: by default only Trading symbols;
docs/v5/enum.mdx "status": PreLaunch, Trading, Delivering, Closed). Every sim market trades."""

from __future__ import annotations

import pytest
from sim_helpers import Bybit


@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_a_status_other_than_trading_lists_nothing(bybit: Bybit, category: str) -> None:
    """status=Closed lists no sim market: none is closed (the sim listed every market as Trading)."""
    answer = await bybit.public("/v5/market/instruments-info", category=category, symbol="BTCUSDT", status="Closed")
    assert (answer["retCode"], answer["result"]["list"]) == (0, [])


async def test_status_trading_lists_the_symbol(bybit: Bybit) -> None:
    """status=Trading lists BTCUSDT, as the default does."""
    answer = await bybit.public("/v5/market/instruments-info", category="linear", symbol="BTCUSDT", status="Trading")
    assert [row["symbol"] for row in answer["result"]["list"]] == ["BTCUSDT"]

"""Bybit linear lists without a symbol, on the sim, scoped by ``settleCoin`` as the venue scopes them.

docs/v5/order/open-order.mdx: for linear "either symbol, baseCoin or settleCoin is required";
order-list.mdx and execution.mdx take ``settleCoin`` too. A USDT contract and a USDC one (BTCPERP,
docs/v5/enum.mdx "symbol" USDC Perpetual) are traded, and each coin's list holds its own only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sim_helpers import Bybit, body

from lotusx.sim import Sim
from lotusx.sim.engine import Market
from lotusx.sim.venue import MAKER, USER

USDC_PERP = Market("BTCPERP", "BTC", "USDC", Decimal("0.01"), Decimal("0.00001"), Decimal(50_000))
LISTS = ["/v5/order/realtime", "/v5/order/history", "/v5/execution/list"]


def trade(sim: Sim) -> None:
    """On BTCUSDT and on BTCPERP, the user's order filled against the maker's, and one left resting."""
    engine = sim.engine("bybit", "linear")
    engine.list_market(USDC_PERP)
    engine.deposit(MAKER, "USDC", Decimal(100_000))
    engine.deposit(USER, "USDC", Decimal(1_000))  # a USDC perpetual's margin is USDC
    for symbol in ("BTCUSDT", "BTCPERP"):
        engine.place(MAKER, symbol, "SELL", "LIMIT", quantity=Decimal("0.01"), price=Decimal("50000.02"))
        engine.place(USER, symbol, "BUY", "LIMIT", quantity=Decimal("0.01"), price=Decimal("50000.02"), tif="IOC")
        engine.place(USER, symbol, "BUY", "LIMIT", quantity=Decimal("0.01"), price=Decimal(40_000))


async def symbols(bybit: Bybit, path: str, **scope: Any) -> set[str]:
    """The symbols of the rows a signed linear list of ``path`` answers."""
    answer = await body(await bybit.signed("GET", path, category="linear", **scope))
    assert answer["retCode"] == 0, answer
    return {row["symbol"] for row in answer["result"]["list"]}


@pytest.mark.parametrize("path", LISTS)
async def test_a_linear_list_by_settle_coin_holds_that_coins_contracts_only(sim: Sim, bybit: Bybit,
                                                                            path: str) -> None:
    """settleCoin USDT lists BTCUSDT's rows, USDC BTCPERP's."""
    trade(sim)
    assert await symbols(bybit, path, settleCoin="USDT") == {"BTCUSDT"}
    assert await symbols(bybit, path, settleCoin="USDC") == {"BTCPERP"}


@pytest.mark.parametrize("path", LISTS)
async def test_a_linear_list_by_base_coin_holds_that_coins_contracts(sim: Sim, bybit: Bybit, path: str) -> None:
    """baseCoin BTC lists both BTC contracts, ETH neither."""
    trade(sim)
    assert await symbols(bybit, path, baseCoin="BTC") == {"BTCUSDT", "BTCPERP"}
    assert await symbols(bybit, path, baseCoin="ETH") == set()


async def test_linear_open_orders_need_a_symbol_base_coin_or_settle_coin(sim: Sim, bybit: Bybit) -> None:
    """GET /v5/order/realtime on linear with none of them is 10001."""
    answer = await body(await bybit.signed("GET", "/v5/order/realtime", category="linear"))
    assert answer["retCode"] == 10001

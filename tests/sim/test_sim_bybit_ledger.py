"""Bybit sim: spot and linear trade from one wallet per account; Binance keeps its own.

A Bybit unified trading account has one wallet (v5 docs "Unified Trading Account" and "Get Wallet
Balance", accountType UNIFIED): what an order locks in one category is not free in another, and
wallet-balance reports that one ledger.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import aiohttp
from sim_helpers import Binance, Bybit, body, now_ms, until
from test_sim_bybit_rest import create
from test_sim_bybit_ws import auth_args, subscribe
from test_sim_engine import engine

from lotusx.sim import Sim, SimConfig
from lotusx.sim.engine import Balance
from lotusx.sim.venue import USER, Venue

LINEAR_LOCK = {"category": "linear", "qty": "200", "price": "40000"}
"""A resting linear limit buy locking 800 000 (its margin, 200 * 40000 / 10) of the user's 1 000 000 USDT."""


async def coin(bybit: Bybit, name: str) -> dict[str, Any]:
    """One coin's row of GET /v5/account/wallet-balance (UNIFIED)."""
    wallet = await body(await bybit.signed("GET", "/v5/account/wallet-balance", accountType="UNIFIED"))
    row: dict[str, Any] = next(c for c in wallet["result"]["list"][0]["coin"] if c["coin"] == name)
    return row


def test_a_linear_lock_is_not_free_in_the_spot_engine() -> None:
    """The venue's categories lock from one ledger: a linear order's margin (40000 / 10) shows in spot."""
    venue = Venue("bybit", ("spot", "linear"), seed=1, config=SimConfig())
    venue.engines["linear"].place(USER, "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(40_000))
    assert venue.engines["spot"].balance(USER, "USDT") == Balance(free=D(996_000), locked=D(4_000))


def test_the_shared_ledger_is_funded_once() -> None:
    """The user starts with its funds once in all, not once per category."""
    venue = Venue("bybit", ("spot", "linear"), seed=1, config=SimConfig())
    assert venue.accounts[USER] == {"USDT": Balance(D(1_000_000)), "BTC": Balance(D(10)), "ETH": Balance(D(100))}


async def test_a_linear_lock_shows_in_wallet_balance(bybit: Bybit) -> None:
    """wallet-balance reports a linear order's margin (1 * 40000 / 10) as locked, not free, in the settle coin."""
    assert (await create(bybit, category="linear", qty="1", price="40000"))["retCode"] == 0
    usdt = await coin(bybit, "USDT")
    assert (usdt["walletBalance"], usdt["free"], usdt["locked"]) == ("1000000", "996000", "4000")


async def test_spot_cannot_spend_what_a_linear_order_locked(bybit: Bybit) -> None:
    """A spot buy needing more than the USDT a linear order left free is 170131."""
    assert (await create(bybit, **LINEAR_LOCK))["retCode"] == 0
    refused = await create(bybit, qty="6", price="40000")  # 240 000 USDT > 200 000 free
    assert (refused["retCode"], refused["retMsg"]) == (170131, "Insufficient balance.")


async def test_cancelling_the_linear_order_frees_its_coins_for_spot(bybit: Bybit) -> None:
    """Once the linear order is cancelled, the spot buy it blocked goes through."""
    linear = await create(bybit, **LINEAR_LOCK)
    await bybit.signed("POST", "/v5/order/cancel", category="linear", symbol="BTCUSDT",
                       orderId=linear["result"]["orderId"])
    assert (await create(bybit, qty="6", price="40000"))["retCode"] == 0


async def test_a_linear_fill_settles_into_the_wallet(bybit: Bybit) -> None:
    """A filled linear market sell moves no BTC: its position's margin (0.01 * 49999.9 / 10) stays locked in USDT."""
    await create(bybit, category="linear", side="Sell", orderType="Market", qty="0.01")  # fills at the 49999.9 bid
    btc, usdt = await coin(bybit, "BTC"), await coin(bybit, "USDT")
    assert (btc["walletBalance"], btc["free"], btc["locked"]) == ("10", "10", "0")
    assert (usdt["walletBalance"], usdt["free"], usdt["locked"]) == ("1000000", "999950.0001", "49.9999")


async def test_withdraw_cannot_take_what_a_linear_order_locked(bybit: Bybit) -> None:
    """Withdrawing more than the USDT a linear order left free is 131085."""
    await create(bybit, **LINEAR_LOCK)
    refused = await body(await bybit.signed("POST", "/v5/asset/withdraw/create", coin="USDT", chain="TRX",
                                            address="T1", amount="300000"))
    assert refused["retCode"] == 131085


async def test_a_spot_wallet_push_reports_the_linear_lock(sim: Sim, bybit: Bybit,
                                                          http: aiohttp.ClientSession) -> None:
    """The private wallet topic pushes the one ledger, so a spot order's push shows a linear lock."""
    await create(bybit, **LINEAR_LOCK)
    async with http.ws_connect(sim.ws_url("bybit") + "/v5/private") as ws:
        await ws.send_json({"op": "auth", "args": auth_args(bybit.key, bybit.secret, now_ms() + 10_000)})
        await subscribe(ws, "wallet")
        await create(bybit, qty="1", price="40000")
        wallet = await until(ws, lambda m: m.get("topic") == "wallet")
    usdt = next(c for c in wallet["data"][0]["coin"] if c["coin"] == "USDT")
    assert (usdt["free"], usdt["locked"]) == ("160000", "840000")


async def test_binance_account_is_untouched_by_bybit_locks(bybit: Bybit, binance: Binance) -> None:
    """Each venue has its own ledger: Binance's account still shows its starting funds, nothing locked."""
    await create(bybit, **LINEAR_LOCK)
    account = await body(await binance.signed("GET", "/api/v3/account"))
    assert [(b["asset"], b["free"], b["locked"]) for b in account["balances"]] == [
        ("BTC", "10.00000000", "0.00000000"), ("ETH", "100.00000000", "0.00000000"),
        ("USDT", "1000000.00000000", "0.00000000")]


def test_engines_without_a_ledger_keep_their_own() -> None:
    """An engine built without a ledger (Binance's one spot engine) shares no balances with another."""
    mine, other = engine(), engine()
    mine.lock("alice", "USDT", D(10_000))
    assert other.balance("alice", "USDT") == Balance(free=D(10_000))

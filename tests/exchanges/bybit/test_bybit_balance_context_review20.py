"""A balance's free and total amounts are exact whatever decimal context the caller set."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest
from bybit_helpers import Venue, answer

import lotusx
from lotusx.kernel.errors import DecodeError
from lotusx.testing import FakeClock, FakeTransport

WALLET = {"list": [{"accountType": "UNIFIED", "coin": [
    {"coin": "USDT", "walletBalance": "1234567.891", "locked": "100"}]}]}


async def balances_of(wallet: dict[str, Any]) -> dict[str, lotusx.Balance]:
    """get_balances() of a Bybit connector whose wallet-balance answer is ``wallet``."""
    clock = FakeClock(1_700_000_000.0)
    transport = FakeTransport(Venue(clock, account_wallet_balance=lambda r: answer(wallet)))
    async with lotusx.connect("bybit", credentials=lotusx.Credentials(api_key="k", secret="s"), clock=clock,
                              transport=transport) as ex:
        return await ex.get_balances()


async def test_free_is_wallet_balance_less_locked_to_the_last_digit_in_a_coarse_context() -> None:
    """With getcontext().prec = 6 in the strategy, free is 1234467.891, not 1234567.891 - 100 rounded to 1234470."""
    with decimal.localcontext(prec=6):
        balances = await balances_of(WALLET)
    assert balances["USDT"] == lotusx.Balance(asset="USDT", free=Decimal("1234467.891"), locked=Decimal(100))


def test_a_balance_total_is_exact_in_a_coarse_context() -> None:
    """Balance.total adds free and locked exactly: 1234567.891 + 0.009 is 1234567.9 whatever the precision set."""
    balance = lotusx.Balance(asset="BTC", free=Decimal("1234567.891"), locked=Decimal("0.009"))
    with decimal.localcontext(prec=4):
        assert balance.total == Decimal("1234567.900")


async def test_a_wallet_balance_of_absurd_exponent_is_a_decode_error() -> None:
    """walletBalance "1E+999999999" with locked "0.1" is a DecodeError, not decimal.Overflow or a billion-digit free."""
    absurd = {"list": [{"coin": [{"coin": "USDT", "walletBalance": "1E+999999999", "locked": "0.1"}]}]}
    with pytest.raises(DecodeError, match="span more than"):
        await balances_of(absurd)

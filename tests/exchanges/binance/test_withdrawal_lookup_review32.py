"""An AmbiguousWithdrawal is looked up by its client id: get_withdrawals(client_id=) on Binance.

The withdraw-history endpoint takes ``withdrawOrderId`` and returns it on each record, absent when
none was set (developers.binance.com/docs/wallet/capital/withdraw-history, GET
/sapi/v1/capital/withdraw/history).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.models import Withdrawal
from lotusx.sim import serve


@pytest.fixture
async def ex() -> AsyncIterator[Binance]:
    """A connector on a fresh Binance sim, with its key."""
    async with serve(("binance",)) as sim:
        keys = sim.api_keys("binance")
        async with lotusx.connect("binance", credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url("binance"), ws_url=sim.ws_url("binance")) as connector:
            yield connector


def _withdrawal(client_id: str | None) -> Withdrawal:
    return Withdrawal(asset="USDT", address="TXYZ1234", amount=Decimal("1.5"), network="TRX", client_id=client_id)


async def test_each_withdrawal_carries_the_client_id_it_was_sent_with(ex: Binance) -> None:
    """A record shows its withdrawOrderId as client_id; one sent without shows None, not ''."""
    with_id = await ex.withdraw(_withdrawal("wd-7"))
    without = await ex.withdraw(_withdrawal(None))
    by_id = {w.withdrawal_id: w.client_id for w in await ex.get_withdrawals("USDT")}
    assert (by_id[with_id], by_id[without]) == ("wd-7", None)


async def test_a_withdrawal_is_found_by_its_client_id(ex: Binance) -> None:
    """get_withdrawals(client_id=...) asks the venue for that one: what an AmbiguousWithdrawal says to do."""
    await ex.withdraw(_withdrawal("wd-a"))
    wanted = await ex.withdraw(_withdrawal("wd-b"))
    found = await ex.get_withdrawals(client_id="wd-b")
    assert [(w.withdrawal_id, w.client_id) for w in found] == [(wanted, "wd-b")]


async def test_an_unknown_client_id_finds_nothing(ex: Binance) -> None:
    """No withdrawal under the id: an empty list, so the caller knows nothing left under it."""
    await ex.withdraw(_withdrawal("wd-a"))
    assert await ex.get_withdrawals(client_id="never-sent") == []

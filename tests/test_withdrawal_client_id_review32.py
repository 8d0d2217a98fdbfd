"""README: an ambiguous withdrawal carries its client_id, the one the caller gave (none is generated)."""

from __future__ import annotations

from decimal import Decimal

import pytest

import lotusx
from lotusx import Request, Response
from lotusx.kernel.errors import Timeout
from lotusx.testing import FakeTransport

TIME = {"binance": b'{"serverTime": 1700000000000}',
        "bybit": b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000",'
                 b'"timeNano":"1700000000000000000"},"time":1700000000000}'}


def timing_out(venue: str) -> FakeTransport:
    """A venue whose clock answers and whose withdrawal endpoint times out (it may have moved the funds)."""
    def answer(request: Request) -> Response:
        if request.path in ("/api/v3/time", "/v5/market/time"):
            return Response(status=200, body=TIME[venue])
        raise Timeout("no answer")
    return FakeTransport(answer)


@pytest.mark.parametrize("venue", ["binance", "bybit"])
@pytest.mark.parametrize("client_id", ["w-42", None])
async def test_an_ambiguous_withdrawal_carries_the_client_id_given(venue: str, client_id: str | None) -> None:
    """The id passed in Withdrawal(client_id=...) comes back on AmbiguousWithdrawal; without one, None."""
    transport = timing_out(venue)
    async with lotusx.connect(venue, transport=transport, credentials=lotusx.Credentials("k", "s")) as ex:
        with pytest.raises(lotusx.AmbiguousWithdrawal) as caught:
            await ex.withdraw(lotusx.Withdrawal(asset="USDT", address="0xabc", amount=Decimal(10), network="ETH",
                                                client_id=client_id))
    assert caught.value.client_id == client_id
    assert len([r for r in transport.requests if "withdraw" in r.path]) == 1

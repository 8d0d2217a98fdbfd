"""The clock-sync sample of each venue: a garbled answer is a typed DecodeError, never a raw one."""

from __future__ import annotations

import pytest

from lotusx.exchanges import binance, bybit
from lotusx.kernel.errors import DecodeError
from lotusx.kernel.message import Response
from lotusx.testing import FakeTransport


def answering(body: bytes) -> FakeTransport:
    return FakeTransport(lambda request: Response(status=200, body=body))


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"serverTime": "soon"}'])
async def test_a_garbled_binance_server_time_is_a_decode_error(body: bytes) -> None:
    """Not JSON, or not the schema: DecodeError, which the clock's refresh loop survives."""
    with pytest.raises(DecodeError):
        await binance.server_time(answering(body))


@pytest.mark.parametrize("body", [b"<html>maintenance</html>",
                                  b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1","timeNano":"1e9"}}'])
async def test_a_garbled_bybit_server_time_is_a_decode_error(body: bytes) -> None:
    """Not JSON, or nanoseconds that are not a whole number: DecodeError, not a ValueError."""
    with pytest.raises(DecodeError):
        await bybit.server_time(answering(body))


async def test_a_good_bybit_server_time_is_in_milliseconds() -> None:
    """timeNano 1688639403423213947 is 1688639403423 ms."""
    body = b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1688639403","timeNano":"1688639403423213947"}}'
    assert await bybit.server_time(answering(body)) == 1688639403423

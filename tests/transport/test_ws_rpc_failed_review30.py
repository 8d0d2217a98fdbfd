"""WsRpc's ``failed``: each connection attempt that fails is reported, typed, and none that succeeds."""

from __future__ import annotations

import pytest

from lotusx.kernel.errors import AuthenticationError, ConnectError, LotusXError
from lotusx.transport import WsRpc
from tests.transport.test_ws_rpc_review29 import REFUSED, Codec, LoggingIn, Sockets, answered, handshake, order, rest


async def test_a_connection_that_cannot_be_opened_is_reported() -> None:
    """The socket refused: ``failed`` gets the ConnectError the caller gets; the next, good, opening reports nothing."""
    failures: list[LotusXError] = []
    sockets = Sockets(fail_connect=1)
    rpc = WsRpc(sockets, Codec(), rest(), failed=failures.append)
    with pytest.raises(ConnectError) as raised:
        await rpc(order())
    assert failures == [raised.value]
    assert (await answered(rpc, sockets, on=1)).status == 200
    assert len(failures) == 1
    await rpc.aclose()


async def test_a_refused_login_is_reported_as_its_error() -> None:
    """The venue refusing the login: ``failed`` gets the verdict's AuthenticationError."""
    failures: list[LotusXError] = []
    rpc = WsRpc(LoggingIn(REFUSED), Codec(), rest(), login=handshake(), failed=failures.append)
    with pytest.raises(AuthenticationError):
        await rpc(order())
    assert [type(f) for f in failures] == [AuthenticationError]
    await rpc.aclose()


async def test_a_refused_admission_is_reported() -> None:
    """The limiter refusing the attempt is a failed opening too (as a stream counts it)."""
    failures: list[LotusXError] = []

    async def admit(attempt: object) -> None:
        raise ConnectError("no room")

    rpc = WsRpc(Sockets(), Codec(), rest(), admit=admit, failed=failures.append)
    with pytest.raises(ConnectError):
        await rpc(order())
    assert [str(f) for f in failures] == ["no room"]
    await rpc.aclose()

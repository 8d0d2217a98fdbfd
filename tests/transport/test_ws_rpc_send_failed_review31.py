"""WsRpc: a call whose frame cannot be written leaves nothing for the event loop to complain about."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from lotusx.kernel.errors import ConnectError
from lotusx.transport import WsRpc
from tests.transport.test_ws_rpc_review29 import Codec, Sockets, answered, order, rest


async def test_a_failed_send_leaves_no_future_exception_unretrieved() -> None:
    """The socket closed under a call (the soak's 'Future exception was never retrieved'): ConnectError alone."""
    loop = asyncio.get_running_loop()
    complaints: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: complaints.append(context))
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    await answered(rpc, sockets)  # the connection is open and in use
    sockets.made[0].connected = False  # closed under it: the next write fails before the reader notices
    with pytest.raises(ConnectError):
        await rpc(order())
    await rpc.aclose()
    gc.collect()
    assert [c["message"] for c in complaints] == []

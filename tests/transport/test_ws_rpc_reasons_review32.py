"""WsRpc: a connection left on the venue's notice or for its age is told as ``retired`` (README's trading_ reasons)."""

from __future__ import annotations

import asyncio

from lotusx.transport import WsRpc
from tests.transport.test_ws_rpc_review29 import Codec, Sockets, answered, rest


async def test_a_connection_left_on_the_venues_notice_is_told_as_retired() -> None:
    """After a shutdown notice the next call opens a new connection; the old one ends as ``retired``."""
    reasons: list[str] = []
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), ended=reasons.append)
    assert (await answered(rpc, sockets)).status == 200
    sockets.made[0].feed('{"shutdown": true}')
    await asyncio.sleep(0.01)
    assert (await answered(rpc, sockets, on=1)).status == 200
    assert reasons == ["retired"]
    await rpc.aclose()


async def test_a_connection_past_its_age_is_told_as_retired() -> None:
    """Past ``max_age`` the next call moves to a new connection; the old one ends as ``retired``."""
    reasons: list[str] = []
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), max_age=0.05, ended=reasons.append)
    assert (await answered(rpc, sockets)).status == 200
    await asyncio.sleep(0.06)
    assert (await answered(rpc, sockets, on=1)).status == 200
    assert reasons == ["retired"]
    await rpc.aclose()

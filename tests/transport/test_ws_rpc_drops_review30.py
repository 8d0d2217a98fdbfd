"""WsRpc: a frame the codec says drops the connection (Binance's revoked session) ends it at once.

The calls in flight on it may or may not have run: Disconnected(sent=True). The next call opens a
new connection, which logs in again.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import Disconnected
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.testing import FakeTransport
from lotusx.testing.ws import FakeWs
from lotusx.transport import Handshake, WsRpc

OVER_WS = Endpoint("over_ws", "POST", "/order")
LOGIN, ACCEPTED, REVOKED = '{"login": true}', '{"login": "ok"}', '{"revoked": true}'


class Codec:
    """Takes OVER_WS requests as ``{"id"}``; ``{"revoked": true}`` drops the connection."""

    def encode(self, request: Request, request_id: int) -> str | None:
        return orjson.dumps({"id": request_id}).decode()

    def decode(self, data: str | bytes) -> tuple[int, Response] | None:
        answer = orjson.loads(data)
        return (answer["id"], Response(status=200, body=b"ok")) if "id" in answer else None

    def retires(self, data: str | bytes) -> bool:
        return False

    def drops(self, data: str | bytes) -> bool:
        return bool(orjson.loads(data).get("revoked"))

    def ping(self) -> str | None:
        return None


class Sockets:
    """A new FakeWs per connection, each answering the login at once."""

    def __init__(self) -> None:
        self.made: list[FakeWs] = []

    def __call__(self) -> FakeWs:
        ws = FakeWs([ACCEPTED])
        self.made.append(ws)
        return ws


def rest() -> FakeTransport:
    """The REST fallback (no call here goes there)."""
    return FakeTransport(lambda request: Response(status=200, body=b"rest"))


def login() -> Handshake:
    return Handshake(lambda: LOGIN, lambda data: True if orjson.loads(data).get("login") == "ok" else None)


async def calls_sent(sockets: Sockets, count: int, *, on: int = 0) -> list[dict[str, object]]:
    """The call frames (not the login) written on socket ``on``, once there are ``count``."""
    for _ in range(200):
        if len(sockets.made) > on:
            frames = [orjson.loads(text) for text in sockets.made[on].sent if text != LOGIN]
            if len(frames) >= count:
                return frames
        await asyncio.sleep(0)
    raise AssertionError(f"{count} calls not sent on {sockets.made}")


def order() -> Request:
    return Request(method="POST", path="/order", endpoint=OVER_WS)


async def test_a_dropping_frame_fails_the_calls_in_flight_as_sent() -> None:
    """Both calls waiting when the venue revokes the session: Disconnected(sent=True), not a Timeout."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=5.0, login=login())
    calls = [asyncio.ensure_future(rpc(order())) for _ in range(2)]
    await calls_sent(sockets, 2)
    sockets.made[0].feed(REVOKED)
    for call in calls:
        with pytest.raises(Disconnected) as raised:
            await asyncio.wait_for(call, 1.0)
        assert raised.value.sent is True
    await rpc.aclose()


async def test_after_a_dropping_frame_the_next_call_logs_in_on_a_new_connection() -> None:
    """The dropped socket is closed; the next call opens another, whose login goes first."""
    reasons: list[str] = []
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=5.0, login=login(), ended=reasons.append)
    first = asyncio.ensure_future(rpc(order()))
    await calls_sent(sockets, 1)
    sockets.made[0].feed(REVOKED)
    with pytest.raises(Disconnected):
        await first
    second = asyncio.ensure_future(rpc(order()))
    [frame] = await calls_sent(sockets, 1, on=1)
    sockets.made[1].feed(orjson.dumps({"id": frame["id"]}).decode())
    assert (await second).status == 200
    assert (sockets.made[0].connected, sockets.made[1].sent[0], reasons) == (False, LOGIN, ["dropped"])
    await rpc.aclose()

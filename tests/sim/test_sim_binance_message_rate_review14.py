"""Binance sim: "WebSocket connections have a limit of 5 incoming messages per second" (web-socket-streams.md).

"A connection that goes beyond the limit will be disconnected": a client whose own pacing is
wrong finds out on the sim, not on the venue (where repeated disconnects may ban the IP).
"""

from __future__ import annotations

import aiohttp
from sim_helpers import next_json

from lotusx.sim import Sim


def listing(request_id: int) -> dict[str, object]:
    return {"method": "LIST_SUBSCRIPTIONS", "id": request_id}


async def test_five_control_messages_in_a_second_are_all_answered(sim: Sim, http: aiohttp.ClientSession) -> None:
    """Five requests sent at once stay within the limit: five answers, the connection stays open."""
    async with http.ws_connect(sim.ws_url("binance") + "/stream") as ws:
        for request_id in range(1, 6):
            await ws.send_json(listing(request_id))
        answers = [(await next_json(ws))["id"] for _ in range(5)]
        assert (answers, ws.closed) == ([1, 2, 3, 4, 5], False)


async def test_a_sixth_control_message_within_a_second_disconnects(sim: Sim, http: aiohttp.ClientSession) -> None:
    """One message over the limit and the venue closes the connection."""
    async with http.ws_connect(sim.ws_url("binance") + "/stream") as ws:
        for request_id in range(1, 7):
            await ws.send_json(listing(request_id))
        for _ in range(50):  # the answers (and the sim's pings) before the close, then the close itself
            message = await ws.receive(timeout=2.0)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_ping_frames_count_toward_the_limit(sim: Sim, http: aiohttp.ClientSession) -> None:
    """PING frames are messages too: six in a second disconnect."""
    async with http.ws_connect(sim.ws_url("binance") + "/stream", autoping=False) as ws:
        for _ in range(6):
            await ws.ping(b"")
        for _ in range(50):
            message = await ws.receive(timeout=2.0)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)

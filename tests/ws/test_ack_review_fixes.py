"""Acks, request ids and outbound rate on the subscription path: each answer confirms only its own request."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import StreamError
from tests.ws.test_reconnect import VenueWs, make, until

pytestmark = pytest.mark.timeout(30)


def ack(request_id: int) -> str:
    return orjson.dumps({"result": None, "id": request_id}).decode()


def sent_ids(venue: VenueWs, method: str = "SUBSCRIBE") -> list[int]:
    return [m["id"] for m in map(orjson.loads, venue.sent) if m.get("method") == method]


class TestStaleAck:
    async def test_late_ack_of_an_earlier_subscribe_does_not_confirm_a_new_one(self) -> None:
        """The ack of a subscribe unsubscribed before its answer leaves the stream's next subscribe waiting."""
        venue = VenueWs(silent=True)
        async with make(venue, ack_timeout=600, subscribe_timeout=600) as ws:
            await until(lambda: venue.connected)
            first = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: len(sent_ids(venue)) == 1)
            await ws.unsubscribe(["a"])
            with pytest.raises(StreamError):
                await first
            second = asyncio.create_task(ws.subscribe(["a"]))
            await until(lambda: len(sent_ids(venue)) == 2)
            venue.feed(ack(sent_ids(venue)[0]))
            await asyncio.sleep(0.05)
            assert not second.done()  # only the answer to its own request confirms it
            venue.feed(ack(sent_ids(venue)[1]))
            await asyncio.wait_for(second, 1)


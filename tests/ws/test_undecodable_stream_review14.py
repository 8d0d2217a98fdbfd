"""subscribe() with a stream name that is not text is refused; the connection and its other streams serve on."""

from __future__ import annotations

import asyncio

import pytest

from lotusx import ConfigError
from tests.ws.test_reconnect import VenueWs, make, subscribes, until

pytestmark = pytest.mark.timeout(30)

UNDECODABLE = b"btc\xffusdt@trade".decode("utf-8", "surrogateescape")


async def test_a_stream_name_that_is_not_text_is_a_config_error_and_the_shard_lives() -> None:
    """ConfigError from subscribe(), nothing sent or held; a later subscribe on the same connection works."""
    venue = VenueWs()
    async with make(venue) as ws:
        await until(lambda: venue.connected)
        with pytest.raises(ConfigError, match="stream"):
            await asyncio.wait_for(ws.subscribe([UNDECODABLE]), 5)
        await asyncio.wait_for(ws.subscribe(["b"]), 5)
        assert (subscribes(venue), venue.connects, ws.stats.streams) == ([["b"]], 1, 1)

"""run(handler) takes a plain function: an async one would have each message's coroutine dropped unawaited."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from lotusx.kernel.errors import ConfigError
from tests.ws.test_reconnect import VenueWs, data, make, next_of


async def on_message(message: Any) -> None:
    """A handler written as a coroutine function: called by the reader, it would only make a coroutine."""


class AsyncHandler:
    async def __call__(self, message: Any) -> None:
        """An object whose call is a coroutine."""


class TestRunRefusesAsyncHandlers:
    @pytest.mark.parametrize("handler", [on_message, functools.partial(on_message), AsyncHandler()])
    async def test_an_async_handler_is_a_config_error(self, handler: Any) -> None:
        """run(async_handler) raises ConfigError at once; before, every message was lost to an unawaited coroutine."""
        venue = VenueWs()
        async with make(venue) as ws:
            await ws.subscribe(["a"])
            with pytest.raises(ConfigError, match="async"):
                await asyncio.wait_for(ws.run(handler), 2)
            venue.feed(data("a", 1))
            assert await next_of(ws) == {"stream": "a", "u": 1}  # nothing taken: still readable

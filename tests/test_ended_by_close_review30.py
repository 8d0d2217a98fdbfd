"""Parts.ended_by_close: a watch's failure ends it quietly only once its connector is closed."""

from __future__ import annotations

import pytest

import lotusx
from lotusx import Response, ServerError
from lotusx.testing import FakeClock, FakeTransport


def connector() -> lotusx.connect:
    return lotusx.connect("binance", transport=FakeTransport(lambda request: Response(status=200, body=b"{}")),
                          clock=FakeClock())


async def test_a_failure_while_the_connector_is_open_is_raised() -> None:
    """Open, the watch's error reaches its consumer."""
    async with connector() as ex:
        with pytest.raises(ServerError, match="down"):
            async with ex.parts.ended_by_close():
                raise ServerError("down")


async def test_a_failure_after_the_close_ends_the_block() -> None:
    """Entered open, closed inside: the error the close caused (its REST client refusing) ends the block quietly."""
    ex = await connector().__aenter__()
    async with ex.parts.ended_by_close():
        await ex.aclose()
        await ex.parts.rest.get("/api/v3/time", endpoint="time")
    assert ex.parts.rest.closed


async def test_a_block_begun_on_a_closed_connector_still_raises() -> None:
    """Entered after the close, the error is the caller's mistake, raised: a watch started too late."""
    async with connector() as ex:
        pass
    with pytest.raises(lotusx.ConfigError, match="closed"):
        async with ex.parts.ended_by_close():
            await ex.parts.rest.get("/api/v3/time", endpoint="time")

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
    """Closed, the same error (its REST client refusing, say) ends the block without a raise."""
    async with connector() as ex:
        pass
    async with ex.parts.ended_by_close():
        await ex.parts.rest.get("/api/v3/time", endpoint="time")
    assert ex.parts.rest.closed

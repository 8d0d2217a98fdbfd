"""RawStream: the raw subscribe/stream escape hatch shared by connectors."""

from __future__ import annotations

import asyncio

import pytest

from lotusx import ConfigError
from lotusx.testing import FakeWs
from lotusx.ws import RawStream, ReconnectWs


async def test_stream_before_subscribe_is_a_config_error() -> None:
    """Asking for the stream before subscribing anything is a clear error, not a hang."""
    raw = RawStream(lambda: ReconnectWs(FakeWs))
    with pytest.raises(ConfigError, match="subscribe"):
        await anext(raw.stream())
    await raw.aclose()


async def test_subscribe_opens_once_and_aclose_closes() -> None:
    """The connection is opened by the first subscribe only and closed by aclose."""
    opened: list[ReconnectWs] = []

    def open_ws() -> ReconnectWs:
        opened.append(ReconnectWs(lambda: FakeWs(['{"a": 1}'])))
        return opened[-1]

    raw = RawStream(open_ws)
    await raw.subscribe([])
    await raw.subscribe([])
    assert len(opened) == 1 and "open=True" in repr(raw)
    assert await anext(raw.stream()) == {"a": 1}
    await raw.aclose()
    assert "open=False" in repr(raw)


async def test_the_stream_can_push_to_a_handler() -> None:
    """stream() is the shared ReconnectWs: its run(handler) hands each subscribed message to a function."""
    got: list[object] = []
    raw = RawStream(lambda: ReconnectWs(lambda: FakeWs(['{"a": 1}', '{"a": 2}'])))
    await raw.subscribe([])
    runner = asyncio.create_task(raw.stream().run(got.append))
    for _ in range(50):
        if len(got) == 2:
            break
        await asyncio.sleep(0)
    assert got == [{"a": 1}, {"a": 2}]
    await raw.aclose()
    await asyncio.wait_for(runner, 1)

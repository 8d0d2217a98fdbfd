"""``RawStream``: the connectors' raw ``subscribe(streams)`` / ``stream()`` escape hatch."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lotusx.kernel.errors import ConfigError
from lotusx.ws.reconnect import ReconnectWs


class RawStream:
    """One ``ReconnectWs``, opened on the first ``subscribe``, shared by later calls."""

    def __init__(self, open_ws: Callable[[], ReconnectWs]) -> None:
        self._open_ws = open_ws
        self._ws: ReconnectWs | None = None

    async def subscribe(self, streams: Sequence[str]) -> None:
        """Subscribe venue stream names (opening the connection the first time)."""
        if self._ws is None:
            ws = self._open_ws()
            await ws.__aenter__()
            self._ws = ws
        await self._ws.subscribe(list(streams))

    def stream(self) -> ReconnectWs:
        """The shared stream: ``async for`` its decoded messages and reconnects' ``Gap``/``Resumed``/``Lost``
        markers, or hand each to a function with its :meth:`~lotusx.ws.ReconnectWs.run`."""
        if self._ws is None:
            raise ConfigError("call subscribe() before stream()")
        return self._ws

    async def aclose(self) -> None:
        """Close the connection, if one was opened."""
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.__aexit__(None, None, None)

    def __repr__(self) -> str:
        return f"RawStream(open={self._ws is not None})"

"""Bybit's Disconnection Protection (DCP): the venue's dead man's switch, per account and product.

docs/v5/order/dcp.mdx: "The timing starts from the first disconnection. If the Bybit server does
not receive the reconnection from the client for more than 10 (default) seconds ..., all active
futures / spot / option orders of the client will be cancelled automatically. If within 10
seconds, the client reconnects ..., the timing will be reset and restarted at the next
disconnection." docs/v5/websocket/private/dcp.mdx: only private connections subscribing the
``dcp`` topic count, and DCP triggers when all of them are dead.

Simplifications: a connection is back once it subscribes the topic again (the venue also waits
for its first ping); an unsubscribe lets go of the topic without starting the window (the docs do
not say); every account has DCP switched on for every product (the venue needs the account
manager), with the docs' default window of 10 s. Options orders: the sim has no options.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lotusx.sim.venue import Venue

TOPICS = {"dcp.spot": "SPOT", "dcp.future": "DERIVATIVES", "dcp.option": "OPTIONS"}
"""The private topics (docs/v5/websocket/private/dcp.mdx) and the product each arms."""
PRODUCTS = ("OPTIONS", "DERIVATIVES", "SPOT")
"""POST /v5/order/disconnected-cancel-all ``product``: OPTIONS when left out (docs/v5/order/dcp.mdx)."""
CATEGORIES = {"SPOT": ("spot",), "DERIVATIVES": ("linear",), "OPTIONS": ()}
"""The sim's categories whose orders a product's DCP cancels."""
WINDOW = (3, 300)
"""``timeWindow`` bounds in seconds (docs/v5/order/dcp.mdx)."""
DEFAULT_WINDOW = 10
"""docs/v5/account/dcp-info.mdx: "Between [3, 300] seconds, default: 10 sec"."""

Key = tuple[str, str]  # (account, product)


class Dcp:
    """Windows, the connections holding each ``dcp`` topic, and the windows running; timed on the venue's clock."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.windows: dict[Key, int] = {}
        self._held: Counter[Key] = Counter()
        self._timers: dict[Key, asyncio.Task[None]] = {}

    def window(self, account: str, product: str) -> int:
        """The window of ``account``'s ``product`` in seconds."""
        return self.windows.get((account, product), DEFAULT_WINDOW)

    def held(self, account: str, product: str) -> int:
        """How many live connections of ``account`` hold ``product``'s topic."""
        return self._held[(account, product)]

    def pending(self, account: str, product: str) -> bool:
        """Whether ``account``'s ``product`` window is running: every holder gone, none back yet."""
        return (account, product) in self._timers

    def hold(self, account: str, product: str) -> None:
        """A connection subscribed the topic: the window, if running, is reset."""
        key = (account, product)
        self._held[key] += 1
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def release(self, account: str, product: str, *, dropped: bool) -> None:
        """A holder let go of the topic; ``dropped`` (its connection gone) starts the window if it was the last."""
        key = (account, product)
        self._held[key] -= 1
        if dropped and self._held[key] == 0 and key not in self._timers:
            self._timers[key] = asyncio.create_task(self._expire(key))

    async def _expire(self, key: Key) -> None:
        await self.venue.clock.sleep(self.window(*key))
        del self._timers[key]
        account, product = key
        for category in CATEGORIES[product]:
            engine = self.venue.engines[category]
            for order in engine.open_orders(account):
                engine.cancel(account, order.symbol, order.order_id)  # streamed as any cancel

    def stop(self) -> None:
        """Cancel the running windows (the sim is shutting down)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

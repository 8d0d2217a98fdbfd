"""Order updates that survive a dropped user stream: nothing the stream missed is lost.

Places a resting buy on the embedded simulator and follows it with ``watch_orders()``. Then the
simulator drops the user-stream socket right after sending one fill, while a second fill
completes the order: that last update is never streamed. Once the stream is back, the
connector asks the venue (``get_open_orders``, ``get_order_history`` from the gap on, and
``get_order`` for what neither lists) and reports the order FILLED.
Ends by itself.

    python examples/order_stream.py
"""

from __future__ import annotations

import asyncio
import logging
import sys
from decimal import Decimal

import structlog

import lotusx
from lotusx.sim import SimConfig, serve
from lotusx.sim.venue import MAKER

SYMBOL = "BTCUSDT"


async def main() -> None:
    # No random market maker: the only trades are the two fills this script makes.
    async with serve(venues=("binance",), seed=11, config=SimConfig(driver_rate=0)) as sim:
        keys, engine, chaos = sim.api_keys("binance"), sim.engine("binance"), sim.chaos("binance")
        credentials = lotusx.Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret)
        async with lotusx.connect("binance", credentials=credentials, rest_url=sim.rest_url("binance"),
                                  ws_url=sim.ws_url("binance"), ws_api_url=sim.ws_url("binance")) as ex:
            updates: asyncio.Queue[lotusx.Order] = asyncio.Queue()

            async def follow() -> None:
                async for order in ex.watch_orders():
                    updates.put_nowait(order)

            watcher = asyncio.create_task(follow())
            try:
                print("following the user stream ...")
                await asyncio.sleep(0.5)  # the user stream connects
                book = engine.books[SYMBOL]
                price = book.prices("BUY")[0] + Decimal("0.01")  # inside the spread: first in line
                placed = await ex.place_order(lotusx.NewOrder(
                    symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.005"),
                    price=price, client_order_id="example-1"))
                print(f"placed   {placed.client_order_id} BUY 0.005 @ {price}")
                await show(updates, placed.order_id, "NEW")

                chaos.drop_ws_once = 1  # the next user event goes out, then the socket closes (once)
                engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=Decimal("0.002"), price=price, tif="IOC")
                engine.place(MAKER, SYMBOL, "SELL", "LIMIT", quantity=Decimal("0.003"), price=price, tif="IOC")
                print("filled   0.002 (streamed), then 0.003 (while the user stream is down)")
                await show(updates, placed.order_id, "FILLED")
                reconnects = ex.metrics.registry.get_sample_value(
                    "lotusx_ws_reconnects_total", {"exchange": "binance", "reason": "server_close"})
                print(f"user stream reconnects: {reconnects:.0f}; the FILLED update came from the venue's REST answer")
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)


async def show(updates: asyncio.Queue[lotusx.Order], order_id: str, until: str) -> None:
    """Print the order's updates as they come, until its status is ``until`` (at most 10 s)."""
    while True:
        order = await asyncio.wait_for(updates.get(), 10)
        if order.order_id == order_id:
            print(f"  update {order.status:<17} filled {order.filled_quantity:f}")
            if order.status == until:
                return


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C: the connector and the simulator were closed on the way out
        sys.exit(130)

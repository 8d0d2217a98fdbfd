"""A long-running sim: its open orders are listed from an index, and its closed ones are kept bounded."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from lotusx.kernel.errors import NotFound
from lotusx.sim.engine import CLOSED_KEPT, Engine, Market

BTC = Market("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.001"), D(100))


def engine(kept: int = CLOSED_KEPT) -> Engine:
    """An engine whose maker account can rest bids, keeping ``kept`` closed orders per account."""
    e = Engine([BTC], lambda: 1_000)
    e.closed_kept = kept
    e.deposit("maker", "USDT", D(10**9))
    e.deposit("user", "USDT", D(10**9))
    return e


def close_many(e: Engine, account: str, count: int) -> None:
    """``count`` IOC orders that find nothing to take: each closes at once, EXPIRED."""
    for n in range(count):
        e.place(account, "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(50), tif="IOC", client_id=f"ioc-{n}")


def test_open_orders_are_the_resting_ones_oldest_first_after_much_history() -> None:
    """open_orders() lists exactly the resting orders, oldest first, however many closed since."""
    e = engine()
    first = e.place("maker", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(50))
    close_many(e, "maker", 300)
    second = e.place("maker", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(49))
    e.cancel("maker", "BTCUSDT", order_id=first.order_id)
    third = e.place("maker", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(48))
    assert e.open_orders("maker", "BTCUSDT") == [second, third]


def test_closed_orders_kept_are_the_newest_per_account() -> None:
    """Past closed_kept, the oldest closed order is forgotten: NotFound, its client id free again."""
    e = engine(kept=100)
    resting = e.place("maker", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(50), client_id="rest")
    close_many(e, "maker", 250)
    assert len(e.orders_of("maker")) == 101  # the resting one and the 100 newest closed
    with pytest.raises(NotFound):
        e.find("maker", "BTCUSDT", client_id="ioc-149")
    assert e.find("maker", "BTCUSDT", client_id="ioc-150").status == "EXPIRED"
    assert e.find("maker", "BTCUSDT", order_id=resting.order_id) is resting
    e.place("maker", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(50), tif="IOC", client_id="ioc-0")


def test_one_accounts_history_does_not_push_out_anothers() -> None:
    """The bound is per account: the market maker's closing orders never evict the user's."""
    e = engine(kept=10)
    mine = e.place("user", "BTCUSDT", "BUY", "LIMIT", quantity=D(1), price=D(50), tif="IOC", client_id="mine")
    close_many(e, "maker", 50)
    assert e.find("user", "BTCUSDT", client_id="mine") is mine

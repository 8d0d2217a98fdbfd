"""follow_orders / follow_balances and a Lost marker: the account stream the venue refused is an error, not a wait."""

from __future__ import annotations

import pytest

from lotusx.kernel.errors import SubscriptionRejected
from lotusx.ws import Gap, Lost
from tests.test_account import Venue, balance, balances, follow, order

LOST = Lost("order", "Request not authorized", 2.0, 0)


async def test_a_lost_order_stream_ends_follow_orders_with_subscription_rejected() -> None:
    """Gap then Lost: SubscriptionRejected naming the stream, and no REST catch-up for a stream that is gone."""
    venue = Venue()
    with pytest.raises(SubscriptionRejected, match=r"'order'.*Request not authorized"):
        await follow(venue, order("1"), Gap("test", 1.0), LOST)
    assert venue.asked == []


async def test_a_lost_wallet_stream_ends_follow_balances_with_subscription_rejected() -> None:
    """Gap then Lost: SubscriptionRejected naming the stream, and the account is not fetched."""
    wallet = Lost("wallet", "Request not authorized", 2.0, 0)
    with pytest.raises(SubscriptionRejected, match="'wallet'"):
        await balances({"BTC": balance("BTC", "1")}, Gap("test", 1.0), wallet)

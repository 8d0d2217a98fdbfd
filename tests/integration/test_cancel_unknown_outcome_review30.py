"""A cancel that went through, its answer lost and every retry then refused with 503, reports the cancelled order."""

from __future__ import annotations

from decimal import Decimal

import pytest

import lotusx
from lotusx import Credentials, NewOrder, Request, Response, Service, around
from lotusx.sim import serve
from lotusx.sim.venue import USER

SYMBOL = "BTCUSDT"
pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_a_cancel_done_at_its_first_attempt_then_throttled_by_5xx_reports_the_order_cancelled(
        venue: str) -> None:
    """First attempt executed and its answer lost, the retries all 503: the order is read and found CANCELED."""
    async with serve(venues=(venue,)) as sim:
        keys, chaos = sim.api_keys(venue), sim.chaos(venue)
        cancels: list[str] = []

        async def venue_mood(request: Request, call_next: Service) -> Response:
            """The sim's chaos per wire attempt: the cancel's first is carried out unanswered, the next ones 503."""
            cancelling = request.endpoint.name in ("cancel_order", "order_cancel")
            if cancelling:
                cancels.append(request.endpoint.name)
            chaos.lose_answer_rate = 1.0 if cancelling and len(cancels) == 1 else 0.0
            chaos.error_rate = 1.0 if cancelling and len(cancels) > 1 else 0.0
            return await call_next(request)

        async with lotusx.connect(venue, credentials=Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue),
                                  inner=[around(venue_mood)]) as ex:
            placed = await ex.place_order(NewOrder(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                                   quantity=Decimal("0.001"), price=Decimal(40_000)))
            cancelled = await ex.cancel_order(SYMBOL, order_id=placed.order_id)
        assert (cancelled.order_id, cancelled.status) == (placed.order_id, "CANCELED")
        assert len(cancels) > 2  # answer lost, then retried into 5xx until Retry gave up
        held = [o for o in sim.engine(venue).orders_of(USER, SYMBOL) if o.client_id == placed.client_order_id]
        assert [o.status for o in held] == ["CANCELED"]


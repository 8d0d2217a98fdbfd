"""Bybit v5, declared: URLs, pools, usage headers, error map, signer choice, reconcile query, endpoints.

``lotusx.connect("bybit", ...)`` trades spot; ``lotusx.connect("bybit-linear", ...)`` USDT
perpetuals. Both share the IP pool's storage key (``name="bybit"``), as Bybit counts one IP
budget for every category. Facts from https://bybit-exchange.github.io/docs/v5.
"""

from __future__ import annotations

import dataclasses
import functools

import msgspec
import orjson

from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.connector import Bybit, server_time
from lotusx.exchanges.bybit.endpoints import ENDPOINTS, LIMITS, LINEAR, SPOT, USAGE, Category
from lotusx.exchanges.bybit.errors import classify
from lotusx.exchanges.bybit.schemas import Envelope, OrderRow, Rows
from lotusx.exchanges.bybit.ws_trade import WS_TRADING
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.ids import client_order_id
from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service
from lotusx.signers import BybitHmac, HeaderHmac
from lotusx.venue import Venue

_orders = msgspec.json.Decoder(Envelope[Rows[OrderRow]]).decode


async def reconcile(signed: Service, placed: Request) -> Response | None:
    """After an ambiguous placement: the order found by its orderLinkId, or ``None`` if absent.

    GET /v5/order/realtime by ``orderLinkId`` finds open and recently closed orders, but after a
    venue restart no closed ones (docs v5/order/open-order): only then is GET /v5/order/history
    asked, so that a filled order is never taken for absent and placed again.
    """
    body = orjson.loads(placed.body or b"{}")
    link_id = str(placed.ext["client_order_id"])
    query = (("category", str(body["category"])), ("symbol", str(body["symbol"])), ("orderLinkId", link_id))
    for endpoint in (ep.ORDER_REALTIME, ep.ORDER_HISTORY):
        response = await signed(Request(method="GET", path=endpoint.path, query=query, endpoint=endpoint))
        if any(row.orderLinkId == link_id for row in _orders(response.body).result.rows):
            return response
    return None


def signer(credentials: Credentials) -> HeaderHmac:
    """The v5 header signer for system-generated (HMAC) keys."""
    return BybitHmac(credentials.api_key, credentials.hmac_secret())


VENUE = Venue(
    name="bybit",
    rest_url="https://api.bybit.com",
    ws_url="wss://stream.bybit.com",
    ws_api_url="wss://stream.bybit.com",  # the trade WS's host, as the streams' (guideline.mdx "URL")
    pools=LIMITS["spot"],
    endpoints=ENDPOINTS["spot"],
    usage=USAGE,
    classify=classify,
    signer=signer,
    server_time=server_time,
    reconcile=reconcile,
    connector=Bybit,
    ws_trading=WS_TRADING,
)
VENUE_LINEAR = dataclasses.replace(VENUE, pools=LIMITS["linear"], endpoints=ENDPOINTS["linear"],
                                   connector=functools.partial(Bybit, category=LINEAR))

__all__ = ["LIMITS", "LINEAR", "SPOT", "VENUE", "VENUE_LINEAR", "Bybit", "BybitHmac", "Category", "client_order_id",
           "reconcile", "server_time", "signer"]

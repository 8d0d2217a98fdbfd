"""Binance spot, declared: URLs, pools, usage headers, error map, signer choice, reconcile query, endpoints.

``lotusx.connect("binance", ...)`` builds it; ``VENUE`` is the declaration and ``Binance`` the
public API. Facts from https://developers.binance.com/docs/binance-spot-api-docs.
"""

from __future__ import annotations

from lotusx.exchanges.binance import endpoints as ep
from lotusx.exchanges.binance.connector import Binance
from lotusx.exchanges.binance.endpoints import LIMITS, USAGE
from lotusx.exchanges.binance.errors import classify
from lotusx.exchanges.binance.schemas import ServerTime
from lotusx.exchanges.binance.ws_api import PATH, Codec, WsApiSigner, login, logs_on
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.ids import client_order_id
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import Clock
from lotusx.kernel.service import Service
from lotusx.signers import BinanceEd25519, BinanceHmac, QueryEd25519, QueryHmac, binance_signer
from lotusx.transport.ws_rpc import Handshake
from lotusx.venue import Venue, WsTrading

# Sent explicitly so the window is visible on the wire and in tests; 5000 ms is the venue's default
# and its advice ("It is recommended to use a small recvWindow of 5000 or less", rest-api.md "Timing security").
RECV_WINDOW = 5000


def signer(credentials: Credentials) -> QueryHmac | QueryEd25519:
    """The signer for ``credentials`` (Ed25519 for a PEM secret, else HMAC) with ``RECV_WINDOW``."""
    return binance_signer(credentials, recv_window=RECV_WINDOW)


def ws_api_signer(credentials: Credentials) -> WsApiSigner:
    """:func:`signer`, signing the calls that go over the WebSocket API its way (``ws_trading=True``).

    An Ed25519 key's connections are logged on (:func:`ws_api_login`): its calls are not signed one by one.
    """
    rest = signer(credentials)
    return WsApiSigner(rest, logged_on=logs_on(rest))


def ws_api_login(credentials: Credentials, clock: Clock) -> Handshake | None:
    """Each WebSocket API connection's ``session.logon`` for an Ed25519 key (None for HMAC), with ``RECV_WINDOW``."""
    return login(signer(credentials), clock)


async def server_time(call: Service) -> int:
    """GET /api/v3/time on an unlayered service: the clock sync's sample."""
    response = await call(Request(method="GET", path=ep.TIME.path, endpoint=ep.TIME))
    return response.decode(ServerTime).serverTime  # a garbled answer is a DecodeError, like any other


async def reconcile(signed: Service, placed: Request) -> Response | None:
    """After an ambiguous placement: the order queried by its client id; ``NotFound`` if not there (yet).

    Never ``None`` ("absent, re-send it"): Binance refuses a client id again only while its order is
    open ("Orders with the same newClientOrderID can be accepted only when the previous one is
    filled", rest-api.md POST /api/v3/order). An order still in the venue's backend (-1007 "execution
    status unknown") that fills after this query would be executed a second time by the re-send, so
    Retry ends in ``AmbiguousOrderState`` instead.
    """
    symbol = dict(placed.query)["symbol"]
    query = (("symbol", symbol), ("origClientOrderId", str(placed.ext["client_order_id"])))
    return await signed(Request(method="GET", path=ep.GET_ORDER.path, query=query, endpoint=ep.GET_ORDER))


VENUE = Venue(
    name="binance",
    rest_url="https://api.binance.com",
    ws_url="wss://stream.binance.com:9443",
    # The user data stream's home since the listen keys' end on 2026-02-20 (CHANGELOG.md, 2026-01-21).
    ws_api_url="wss://ws-api.binance.com:443",
    # One connection attempt is charged as a user data stream's (web-socket-api.md "Connection limits"),
    # with its session.logon's weight when it logs on.
    ws_trading=WsTrading(PATH, Codec, ws_api_signer, ep.WS_API_CONNECT, login=ws_api_login,
                         login_connect=ep.WS_API_CONNECT_LOGON),
    pools=LIMITS,
    endpoints=ep.ENDPOINTS,
    usage=USAGE,
    classify=classify,
    signer=signer,
    server_time=server_time,
    reconcile=reconcile,
    connector=Binance,
)

__all__ = ["LIMITS", "VENUE", "Binance", "BinanceEd25519", "BinanceHmac", "binance_signer", "client_order_id"]

"""Binance trading over the WebSocket API: which calls go there, how they are signed, what an answer means.

``lotusx.connect("binance", ws_trading=True)`` sends the order calls below over one
``/ws-api/v3`` socket (:class:`lotusx.transport.WsRpc`) instead of one HTTP request each; every
other call stays on REST. The connector does not change: the same requests go through the same
layers, and this module is the decision the mechanism needs (web-socket-api.md):

- a request is ``{"id", "method", "params"}``; a SIGNED one carries ``apiKey``, ``timestamp``
  (and ``recvWindow``) among its params, and ``signature`` over all the others sorted by name
  as ``key=value`` joined by ``&`` ("SIGNED request security");
- with an Ed25519 key, each connection logs on once with ``session.logon`` (:func:`login`), and
  its calls then carry ``timestamp`` and ``recvWindow`` only: "you can omit ``apiKey`` and
  ``signature``", "You still have to specify the ``timestamp``" ("Session Authentication"; "Only
  Ed25519 keys are supported for this feature": HMAC and RSA keys sign each call);
- a key revoked during such a session ends it: "after the next request the session will be
  revoked" with ``{"id": null, "status": 401, "error": {"code": -2015}}`` ("Regarding API key
  revocation"). That frame :meth:`Codec.drops` the connection: the calls in flight on it may or
  may not have run, and the next call logs on again on a new one (a key truly invalid is then
  refused there, typed);
- an answer is ``{"id", "status", "result" | "error", "rateLimits"}``, with "the same status and
  error codes" as REST: it becomes the ``Response`` REST would have given (the result or the
  error object as its body), so the venue's classifier and schemas read it unchanged;
- ``rateLimits`` become the ``X-MBX-USED-WEIGHT-*`` and ``X-MBX-ORDER-COUNT-*`` headers REST
  sends, so ``RateLimit`` learns from them as from REST; a 429 or 418 says when to come back
  in ``error.data.retryAfter`` (epoch ms beside ``serverTime``): a ``Retry-After`` header.

The weights are REST's: each method's documented weight is its REST endpoint's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from lotusx.exchanges.binance import endpoints as ep
from lotusx.exchanges.binance.errors import ws_api_error
from lotusx.exchanges.binance.schemas import ApiError, ServerShutdown
from lotusx.kernel.errors import LotusXError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import Clock
from lotusx.signers import QueryEd25519, QueryHmac
from lotusx.signers.query import stamped_query
from lotusx.transport.ws_rpc import Handshake

PATH = "/ws-api/v3"  # appended to the WebSocket API's base URL (web-socket-api.md "General API Information")

# Endpoint name -> WebSocket API method (web-socket-api.md "Trading requests", "Account requests").
METHODS = {
    ep.PLACE_ORDER.name: "order.place",
    ep.CANCEL_ORDER.name: "order.cancel",
    ep.CANCEL_REPLACE.name: "order.cancelReplace",
    ep.AMEND_KEEP_PRIORITY.name: "order.amend.keepPriority",
    ep.CANCEL_ALL.name: "openOrders.cancelAll",
    ep.GET_ORDER.name: "order.status",
    ep.OPEN_ORDERS.name: "openOrders.status",
    ep.ALL_OPEN_ORDERS.name: "openOrders.status",
}
# Params the docs type INT: sent as JSON numbers (the signature reads the same digits either way).
_INTS = frozenset({"timestamp", "recvWindow", "orderId", "cancelOrderId"})
# rateLimits' interval -> the letter of REST's usage headers (X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S).
_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}
_HEADER = {"REQUEST_WEIGHT": "X-MBX-USED-WEIGHT-", "ORDERS": "X-MBX-ORDER-COUNT-"}


_LOGON = "session.logon"  # also the logon's request id: no call's (theirs are ints), so no answer is mistaken


def logs_on(rest: QueryHmac | QueryEd25519) -> bool:
    """Whether connections log on with this key: "Only Ed25519 keys are supported" ("Session Authentication")."""
    return isinstance(rest, QueryEd25519)


@dataclass(frozen=True)
class WsApiSigner:
    """Signs a call that goes over the WebSocket API its way, any other as REST (with ``rest``).

    ``logged_on``: the connection is authenticated by ``session.logon`` (:func:`login`), so a
    call carries its timestamp and recvWindow only, not apiKey and a signature of its own.
    """

    rest: QueryHmac | QueryEd25519
    logged_on: bool = False

    def sign(self, request: Request, timestamp_ms: int) -> Request:
        """``request`` with recvWindow and timestamp; unless logged on, apiKey too, sorted, then the signature."""
        rest = self.rest
        if request.endpoint.name not in METHODS:
            return rest.sign(request, timestamp_ms)
        if self.logged_on:
            return msgspec.structs.replace(request, query=stamped_query(
                request.query, timestamp_ms, recv_window=rest.recv_window, timestamp_param=rest.timestamp_param,
                recv_window_param=rest.recv_window_param))
        return msgspec.structs.replace(request, query=_signed(rest, request.query, timestamp_ms))


def _signed(rest: QueryHmac | QueryEd25519, query: tuple[tuple[str, str], ...],
            timestamp_ms: int) -> tuple[tuple[str, str], ...]:
    """``query`` with apiKey, recvWindow, timestamp, sorted by name, then the signature over them."""
    params = sorted(stamped_query((*query, ("apiKey", rest.api_key)), timestamp_ms, recv_window=rest.recv_window,
                                  timestamp_param=rest.timestamp_param, recv_window_param=rest.recv_window_param))
    signature = rest.signature("&".join([f"{name}={value}" for name, value in params]).encode())
    return (*params, (rest.signature_param, signature))


def login(rest: QueryHmac | QueryEd25519, clock: Clock) -> Handshake | None:
    """Each new connection's ``session.logon`` ("Log in with API key (SIGNED)") on the venue's ``clock``; HMAC: None.

    Its params are the signed call's, with nothing to sign but themselves: apiKey, recvWindow,
    timestamp, sorted, then the signature. The logon runs inside a call of a signed endpoint,
    after ``ClockSync`` made the clock fresh. A refusal is typed as the same code over REST
    (-1022 ``InvalidSignature``, -2014/-2015 ``AuthenticationError``, -1021
    ``TimestampOutOfWindow``), with the venue's message and none of what was sent.
    """
    if not logs_on(rest):
        return None

    def message() -> str:
        params = _params(_signed(rest, (), int(clock.time() * 1000)))
        return orjson.dumps({"id": _LOGON, "method": _LOGON, "params": params}).decode()

    def verdict(data: str | bytes) -> bool | LotusXError | None:
        try:
            answer = _answer.decode(data)
        except msgspec.DecodeError:
            return None
        if answer.id != _LOGON or answer.status is None:
            return None  # not the logon's answer (WsRpc waits for it within its timeout)
        if answer.status == 200:
            return True
        try:
            error = _refusal.decode(answer.error)
        except msgspec.DecodeError:
            return ws_api_error(_LOGON, answer.status, 0, "")
        return ws_api_error(_LOGON, answer.status, error.code, error.msg)

    return Handshake(message, verdict)


class _Limit(msgspec.Struct, frozen=True):
    rateLimitType: str
    interval: str
    intervalNum: int
    count: int


class _Answer(msgspec.Struct, frozen=True):
    id: int | str | None = None
    status: int | None = None
    # Kept as the bytes the venue sent (a Raw is not Optional in msgspec: empty when absent).
    result: msgspec.Raw = msgspec.Raw()
    error: msgspec.Raw = msgspec.Raw()
    rateLimits: list[_Limit] = []


class _Shutdown(msgspec.Struct, frozen=True):
    event: ServerShutdown  # any other event fails its tag: not a shutdown


_answer = msgspec.json.Decoder(_Answer)
_refusal = msgspec.json.Decoder(ApiError)
_shutdown = msgspec.json.Decoder(_Shutdown)


class Codec:
    """The :class:`~lotusx.transport.ws_rpc.RpcCodec` of ``/ws-api/v3``: the calls in :data:`METHODS`."""

    def encode(self, request: Request, request_id: int) -> str | None:
        """``{"id", "method", "params"}`` for a call in :data:`METHODS`, else ``None`` (it goes by REST)."""
        method = METHODS.get(request.endpoint.name)
        if method is None:
            return None
        return orjson.dumps({"id": request_id, "method": method, "params": _params(request.query)}).decode()

    def decode(self, data: str | bytes) -> tuple[int, Response] | None:
        """The answer to our request ``id`` as REST would have answered; ``None`` for any other frame."""
        try:
            answer = _answer.decode(data)
        except msgspec.DecodeError:
            return None  # not an answer (an event, a frame that is no JSON): nobody's call to end
        if type(answer.id) is not int or answer.status is None:
            return None
        headers = {f"{_HEADER[limit.rateLimitType]}{limit.intervalNum}{_LETTER[limit.interval]}": str(limit.count)
                   for limit in answer.rateLimits if limit.rateLimitType in _HEADER and limit.interval in _LETTER}
        body = answer.error or answer.result
        if answer.error and answer.status in (418, 429):
            wait = _retry_after(answer.error)
            if wait is not None:
                headers["Retry-After"] = str(wait)
        return answer.id, Response(status=answer.status, body=bytes(body), headers=headers)

    def retires(self, data: str | bytes) -> bool:
        """Whether the frame is the ``serverShutdown`` event (web-socket-api.md "Connection events")."""
        if b"serverShutdown" not in data if isinstance(data, bytes) else "serverShutdown" not in data:
            return False  # every answer is asked: one substring test, no second decode
        try:
            _shutdown.decode(data)
        except msgspec.DecodeError:
            return False
        return True

    def drops(self, data: str | bytes) -> bool:
        """Whether the frame is a revoked session's ``{"id": null, "status": 401}`` ("Regarding API key revocation")."""
        if b'"status":401' not in data if isinstance(data, bytes) else '"status":401' not in data:
            return False  # every answer is asked: one substring test, no second decode
        try:
            answer = _answer.decode(data)
        except msgspec.DecodeError:
            return False
        return answer.id is None and answer.status == 401

    def ping(self) -> None:
        """A protocol ping: the venue answers it with a pong (web-socket-api.md "General API Information")."""
        return None


def _params(query: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {name: int(value) if name in _INTS and value.isdigit() else value for name, value in query}


def _retry_after(error: msgspec.Raw) -> int | None:
    """Whole seconds until ``data.retryAfter``, from ``data.serverTime``: no clock skew enters it."""
    try:
        data = _refusal.decode(error).data
    except msgspec.DecodeError:
        return None
    if data is None or data.retryAfter is None or data.serverTime is None:
        return None
    return max(0, math.ceil((data.retryAfter - data.serverTime) / 1000))

"""Bybit trading over the WebSocket Trade API (``/v5/trade``): which calls go there, how, what an answer means.

``lotusx.connect("bybit", ws_trading=True)`` (or ``"bybit-linear"``) sends the order writes
below over one ``wss://stream.bybit.com/v5/trade`` socket (:class:`lotusx.transport.WsRpc`);
every other call stays on REST. The connector does not change: this module is the decision the
mechanism needs (docs/v5/websocket/trade/guideline.mdx):

- a connection logs in once with the private stream's ``auth`` op ("Authentication"): calls on
  it carry no key and no signature, only ``X-BAPI-TIMESTAMP`` and ``X-BAPI-RECV-WINDOW`` in
  their ``header`` object;
- a request is ``{"reqId", "header", "op", "args"}``, ``args`` the REST JSON body as its one
  item; ``reqId`` ("the length cannot exceed 36 characters", echoed back) is WsRpc's id in digits;
- an answer is ``{"reqId", "retCode", "retMsg", "op", "data", "retExtInfo", "header"}``,
  ``data`` "keep the same as ``result`` on rest api response": it becomes REST's envelope with
  the usage headers REST sends, so the venue's classifier, schemas and usage parser read it
  unchanged. The WS-only codes (10019 restarting, 10429 throttled...) are mapped in ``errors``;
  10019 and 10016 also retire the connection (``Codec.retires``).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.errors import scrubbed
from lotusx.exchanges.bybit.streams import auth
from lotusx.kernel import errors as e
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import Clock
from lotusx.signers import BybitHmac, HeaderHmac
from lotusx.transport.ws_rpc import Handshake
from lotusx.venue import WsTrading

PATH = "/v5/trade"  # appended to the WebSocket host, wss://stream.bybit.com (guideline "URL")

# Endpoint name -> op (guideline "Create/Amend/Cancel Order", "Batch Create/Amend/Cancel Order"). The
# trade WS has no other op: cancel-all, reads and the rest stay on REST.
OPS = {
    ep.ORDER_CREATE.name: "order.create", ep.LINEAR_ORDER_CREATE.name: "order.create",
    ep.ORDER_AMEND.name: "order.amend", ep.LINEAR_ORDER_AMEND.name: "order.amend",
    ep.ORDER_CANCEL.name: "order.cancel", ep.LINEAR_ORDER_CANCEL.name: "order.cancel",
    ep.ORDER_CREATE_BATCH.name: "order.create-batch", ep.LINEAR_ORDER_CREATE_BATCH.name: "order.create-batch",
    ep.ORDER_AMEND_BATCH.name: "order.amend-batch", ep.LINEAR_ORDER_AMEND_BATCH.name: "order.amend-batch",
    ep.ORDER_CANCEL_BATCH.name: "order.cancel-batch", ep.LINEAR_ORDER_CANCEL_BATCH.name: "order.cancel-batch",
}
# The request headers a frame's ``header`` carries (guideline "Request Parameters").
_STAMPS = ("X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW")
# An answer's ``header`` entries that REST sends as HTTP headers: the usage parser's (endpoints.USAGE).
_USAGE = {name.lower() for parser in ep.USAGE for name in parser.names}
_NOW = "timenow"  # the answer's server time (ms), REST's envelope ``time``
# The answers after which a new connection is the way on (guideline, "Response Parameters"): 10019
# "ws trade service is restarting [...] You can build new connection to be routed to normal service",
# and 10016, "1. internal server error; 2. Service is restarting", which cannot tell which it is: a
# restart met on the old connection again and again would spend Retry's attempts, and a new
# connection after an internal error costs one login.
_RETIRING = (10016, 10019)
_PING = '{"op":"ping"}'
_ACCEPTED = (0, 20001)  # auth answers: "0: auth success", "20001: repeat auth" (already logged in)


@dataclass(frozen=True)
class TradeSigner:
    """Stamps a call that goes over the trade WS (its connection is logged in), signs any other as REST."""

    rest: HeaderHmac

    def sign(self, request: Request, timestamp_ms: int) -> Request:
        """``request`` with the timestamp and recv window only, for an op; else ``rest``'s signature."""
        if request.endpoint.name not in OPS:
            return self.rest.sign(request, timestamp_ms)
        return request.with_headers(*self.rest.stamps(timestamp_ms))


def signer(credentials: Credentials) -> TradeSigner:
    """The ws_trading signer for system-generated (HMAC) keys."""
    return TradeSigner(BybitHmac(credentials.api_key, credentials.hmac_secret()))


class _Answer(msgspec.Struct, frozen=True):
    reqId: str | None = None
    retCode: int | None = None
    # Kept as the bytes the venue sent (a Raw is not Optional in msgspec: empty when absent).
    retMsg: msgspec.Raw = msgspec.Raw()
    data: msgspec.Raw = msgspec.Raw()
    retExtInfo: msgspec.Raw = msgspec.Raw()
    header: dict[str, str | int] = {}


_answer = msgspec.json.Decoder(_Answer)
_encode = msgspec.json.Encoder().encode


class Codec:
    """The :class:`~lotusx.transport.ws_rpc.RpcCodec` of ``/v5/trade``: the calls in :data:`OPS`."""

    def encode(self, request: Request, request_id: int) -> str | None:
        """``{"reqId", "header", "op", "args"}`` for a call in :data:`OPS`, else ``None`` (it goes by REST)."""
        op = OPS.get(request.endpoint.name)
        if op is None:
            return None
        header = {name: value for name in _STAMPS if (value := request.header(name)) is not None}
        # The body as the connector built it, not decoded and encoded again.
        arg = msgspec.Raw(request.body or b"{}")
        return _encode({"reqId": str(request_id), "header": header, "op": op, "args": [arg]}).decode()

    def decode(self, data: str | bytes) -> tuple[int, Response] | None:
        """The answer to our ``reqId`` as REST's envelope; ``None`` for any other frame (pong, auth, not ours)."""
        try:
            answer = _answer.decode(data)
        except msgspec.DecodeError:
            return None
        request_id = answer.reqId
        if request_id is None or not (request_id.isascii() and request_id.isdigit()) or answer.retCode is None:
            return None
        headers: dict[str, str] = {}
        time = b""
        for name, value in answer.header.items():
            lower = name.lower()
            if lower in _USAGE:
                headers[name] = str(value)
            elif lower == _NOW and str(value).isascii() and str(value).isdigit():
                time = b',"time":%d' % int(value)
        # REST's envelope, retCode first as REST sends it (the classifier's fast path reads that prefix).
        body = b'{"retCode":%d,"retMsg":%s,"result":%s,"retExtInfo":%s%s}' % (
            answer.retCode, bytes(answer.retMsg) or b'""', bytes(answer.data) or b"{}",
            bytes(answer.retExtInfo) or b"{}", time)
        return int(request_id), Response(status=200, body=body, headers=headers)

    def retires(self, data: str | bytes) -> bool:
        """Whether the frame answers 10019 or 10016 (:data:`_RETIRING`). The call it answers is a
        ServerError, retried: on a new connection."""
        # Every answer is asked: plain substring tests first, a second decode only for a likely one.
        likely = ((b"10019" in data or b"10016" in data) if isinstance(data, bytes)
                  else ("10019" in data or "10016" in data))
        if not likely:
            return False
        try:
            return _answer.decode(data).retCode in _RETIRING
        except msgspec.DecodeError:
            return False

    def drops(self, data: str | bytes) -> bool:
        """Never: the trade WS says nothing that ends a connection at once (its restart retires it)."""
        return False

    def ping(self) -> str:
        """The guideline's ``{"op": "ping"}``, answered by an ``op: "pong"`` frame ("Ping")."""
        return _PING


class _AuthAnswer(msgspec.Struct, frozen=True):
    op: str = ""
    retCode: int | None = None
    retMsg: str = ""


_auth_answer = msgspec.json.Decoder(_AuthAnswer)


def login(credentials: Credentials, clock: Clock) -> Handshake:
    """Each new connection's ``auth`` (guideline "Authentication"), with ``expires`` on the venue's ``clock``.

    The login runs inside a call of a signed endpoint, after ``ClockSync`` made the clock fresh:
    read here, it is as current as a REST call's timestamp. Its refusals: 10004 "invalid sign"
    ``InvalidSignature``; 10001 "param error", which a well-formed auth meets for an ``expires``
    already past on the venue's clock (the private stream's "Params Error", see connector):
    ``TimestampOutOfWindow``, so ``ClockSync`` resyncs and sends again, on a new connection;
    any other ``AuthenticationError``. The venue's text is scrubbed as a REST error's is.
    """
    hmac = BybitHmac(credentials.api_key, credentials.hmac_secret())

    def verdict(data: str | bytes) -> bool | e.LotusXError | None:
        try:
            answer = _auth_answer.decode(data)
        except msgspec.DecodeError:
            return None  # not the auth answer (WsRpc waits for it within its timeout)
        if answer.op != "auth" or answer.retCode is None:
            return None
        return True if answer.retCode in _ACCEPTED else _refusal(answer.retCode, scrubbed(answer.retMsg))

    return Handshake(lambda: auth(hmac, int(clock.time() * 1000)), verdict)


def _refusal(code: int, msg: str) -> e.LotusXError:
    where = "trade WebSocket login refused"
    if code == 10004:
        return e.InvalidSignature(where, code=code, venue_message=msg)
    if code == 10001:
        return e.TimestampOutOfWindow(f"{where}: expires past the venue's clock?", code=code, venue_message=msg)
    return e.AuthenticationError(where, code=code, venue_message=msg)


WS_TRADING = WsTrading(PATH, Codec, signer, ep.WS_CONNECT, login=login)
"""Both categories' declaration: the trade WS serves spot and linear alike (guideline "Scope"), and
a connection attempt charges stream.bybit.com's 500 per 5 minutes (docs/v5/rate-limit/rate-limit.mdx
"Websocket IP limit"), the pool the streams' attempts charge."""

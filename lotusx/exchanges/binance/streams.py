"""Binance WebSocket dialects and frame decoding (web-socket-streams.md, web-socket-api.md, user-data-stream.md)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, AnyStr, Generic, TypeVar

import msgspec
import orjson

from lotusx.exchanges.binance.errors import ws_api_error
from lotusx.exchanges.binance.schemas import (
    AccountPosition,
    ApiError,
    ApiFrame,
    BalanceUpdate,
    BookTickerEvent,
    DepthUpdate,
    Envelope,
    ExecutionReport,
    ExternalLockUpdate,
    ListStatus,
    ServerShutdown,
    TradeEvent,
    UserEvent,
)
from lotusx.kernel.errors import InvalidRequest, SubscriptionRejected
from lotusx.kernel.message import Request
from lotusx.kernel.protocols import Clock, Signer
from lotusx.kernel.service import Layer
from lotusx.layers.limiter import Limiter, Pool
from lotusx.layers.ratelimit import RateLimit
from lotusx.metrics import Metrics
from lotusx.ws import Drop, Frames, Malformed, Parse, WsDialect, frames
from lotusx.ws.dialect import LoginAck
from lotusx.ws.parse import Repeats, report_malformed

T = TypeVar("T")

_EVENTS: dict[str, type] = {"depth": DepthUpdate, "trade": TradeEvent, "bookTicker": BookTickerEvent}
_by_kind: dict[str, msgspec.json.Decoder[Any]] = {kind: msgspec.json.Decoder(t) for kind, t in _EVENTS.items()}
# The head up to the kind's end ('@' or '"'), so "depth@" and "depth20@" stay apart.
_HEAD_TEXT = re.compile(r'\{"stream":"[^"@]*@([^"@]*)["@]')
_HEAD_BYTES = re.compile(rb'\{"stream":"[^"@]*@([^"@]*)["@]')
# On a combined stream the notice comes wrapped: {"stream": "!serverShutdown", "data": {"e": "serverShutdown", ...}}
# (web-socket-streams.md "Server Shutdown"); a raw stream sends the bare event.
_SHUTDOWN_STREAM = "!serverShutdown"


class _Combined(msgspec.Struct, Generic[T]):
    stream: str
    data: T


# The whole frame in one decode, when the kind is known up front (see Market).
_combined: dict[str, msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(_Combined[t]) for kind, t in _EVENTS.items()  # type: ignore[valid-type]
}
_combined_bytes = {kind.encode(): decoder for kind, decoder in _combined.items()}


class Ack(msgspec.Struct, frozen=True):
    """A SUBSCRIBE/UNSUBSCRIBE answer."""

    id: int
    ok: bool
    error: str | None = None


class Shutdown(msgspec.Struct, frozen=True):
    """The venue's ``serverShutdown`` notice."""


@dataclass(frozen=True)
class Route:
    """Frame stage: a combined-stream envelope to its typed event, an ``Ack`` or a ``Shutdown``;
    a ``Malformed`` naming the stream when the event fails its schema."""

    metrics: Metrics = field(repr=False)
    repeats: Repeats = field(default_factory=Repeats, repr=False, compare=False)

    def __call__(self, frame: Envelope) -> Any:
        if frame.stream == _SHUTDOWN_STREAM:
            return Shutdown()
        if frame.stream is not None and len(frame.data):
            kind = frame.stream.split("@", 2)[1] if "@" in frame.stream else ""
            decoder = _by_kind.get(kind)
            if decoder is None:
                raise Drop
            try:
                return decoder.decode(frame.data)
            except msgspec.DecodeError as exc:
                # Passed on, not dropped: a lost depth diff leaves a book wrong until the next
                # diff shows the hole, which for a quiet symbol may be minutes away. Not only a
                # ValidationError: the envelope leaves ``data`` raw, so invalid UTF-8 in it shows here.
                reason = "schema" if isinstance(exc, msgspec.ValidationError) else "json"
                return report_malformed(self.metrics, "binance", reason, str(exc), len(frame.data), frame.stream,
                                        repeats=self.repeats)
        if frame.id is not None:
            # An error comes as {"error": {"code", "msg"}, "id"} or, as the docs show it, {"code", "msg", "id"}.
            if frame.error is not None:
                return Ack(frame.id, False, str(frame.error.get("msg")) if frame.error else None)
            if frame.code is not None:
                return Ack(frame.id, False, frame.msg)
            return Ack(frame.id, True)
        if frame.e == "serverShutdown":
            return Shutdown()
        raise Drop


@dataclass(frozen=True)
class Market:
    """Frame stage: a ``/stream`` frame to its typed event in one decode, else envelope then Route;
    a frame that is not JSON comes out as a ``Malformed``, naming its stream if its head does.

    Binance writes ``{"stream":"<name>","data":...}`` with ``stream`` first, so the stream
    name (and so the event type) can be read off the head and the frame decoded once instead
    of twice (envelope, then ``data``). Anything else — acks, notices, another key order, a
    frame that fails to decode — takes the general path, which counts and reports failures.
    """

    metrics: Metrics = field(repr=False)
    _parse: Parse = field(init=False, repr=False, compare=False)
    _route: Route = field(init=False, repr=False, compare=False)
    _text: _Head[str] = field(init=False, repr=False, compare=False)
    _raw: _Head[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Not JSON (cut short, garbled) or no envelope: passed on as a Malformed naming the stream
        # when the frame's head still does, so a book on that stream knows it lost a diff.
        object.__setattr__(self, "_parse", Parse(Envelope, errors=True, metrics=self.metrics, exchange="binance",
                                                 name_key="stream"))
        object.__setattr__(self, "_route", Route(self.metrics))
        object.__setattr__(self, "_text", _Head(_HEAD_TEXT, _combined, "\0"))
        object.__setattr__(self, "_raw", _Head(_HEAD_BYTES, _combined_bytes, b"\0"))

    def __call__(self, data: str | bytes) -> Any:
        head: _Head[Any] = self._text if isinstance(data, str) else self._raw
        # The usual frame repeats the last head: checked here, saving a call per frame.
        decoder = head.decoder if data.startswith(head.last) else head.read(data)
        if decoder is not None:
            try:
                return decoder.decode(data).data
            except msgspec.DecodeError:
                pass  # the general path below classifies and counts it
        frame = self._parse(data)
        return frame if type(frame) is Malformed else self._route(frame)


class _Head(Generic[AnyStr]):
    """The frame decoder a frame's head names, for frames of one type (text or bytes).

    "<symbol>@<kind>[@<speed>]" at the head of the frame names the event. Consecutive frames
    of one stream share it, so a ``startswith`` of the last head read (C, one call) usually
    settles it; otherwise the regex reads it.
    """

    __slots__ = ("decoder", "last", "pattern", "table")

    def __init__(self, pattern: re.Pattern[AnyStr], table: dict[AnyStr, msgspec.json.Decoder[Any]],
                 never: AnyStr) -> None:
        self.pattern: re.Pattern[AnyStr] = pattern
        self.table: dict[AnyStr, msgspec.json.Decoder[Any]] = table
        self.last: AnyStr = never  # never a frame's start
        self.decoder: msgspec.json.Decoder[Any] | None = None

    def read(self, data: AnyStr) -> msgspec.json.Decoder[Any] | None:
        if data.startswith(self.last):
            return self.decoder
        head = self.pattern.match(data)
        if head is None:
            return None
        self.last, self.decoder = head[0], self.table.get(head[1])
        return self.decoder


def market_frames(metrics: Metrics) -> Frames:
    """``/stream`` frames: each to the event its stream name says (see :class:`Market`)."""
    return frames(Market(metrics))


class Answer(msgspec.Struct, frozen=True):
    """The WebSocket API's answer to one of our requests: a control message, never an account event."""

    id: str | int | None
    status: int
    error: ApiError | None = None


@dataclass(frozen=True)
class Unwrap:
    """Frame stage: a WebSocket API frame to its account event (tagged by ``e``), an ``Answer``,
    or a ``Malformed``.

    Every stage here keeps errors (``errors=True``): a private event that fails to parse may be
    the one that filled an order, so the connector must see it (a Malformed) to reconcile, not
    lose it to a silent Drop.
    """

    metrics: Metrics = field(repr=False)
    _event: Parse = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_event", Parse(UserEvent, errors=True, metrics=self.metrics, exchange="binance"))

    def __call__(self, frame: ApiFrame | Malformed) -> Any:
        if isinstance(frame, Malformed):
            return frame
        if len(frame.event):  # {"subscriptionId", "event"}: one subscription per connection, so any id is ours
            return self._event(frame.event)
        if frame.status is not None:
            return Answer(frame.id, frame.status, frame.error)
        raise Drop  # neither an answer nor an event: nothing we asked for


def user_frames(metrics: Metrics) -> Frames:
    """WebSocket API frames of the user data subscription: account events and answers (see :class:`Unwrap`)."""
    return frames(Parse(ApiFrame, errors=True, metrics=metrics, exchange="binance"), Unwrap(metrics))


SUBSCRIBE = "userDataStream.subscribe.signature"


def subscribe_request(signer: Signer, api_key: str, timestamp_ms: int, request_id: int) -> str:
    """The signed ``userDataStream.subscribe.signature`` request (web-socket-api.md, "SIGNED request security").

    The WebSocket API signs the params but ``signature`` as ``key=value`` pairs sorted by key and
    joined by ``&``. The venue's query signer (HMAC hex or Ed25519 base64) appends recvWindow and
    timestamp after apiKey and signs the query: apiKey < recvWindow < timestamp, the sorted order.
    """
    signed = signer.sign(Request(method="WS", path=SUBSCRIBE, query=(("apiKey", api_key),)), timestamp_ms)
    # The docs give recvWindow and timestamp as numbers; as numbers they read the same when signed.
    params = {name: int(value) if name in ("recvWindow", "timestamp") else value for name, value in signed.query}
    return orjson.dumps({"id": request_id, "method": SUBSCRIBE, "params": params}).decode()


def subscribed(message: Any) -> LoginAck | None:
    """The subscription's answer: accepted, or the error its refusal means (the dialect's ``login_ack``).

    A refused key or signature (``AuthenticationError``) ends the stream, as does any other
    request error, since every reconnect would send the same request (``SubscriptionRejected``);
    a throttle, a timestamp out of the window or a venue failure is tried again on a new socket.
    """
    if not isinstance(message, Answer):
        return None  # only the subscription is asked on this connection: any answer is its answer
    if message.error is None:
        return message.status == 200, None
    data = message.error.data
    error = ws_api_error(SUBSCRIBE, message.status, message.error.code, message.error.msg,
                         retry_after_ms=data.retryAfter if data else None, server_ms=data.serverTime if data else None)
    if isinstance(error, InvalidRequest):
        return SubscriptionRejected(f"{SUBSCRIBE} refused", code=error.code, venue_message=error.venue_message,
                                    status=error.status)
    return error


def _request(method: str, streams: Sequence[str], request_id: int) -> str:
    return orjson.dumps({"method": method, "params": list(streams), "id": request_id}).decode()


def _ack(message: Any) -> tuple[int, bool, str | None] | None:
    return (message.id, message.ok, message.error) if isinstance(message, Ack) else None


def _identity(message: Any) -> tuple[str, int] | tuple[str, str, int] | None:
    # Rotation overlap: the same diff seen on both connections has the same (symbol, u), the same
    # trade the same (symbol, t) ("t": the trade id, web-socket-streams.md "Trade Streams").
    if isinstance(message, DepthUpdate):
        return message.s, message.u
    return (message.s, "trade", message.t) if isinstance(message, TradeEvent) else None


DIALECT = WsDialect(
    name="binance",
    subscribe=lambda streams, rid: _request("SUBSCRIBE", streams, rid),
    unsubscribe=lambda streams, rid: _request("UNSUBSCRIBE", streams, rid),
    ack=_ack,
    shutdown=lambda message: isinstance(message, Shutdown),
    identity=_identity,
    control_types=frozenset({Ack, Shutdown}),
    max_streams=1024,  # "A single connection can listen to a maximum of 1024 streams."
    lifetime=24 * 3600.0,  # "A single connection to stream.binance.com is only valid for 24 hours"
)
# "WebSocket connections have a limit of 5 incoming messages per second. A message is considered:
# a PING frame, a PONG frame, a JSON controlled message (e.g. subscribe, unsubscribe)"; one more
# drops the connection. Our fixed windows enforce a rolling limit by half (lotusx.layers.limiter),
# and the pongs the session sends by itself pass no layer: 2 a second leaves room for them.
_MESSAGES = Pool("WS_MESSAGES", 2, 1)  # the pool every outbound message charges (lotusx.ws.WS_SEND)
_keys = itertools.count(1)


def message_rate(clock: Clock, metrics: Metrics) -> Layer:
    """The outbound layer that keeps one ``ReconnectWs`` (all its connections) under the message rate."""
    # A key of its own: the limit is per connection, and the REST key's bans must not stop pings.
    limiter = Limiter([_MESSAGES], key=f"binance-ws-{next(_keys)}", clock=clock, metrics=metrics, exchange="binance")
    return RateLimit(limiter)


def _user_identity(message: Any) -> Hashable | None:
    # Rotation overlap (the 24 h limit, a serverShutdown): both connections deliver the account's
    # events until the old one closes. An event is its kind, its subject and its event time "E".
    kind = type(message)
    if kind is ExecutionReport:
        # The quantity too: two amendments (x REPLACED, faqs/order_amend_keep_priority.md) differ in it alone.
        return ("report", message.i, message.x, message.X, message.z, message.t, message.q, message.E)
    if kind is AccountPosition:
        # Not its event time alone: account updates within one millisecond (a taker order
        # filling against several makers) each send their own balances, and each must come through.
        return ("position", message.E, message.u, tuple((b.a, b.f, b.l) for b in message.B))
    if kind is BalanceUpdate or kind is ExternalLockUpdate:
        return (kind.__name__, message.a, message.d, message.E)
    if kind is ListStatus:
        return ("list", message.g, message.L, message.E)
    return None


# The connector adds the ``login`` hook, which sends the signed subscription (it needs the keys and
# the clock). "A single connection to the API is only valid for 24 hours" (web-socket-api.md).
# Its serverShutdown comes as {"event": {"e": "serverShutdown", ...}} (web-socket-api.md "Connection events").
USER_DIALECT = WsDialect(name="binance", login_ack=subscribed, lifetime=24 * 3600.0,
                         shutdown=lambda message: isinstance(message, ServerShutdown),
                         control_types=frozenset({Answer, ServerShutdown}), identity=_user_identity)

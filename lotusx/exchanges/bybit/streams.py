"""Bybit v5 WebSocket dialects and frame decoding (https://bybit-exchange.github.io/docs/v5/ws/connect).

Ops are ``{"op": "subscribe"|"unsubscribe", "args": [...], "req_id": "..."}``, answered with
``{"success", "ret_msg", "op", "req_id", "conn_id"}``. The heartbeat is ``{"op": "ping"}``
every 20 s; public spot answers ``{"op": "ping", "success": true, "ret_msg": "pong"}``, the
private stream ``{"op": "pong", ...}``. Private streams log in with ``{"op": "auth", "args":
[key, expires, signature]}``, answered with ``{"op": "auth", "success": ...}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from lotusx.exchanges.bybit.endpoints import Category
from lotusx.exchanges.bybit.errors import scrubbed
from lotusx.exchanges.bybit.schemas import (
    Book,
    ExecutionRow,
    OrderRow,
    PositionRow,
    PublicTrade,
    WalletAccount,
    WsFrame,
)
from lotusx.metrics import Metrics
from lotusx.signers import HeaderHmac
from lotusx.ws import Frames, Heartbeat, Malformed, Parse, WsDialect, frames
from lotusx.ws.parse import Repeats, report_malformed


class Control(msgspec.Struct, frozen=True):
    """An op answer: subscribe/unsubscribe/auth ack or pong."""

    op: str
    success: bool
    message: str
    req_id: str | None


class BookMessage(msgspec.Struct, frozen=True):
    """``orderbook.{depth}.{symbol}``: ``kind`` is ``snapshot`` or ``delta``."""

    topic: str
    kind: str
    data: Book
    ts: int | None = None


class TradeMessage(msgspec.Struct, frozen=True):
    """``publicTrade.{symbol}``."""

    topic: str
    trades: list[PublicTrade]


class OrderMessage(msgspec.Struct, frozen=True):
    """Private ``order``."""

    orders: list[OrderRow]


class ExecutionMessage(msgspec.Struct, frozen=True):
    """Private ``execution`` (docs/v5/websocket/private/execution.mdx): one or more executions, of any ``execType``."""

    executions: list[ExecutionRow]


class WalletMessage(msgspec.Struct, frozen=True):
    """Private ``wallet``; ``time`` is its ``creationTime``, when the data was created (ms)."""

    accounts: list[WalletAccount]
    time: int | None = None


class PositionMessage(msgspec.Struct, frozen=True):
    """Private ``position`` (docs/v5/websocket/private/position.mdx): each changed position whole."""

    positions: list[PositionRow]


_book = msgspec.json.Decoder(Book).decode
_trades = msgspec.json.Decoder(list[PublicTrade]).decode
_orders = msgspec.json.Decoder(list[OrderRow]).decode
_wallet = msgspec.json.Decoder(list[WalletAccount]).decode
_executions = msgspec.json.Decoder(list[ExecutionRow]).decode
_positions = msgspec.json.Decoder(list[PositionRow]).decode


@dataclass(frozen=True)
class Route:
    """Frame stage: a frame to its typed message; unknown topics pass through as :class:`WsFrame`."""

    metrics: Metrics = field(repr=False)
    repeats: Repeats = field(default_factory=Repeats, repr=False, compare=False)

    def __call__(self, frame: WsFrame) -> Any:
        topic = frame.topic
        if topic is None:
            return Control(frame.op or "", bool(frame.success), frame.ret_msg, frame.req_id)
        try:
            if topic.startswith("orderbook."):
                return BookMessage(topic, frame.type or "", _book(frame.data), frame.ts)
            if topic.startswith("publicTrade."):
                return TradeMessage(topic, _trades(frame.data))
            if topic.startswith("order"):
                return OrderMessage(_orders(frame.data))
            if topic.startswith("position"):
                return PositionMessage(_positions(frame.data))
            if topic == "execution":  # the all-in-one topic the connector subscribes; not ``execution.fast``
                return ExecutionMessage(_executions(frame.data))
            if topic == "wallet":
                return WalletMessage(_wallet(frame.data), frame.creationTime)
        except msgspec.DecodeError as exc:
            # Not only a ValidationError: the envelope leaves ``data`` raw, so a push without it
            # or with invalid UTF-8 in it fails only here.
            reason = "schema" if isinstance(exc, msgspec.ValidationError) else "json"
            # Counted and logged as Parse reports what it cannot read: a lost push must not be silent.
            report_malformed(self.metrics, "bybit", reason, str(exc), len(frame.data), topic, repeats=self.repeats)
            return frame
        return frame


@dataclass(frozen=True)
class Routed:
    """``route`` for a frame that parsed; one that did not (a ``Malformed``) passes on."""

    route: Route

    def __call__(self, frame: WsFrame | Malformed) -> Any:
        return frame if isinstance(frame, Malformed) else self.route(frame)


def bybit_frames(metrics: Metrics) -> Frames:
    """Every Bybit stream's frames, public and private: one envelope decode, then the topic's payload.

    A frame that is not JSON comes out as a ``Malformed`` (counted) naming its topic when the
    frame's head does, not dropped: a lost book snapshot would leave a book waiting for one
    forever, a lost delta leave it wrong until the next delta shows the hole, and a private push
    may be the one that filled an order (the connector reconciles).
    """
    return frames(Parse(WsFrame, errors=True, metrics=metrics, exchange="bybit", name_key="topic"),
                  Routed(Route(metrics)))


def _op(op: str, streams: Sequence[str], request_id: int) -> str:
    return orjson.dumps({"op": op, "args": list(streams), "req_id": str(request_id)}).decode()


def _ack(message: Any) -> tuple[int, bool, str | None] | None:
    if not isinstance(message, Control) or message.op not in ("subscribe", "unsubscribe"):
        return None
    if message.req_id is None or not message.req_id.isdigit():
        return None
    if not message.success and "already subscribed" in message.message:
        # The venue holds the topic. It takes a request's good topics and names its first bad
        # one, so halving a refused request sends some of them again: they are subscribed.
        return int(message.req_id), True, None
    return int(message.req_id), message.success, None if message.success else message.message


def _pong(message: Any) -> bool:
    return isinstance(message, Control) and (message.op == "pong" or (message.op == "ping" and message.success))


AUTH_VALID_MS = 10_000  # an auth message's ``expires``: this far past the venue's now


def auth(signer: HeaderHmac, now_ms: int) -> str:
    """The ``auth`` op of a private or trade connection, valid until ``AUTH_VALID_MS`` past ``now_ms`` (venue time)."""
    return orjson.dumps(signer.ws_auth(now_ms + AUTH_VALID_MS)).decode()


def login_ack(message: Any) -> tuple[bool, str | None] | None:
    """The auth answer as (accepted?, the venue's ret_msg when refused); None for any other message."""
    if isinstance(message, Control) and message.op == "auth":
        # Scrubbed as a REST error's text is: a refusal may echo the signed string, the key in it.
        return message.success, None if message.success else scrubbed(message.message)
    return None


# docs/v5/ws/connect "Public channel - Args limits": "for one public connection, you cannot have
# length of "args" array over 21,000 characters". How the venue measures it is not said: the budget
# counts each topic with its quotes and comma (lotusx.ws.shard.size) and keeps 1,000 characters spare.
PUBLIC_ARGS_CHARS = 20_000


def public_dialect(category: Category) -> WsDialect:
    """The public stream of ``category``: its args per request, and the args a connection may hold."""
    return WsDialect(name="bybit", subscribe=lambda s, rid: _op("subscribe", s, rid),
                     unsubscribe=lambda s, rid: _op("unsubscribe", s, rid), ack=_ack,
                     ping=lambda: '{"op":"ping"}', pong=_pong, max_args=category.max_args,
                     max_chars=PUBLIC_ARGS_CHARS, control_types=frozenset({Control}))


# The private dialect; the connector adds the ``login`` hook (it needs the keys and the clock).
PRIVATE = WsDialect(name="bybit", subscribe=lambda s, rid: _op("subscribe", s, rid),
                    unsubscribe=lambda s, rid: _op("unsubscribe", s, rid), ack=_ack,
                    ping=lambda: '{"op":"ping"}', pong=_pong, login_ack=login_ack,
                    control_types=frozenset({Control}))

# "we recommend that you send the ping heartbeat packet every 20 seconds"; AiohttpWs answers
# protocol pings itself.
HEARTBEAT = Heartbeat(interval=20.0, pong_timeout=10.0, idle_timeout=60.0, answer_pings=False)

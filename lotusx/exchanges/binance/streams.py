"""Binance WebSocket dialect and frame decoding (web-socket-streams.md, user-data-stream.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from lotusx.exchanges.binance.schemas import BookTickerEvent, DepthUpdate, Envelope, TradeEvent, UserEvent
from lotusx.metrics import Metrics
from lotusx.ws import Drop, Frames, Parse, WsDialect, frames

_by_kind: dict[str, msgspec.json.Decoder[Any]] = {
    "depth": msgspec.json.Decoder(DepthUpdate), "trade": msgspec.json.Decoder(TradeEvent),
    "bookTicker": msgspec.json.Decoder(BookTickerEvent),
}


class Ack(msgspec.Struct, frozen=True):
    """A SUBSCRIBE/UNSUBSCRIBE answer."""

    id: int
    ok: bool
    error: str | None = None


class Shutdown(msgspec.Struct, frozen=True):
    """The venue's ``serverShutdown`` notice."""


@dataclass(frozen=True)
class Route:
    """Frame stage: a combined-stream envelope to its typed event, an ``Ack`` or a ``Shutdown``."""

    metrics: Metrics = field(repr=False)

    def __call__(self, frame: Envelope) -> Any:
        if frame.stream is not None and len(frame.data):
            kind = frame.stream.split("@", 2)[1] if "@" in frame.stream else ""
            decoder = _by_kind.get(kind)
            if decoder is None:
                raise Drop
            try:
                return decoder.decode(frame.data)
            except msgspec.ValidationError:
                self.metrics.ws_malformed.labels("binance", "schema").inc()
                raise Drop from None
        if frame.id is not None:
            return Ack(frame.id, frame.error is None, str(frame.error.get("msg")) if frame.error else None)
        if frame.e == "serverShutdown":
            return Shutdown()
        raise Drop


def market_frames(metrics: Metrics) -> Frames:
    """``/stream`` frames: envelope, then the event its stream name says."""
    return frames(Parse(Envelope, metrics=metrics, exchange="binance"), Route(metrics))


def user_frames(metrics: Metrics) -> Frames:
    """``/ws/<listenKey>`` frames: user data events, tagged by ``e``."""
    return frames(Parse(UserEvent, metrics=metrics, exchange="binance"))


def _request(method: str, streams: Sequence[str], request_id: int) -> str:
    return orjson.dumps({"method": method, "params": list(streams), "id": request_id}).decode()


def _ack(message: Any) -> tuple[int, bool, str | None] | None:
    return (message.id, message.ok, message.error) if isinstance(message, Ack) else None


def _identity(message: Any) -> tuple[str, int] | None:
    # Rotation overlap: the same diff seen on both connections has the same (symbol, u).
    return (message.s, message.u) if isinstance(message, DepthUpdate) else None


DIALECT = WsDialect(
    name="binance",
    subscribe=lambda streams, rid: _request("SUBSCRIBE", streams, rid),
    unsubscribe=lambda streams, rid: _request("UNSUBSCRIBE", streams, rid),
    ack=_ack,
    shutdown=lambda message: isinstance(message, Shutdown),
    identity=_identity,
    max_streams=1024,  # "A single connection can listen to a maximum of 1024 streams."
    lifetime=24 * 3600.0,  # "A single connection to stream.binance.com is only valid for 24 hours"
)
USER_DIALECT = WsDialect(name="binance", lifetime=24 * 3600.0)

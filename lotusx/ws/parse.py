"""``Parse``: typed decoding with msgspec; a bad message is counted and reported, never fatal.

The decoder is built once. With a tagged union (``Struct``\\s sharing ``tag_field``, e.g. the
venue's event-type key) msgspec picks the class from the tag, so one decode both routes and
validates. Reasons counted in ``ws_malformed{reason}``: ``json`` (not JSON), ``unknown`` (a
tag outside the union) and ``schema`` (any other mismatch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from lotusx.log import get_logger
from lotusx.metrics import Metrics
from lotusx.ws.frames import Drop

_log = get_logger("lotusx.ws.parse")


class Malformed(msgspec.Struct, frozen=True):
    """Emitted in place of a message that failed to parse, when ``Parse(errors=True)``.

    ``stream``: the stream the message came on, when its frame named one (a Binance combined
    stream whose ``data`` failed its schema), so a consumer knows which feed lost a message.
    """

    reason: str
    error: str
    size: int
    stream: str | None = None


def _tag_field(type_: Any) -> str | None:
    info = msgspec.inspect.type_info(type_)
    members = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    for member in members:
        if isinstance(member, msgspec.inspect.StructType) and member.tag_field:
            return member.tag_field
    return None


@dataclass(frozen=True)
class Parse:
    """Frame stage: JSON ``str``/``bytes`` in, an instance of ``type`` out.

    ``name_key``: the key a venue writes first in every frame to name its stream (Binance's
    ``stream``, Bybit's ``topic``). A frame that fails to parse, even one cut short or garbled,
    is then reported with the stream its head still names (``Malformed.stream``), so a consumer
    of that stream (a book) knows it lost a message.
    """

    type: Any = Any
    errors: bool = False
    metrics: Metrics | None = None
    exchange: str = ""
    name_key: str | None = None
    _decoder: msgspec.json.Decoder[Any] = field(init=False, repr=False, compare=False)
    _tag: str | None = field(init=False, repr=False, compare=False)
    _head: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_decoder", msgspec.json.Decoder(self.type))
        object.__setattr__(self, "_tag", _tag_field(self.type))
        head = None if self.name_key is None else re.compile(
            rb'\{"' + re.escape(self.name_key.encode()) + rb'":"([^"\\]{1,200})"')
        object.__setattr__(self, "_head", head)

    def __call__(self, data: str | bytes) -> Any:
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            return self._malformed(self._reason(str(exc)), str(exc), data)
        except msgspec.DecodeError as exc:
            return self._malformed("json", str(exc), data)

    def _reason(self, error: str) -> str:
        tag = self._tag
        if tag and (error.endswith(f"- at `$.{tag}`") or error == f"Object missing required field `{tag}`"):
            return "unknown"
        return "schema"

    def _stream(self, data: str | bytes) -> str | None:
        if self._head is None:
            return None
        named = self._head.match(data.encode() if isinstance(data, str) else data)
        # A garbled byte may sit in the name itself: replaced, so reporting the loss cannot fail.
        return None if named is None else named[1].decode(errors="replace")

    def _malformed(self, reason: str, error: str, data: str | bytes) -> Malformed:
        malformed = report_malformed(self.metrics, self.exchange, reason, error, len(data), self._stream(data))
        if self.errors:
            return malformed
        raise Drop


def report_malformed(metrics: Metrics | None, exchange: str, reason: str, error: str, size: int,
                     stream: str | None = None) -> Malformed:
    """Count and log a message that failed to parse; the ``Malformed`` that stands for it."""
    if metrics is not None:
        metrics.ws_malformed.labels(exchange, reason).inc()
    _log.warning("ws message malformed", exchange=exchange, reason=reason, error=error, size=size, stream=stream)
    return Malformed(reason, error, size, stream)

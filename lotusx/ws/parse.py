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

from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock
from lotusx.log import get_logger
from lotusx.metrics import Metrics
from lotusx.ws.frames import Drop

_log = get_logger("lotusx.ws.parse")
QUIET_SECONDS = 60.0  # one warning a minute per kind of malformed message; the metric counts them all
_MAX_KINDS = 1024  # garbled stream names are kinds too: forget them all rather than grow without end


class Repeats:
    """When a malformed message's warning is written: the first of its kind, then at most one every
    ``every`` seconds, saying how many were left unwritten since the last.

    A venue's changed schema on a busy stream makes every message malformed: a warning each would
    bury the log (and cost a formatting per message) under one incident the metric already counts.
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK, every: float = QUIET_SECONDS) -> None:
        self.clock = clock
        self.every = every
        self._kinds: dict[tuple[str, str, str | None], tuple[float, int]] = {}

    def due(self, kind: tuple[str, str, str | None]) -> int | None:
        """The count left unwritten since the last warning of ``kind`` when one is due now, else ``None``."""
        now = self.clock.monotonic()
        last = self._kinds.get(kind)
        if last is not None and now - last[0] < self.every:
            self._kinds[kind] = (last[0], last[1] + 1)
            return None
        if last is None and len(self._kinds) >= _MAX_KINDS:
            self._kinds.clear()
        self._kinds[kind] = (now, 0)
        return 0 if last is None else last[1]



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
    repeats: Repeats = field(default_factory=Repeats, repr=False, compare=False)
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
        malformed = report_malformed(self.metrics, self.exchange, reason, error, len(data), self._stream(data),
                                     repeats=self.repeats)
        if self.errors:
            return malformed
        raise Drop


def report_malformed(metrics: Metrics | None, exchange: str, reason: str, error: str, size: int,
                     stream: str | None = None, *, repeats: Repeats) -> Malformed:
    """Count a message that failed to parse, log it as ``repeats`` allows; the ``Malformed`` that stands for it.

    Every one is counted in ``ws_malformed_frames_total``; the ``ws message malformed`` warning is
    written for the first of a kind (exchange, reason, stream), then once a minute with
    ``unlogged``, how many of that kind were not written since the last. ``repeats`` is the
    reporting stage's own (each stream pipeline remembers what it has said).
    """
    if metrics is not None:
        metrics.ws_malformed.labels(exchange, reason).inc()
    unlogged = repeats.due((exchange, reason, stream))
    if unlogged is not None:
        _log.warning("ws message malformed", exchange=exchange, reason=reason, error=error, size=size,
                     stream=stream, unlogged=unlogged)
    return Malformed(reason, error, size, stream)

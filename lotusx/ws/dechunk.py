"""``Dechunk``: one frame with several messages yields several; a message in parts yields one.

Batches: ``split="lines"`` (newline-delimited JSON) or ``split="array"`` (a top-level JSON
array whose elements are the messages). Multi-part messages: ``part(payload)`` says whether
a payload is one part of a larger message, as ``(key, index, total, chunk)``; the chunks are
joined in index order once all ``total`` have arrived. Reassembly is capped in bytes
(``max_size``) and in messages waiting for parts (``max_pending``, oldest evicted first).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from prometheus_client import Counter

from lotusx.kernel.errors import ConfigError
from lotusx.log import get_logger
from lotusx.metrics import Metrics
from lotusx.ws.frames import Drop, Many

Payload = str | bytes
Part = tuple[Hashable, int, int, Payload]
PartOf = Callable[[Payload], Part | None]
_log = get_logger("lotusx.ws.dechunk")
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass
class _Partial:
    total: int
    size: int = 0
    chunks: dict[int, Payload] = field(default_factory=dict)


@dataclass(frozen=True)
class Dechunk:
    """Frame stage: payloads in, individual message payloads out (see the module docstring)."""

    split: Literal["none", "lines", "array"] = "none"
    part: PartOf | None = None
    max_size: int = 8 * 1024 * 1024
    max_pending: int = 64
    metrics: Metrics | None = None
    exchange: str = ""
    _pending: dict[Hashable, _Partial] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Refused here, not found per frame: max_pending=0 raised StopIteration on every part (an
        # eviction from an empty buffer), max_size=0 dropped every part, an unknown split split nothing.
        if self.split not in ("none", "lines", "array"):
            raise ConfigError(f"Dechunk split must be 'none', 'lines' or 'array', got {self.split!r}")
        for name in ("max_size", "max_pending"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ConfigError(f"Dechunk {name} must be a whole number >= 1, got {value!r}")

    def fresh(self) -> Dechunk:
        """This stage with no message waiting for parts, for a new connection (see :meth:`Frames.fresh`).

        Parts belong to their connection: a key numbered per connection would join a dead socket's
        part to a new socket's message, or refuse the new one as a part of another ``total``.
        """
        return dataclasses.replace(self)

    def __call__(self, data: Payload) -> Any:
        if self.part is not None:
            found = self.part(data)
            if found is not None:
                data = self._reassemble(*found)
        if self.split == "lines":
            lines = data.splitlines()
            return Many(line for line in lines if line.strip())
        if self.split == "array" and data[:1] in ("[", b"["):
            try:
                return Many(bytes(raw) for raw in _raw_list.decode(data))
            except msgspec.DecodeError as exc:
                self._count(self.metrics.ws_malformed if self.metrics else None, "batch", str(exc))
                raise Drop from None
        return data

    def _reassemble(self, key: Hashable, index: int, total: int, chunk: Payload) -> Payload:
        partial = self._pending.get(key)
        if partial is None:
            if len(self._pending) >= self.max_pending:
                self._evict_oldest()
            partial = self._pending[key] = _Partial(total)
        if not 0 <= index < partial.total or total != partial.total:
            del self._pending[key]
            self._count(self.metrics.ws_malformed if self.metrics else None, "part", f"part {index}/{total}")
            raise Drop
        partial.size += len(chunk) - len(partial.chunks.get(index, ""))
        partial.chunks[index] = chunk
        if partial.size > self.max_size:
            del self._pending[key]
            self._count(self.metrics.ws_dropped if self.metrics else None, "too_large", f"over {self.max_size}")
            raise Drop
        if len(partial.chunks) < partial.total:
            raise Drop
        del self._pending[key]
        parts = [partial.chunks[i] for i in range(partial.total)]
        return "".join(parts) if isinstance(chunk, str) else b"".join(parts)  # type: ignore[arg-type]

    def _evict_oldest(self) -> None:
        oldest = next(iter(self._pending))
        del self._pending[oldest]
        self._count(self.metrics.ws_dropped if self.metrics else None, "partial_evicted", "too many partials")

    @property
    def pending(self) -> int:
        """Messages waiting for more parts."""
        return len(self._pending)

    def _count(self, counter: Counter | None, reason: str, detail: str) -> None:
        if counter is not None:
            counter.labels(self.exchange, reason).inc()
        _log.warning("ws message dropped", exchange=self.exchange, reason=reason, detail=detail)

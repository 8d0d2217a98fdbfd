"""``Inflate`` (alias ``Deflate``): decompress gzip / zlib / raw-deflate binary frames, with a cap.

HTX sends gzip frames, OKX raw deflate (no header), others zlib. ``mode="auto"`` tells them
apart by their headers: gzip starts with ``1f 8b`` (RFC 1952 §2.3.1), zlib with a CMF/FLG
pair whose 16-bit value is a multiple of 31 and whose method is 8 (RFC 1950 §2.2); anything
else is taken as raw deflate (RFC 1951). Text frames pass through untouched.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import Counter

from lotusx.kernel.errors import ConfigError, FrameTooLarge, ProtocolError, StreamError
from lotusx.log import get_logger
from lotusx.metrics import Metrics
from lotusx.ws.frames import Drop

Mode = Literal["auto", "gzip", "zlib", "raw"]
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "zlib": zlib.MAX_WBITS, "raw": -zlib.MAX_WBITS}
_GZIP = _WBITS["gzip"]
_log = get_logger("lotusx.ws.deflate")
# Deflate cannot expand input more than 1032:1 (zlib technical details, "Maximum compression
# factor"), so a frame under max_size / 1032 bytes cannot reach the cap and is inflated in one
# call; only larger frames pay for a capped decompressor object (~1 us and a 32 KiB window).
_MAX_RATIO = 1032


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def detect(data: bytes) -> Mode:
    """The compression format of ``data`` judged by its header."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
        return "zlib"
    return "raw"


@dataclass(frozen=True)
class Inflate:
    """Frame stage: ``bytes`` in, decompressed ``bytes`` out; ``str`` passes through.

    A frame that would inflate past ``max_size`` bytes is never fully inflated (the
    decompressor stops at the cap): it is counted in ``ws_dropped{reason="too_large"}`` and
    dropped. Corrupt data is counted in ``ws_malformed{reason="inflate"}`` and dropped.
    """

    mode: Mode = "auto"
    max_size: int = 8 * 1024 * 1024
    metrics: Metrics | None = None
    exchange: str = ""
    _wbits: int | None = field(init=False, repr=False, compare=False)  # None: judged per frame
    _one_call: int = field(init=False, repr=False, compare=False)  # frames up to this size cannot pass the cap

    def __post_init__(self) -> None:
        # Refused here, not found per frame: a mode outside _WBITS was judged per frame on the fast
        # path and a KeyError on the slow one; a max_size of 0 dropped every compressed frame as too large.
        if self.mode != "auto" and self.mode not in _WBITS:
            raise ConfigError(f"Inflate mode must be 'auto', 'gzip', 'zlib' or 'raw', got {self.mode!r}")
        if not _positive_int(self.max_size):
            raise ConfigError(f"Inflate max_size must be a whole number of bytes >= 1, got {self.max_size!r}")
        object.__setattr__(self, "_wbits", _WBITS.get(self.mode))
        object.__setattr__(self, "_one_call", self.max_size // _MAX_RATIO)

    def inflate(self, data: bytes) -> bytes:
        """Decompress ``data``; raise ``FrameTooLarge`` past the cap, ``ProtocolError`` if corrupt."""
        mode = detect(data) if self.mode == "auto" else self.mode
        if len(data) * _MAX_RATIO <= self.max_size:
            try:
                return zlib.decompress(data, _WBITS[mode])
            except zlib.error as exc:
                raise ProtocolError(f"cannot inflate {mode} frame of {len(data)} bytes: {exc}") from None
        decompressor = zlib.decompressobj(_WBITS[mode])
        try:
            out = decompressor.decompress(data, self.max_size + 1)
        except zlib.error as exc:
            raise ProtocolError(f"cannot inflate {mode} frame of {len(data)} bytes: {exc}") from None
        if len(out) > self.max_size or decompressor.unconsumed_tail:
            raise FrameTooLarge(f"{mode} frame of {len(data)} bytes inflates past {self.max_size} bytes")
        if not decompressor.eof:  # zlib.decompress refuses a stream cut short; a decompressor hands back its part
            raise ProtocolError(f"cannot inflate {mode} frame of {len(data)} bytes: cut short")
        return out

    def __call__(self, data: str | bytes) -> str | bytes:
        if isinstance(data, str):
            return data
        if len(data) <= self._one_call:  # inflate()'s common case, inlined: this runs per frame
            wbits = self._wbits or (_GZIP if data.startswith(b"\x1f\x8b") else _WBITS[detect(data)])
            try:
                return zlib.decompress(data, wbits)
            except zlib.error:
                pass  # inflate() below fails the same way and says why
        try:
            return self.inflate(data)
        except StreamError as exc:
            self._count(self.metrics.ws_dropped if self.metrics else None, "too_large", exc)
        except ProtocolError as exc:
            self._count(self.metrics.ws_malformed if self.metrics else None, "inflate", exc)
        raise Drop

    def _count(self, counter: Counter | None, reason: str, exc: Exception) -> None:
        if counter is not None:
            counter.labels(self.exchange, reason).inc()
        _log.warning("ws frame dropped", exchange=self.exchange, reason=reason, error=str(exc))


Deflate = Inflate

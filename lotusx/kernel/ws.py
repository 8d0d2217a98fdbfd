"""WebSocket frames as the kernel sees them, independent of any library."""

from __future__ import annotations

import enum

import msgspec


class WsKind(enum.IntEnum):
    """Frame kinds; values are the RFC 6455 opcodes."""

    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class WsFrame(msgspec.Struct, frozen=True):
    """One inbound or outbound frame. ``data`` is ``str`` for TEXT, ``bytes`` otherwise."""

    kind: WsKind
    data: str | bytes = b""
    close_code: int | None = None

    @staticmethod
    def text(data: str) -> WsFrame:
        """A text frame."""
        return WsFrame(WsKind.TEXT, data)

    @staticmethod
    def binary(data: bytes) -> WsFrame:
        """A binary frame."""
        return WsFrame(WsKind.BINARY, data)

    @staticmethod
    def ping(data: bytes = b"") -> WsFrame:
        """A protocol ping."""
        return WsFrame(WsKind.PING, data)

    @staticmethod
    def pong(data: bytes = b"") -> WsFrame:
        """A protocol pong."""
        return WsFrame(WsKind.PONG, data)

    @staticmethod
    def close(code: int = 1000, reason: str = "") -> WsFrame:
        """A close frame with ``code``."""
        return WsFrame(WsKind.CLOSE, reason, close_code=code)

    def __repr__(self) -> str:
        return f"WsFrame({self.kind.name}, {len(self.data)} {'chars' if isinstance(self.data, str) else 'bytes'}" + (
            f", close_code={self.close_code})" if self.close_code is not None else ")")

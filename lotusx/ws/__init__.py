"""The WebSocket kernel: frame stages, outbound sends and the reconnecting, sharded stream."""

from lotusx.ws.backoff import Backoff
from lotusx.ws.conflate import conflate
from lotusx.ws.dechunk import Dechunk
from lotusx.ws.deflate import Deflate, Inflate
from lotusx.ws.delivery import Delivery, Gap, Lost, Overflow, Resumed
from lotusx.ws.dialect import WsDialect
from lotusx.ws.exact import Levels
from lotusx.ws.frames import Drop, Frames, Many, frames
from lotusx.ws.heartbeat import Heartbeat
from lotusx.ws.outbound import WS_SEND, sender, session_service
from lotusx.ws.parse import Malformed, Parse
from lotusx.ws.raw import RawStream
from lotusx.ws.reconnect import ReconnectWs, WsStats, live_unless_closed, subscribe_unless_closed

__all__ = [
    "WS_SEND", "Backoff", "Dechunk", "Deflate", "Delivery", "Drop", "Frames", "Gap", "Heartbeat",
    "Inflate", "Levels", "Lost", "Malformed", "Many", "Overflow", "Parse", "RawStream", "ReconnectWs", "Resumed",
    "WsDialect", "WsStats",
    "conflate", "frames", "live_unless_closed", "sender", "session_service", "subscribe_unless_closed",
]

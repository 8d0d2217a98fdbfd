"""``WsDialect``: the venue-specific bits of a WebSocket stream, as data and tiny functions.

Matchers receive messages as the frame pipeline produced them (dicts with ``Parse()``, or the
venue's msgspec Structs), so one decode serves both routing and delivery. Control messages
(acks, pongs, pings, notices) must therefore survive the pipeline's user stage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from lotusx.kernel.errors import LotusXError

Outgoing = str | bytes
Ack = tuple[int, bool, "str | None"]  # (request id, accepted?, venue error text)
# (accepted?, venue error text), or the error the refusal means when the dialect can tell: an
# AuthenticationError (or ConfigError, SubscriptionRejected) ends the stream, any other the
# shard reconnects on (a throttle, a timestamp out of the venue's window).
LoginAck = tuple[bool, "str | None"] | LotusXError


@dataclass(frozen=True)
class WsDialect:
    """How one venue subscribes, acknowledges, pings, logs in and announces shutdowns.

    Every field is optional; leave out what the venue does not do. ``lifetime`` is the
    venue's maximum connection age in seconds (Binance: 24 h). Two limits differ in kind:
    ``max_args`` caps the streams of one subscribe or unsubscribe *request* (Bybit spot: 10),
    so more are sent as several requests, each acked on its own; ``max_streams`` (a count,
    Binance: 1024) and ``max_chars`` (the total length of the stream names, Bybit public:
    21,000 characters of ``args``) cap what one *connection* carries, and further
    connections are opened only for streams past them.
    """

    name: str = ""
    subscribe: Callable[[Sequence[str], int], Outgoing] | None = None
    unsubscribe: Callable[[Sequence[str], int], Outgoing] | None = None
    ack: Callable[[Any], Ack | None] | None = None
    ping: Callable[[], Outgoing] | None = None  # app-level ping; None: protocol pings
    pong: Callable[[Any], bool] | None = None  # is this the answer to our app-level ping?
    server_ping: Callable[[Any], Outgoing | None] | None = None  # reply to a venue's app-level ping
    login: Callable[[], Awaitable[Outgoing]] | None = None  # fresh, signed login message
    login_ack: Callable[[Any], LoginAck | None] | None = None
    shutdown: Callable[[Any], bool] | None = None  # venue notice that this connection will close
    identity: Callable[[Any], Hashable | None] | None = None  # dedup key, e.g. (stream, update id)
    # The types control messages decode to (acks, pongs, notices). Declared, only these meet
    # the matchers above, instead of every market data message; None: all messages do.
    control_types: frozenset[type] | None = None
    max_args: int | None = None  # streams per (un)subscribe request
    max_streams: int | None = None  # streams per connection
    max_chars: int | None = None  # characters of stream names per connection (see lotusx.ws.shard.size)
    lifetime: float | None = None

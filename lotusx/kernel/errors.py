"""The LotusX error tree.

Every error LotusX raises is a :class:`LotusXError`; catch that to catch them all::

    LotusXError
    ├── ConfigError                 bad arguments or declarations (a programming error)
    │   └── OrderOutsideRules       an order off its instrument's rules, refused before sending (``rule``, ``allowed``)
    ├── TransportError              the wire failed
    │   ├── ConnectError            never reached the server: always safe to retry
    │   ├── Timeout                 no answer in time (ambiguous for writes)
    │   │   └── DeadlineExceeded    the overall deadline of a call ran out
    │   ├── Disconnected            connection lost (``sent`` tells if the request left)
    │   └── ProtocolError           malformed or oversized HTTP / WebSocket traffic
    ├── VenueError                  the venue answered with an error
    │   ├── RateLimited             429 / venue throttle code (``retry_after`` seconds)
    │   │   └── IpBanned            418, Binance's WAF 403, Bybit's 403: every pool cools off (``retry_after``)
    │   ├── ServerError             5xx or venue "internal error" (ambiguous for writes)
    │   ├── AuthenticationError     bad API key or permissions
    │   │   └── InvalidSignature
    │   ├── TimestampOutOfWindow    recvWindow / expiry check failed: resync the clock
    │   ├── InvalidRequest          4xx the caller must fix
    │   │   └── NotFound
    │   └── OrderRejected
    │       ├── InsufficientBalance
    │       └── DuplicateClientOrderId
    ├── AmbiguousOutcome            the venue may have acted on a write: look it up before acting again
    │   ├── AmbiguousOrderState     cannot tell whether an order exists (``client_order_id``)
    │   └── AmbiguousWithdrawal     a withdrawal with no readable answer: it may have moved (``client_id``)
    ├── DecodeError                 a payload does not match its schema
    └── StreamError                 a WebSocket stream problem
        ├── FrameTooLarge           decompressed / reassembled frame over its cap
        ├── SubscriptionRejected
        └── QueueOverflow           consumer too slow under the ``fail`` overflow policy

Error texts never contain secrets: transports put method and path in them, never the query
string (which carries signatures) or headers (which carry keys). Nor does what a transport's
error links to: nothing (no ``__cause__``, no ``__context__``), as the HTTP client's own
exception holds the request as sent.

Errors pickle with every field (and their ``response``): one raised in a worker process
reaches its parent whole, ``AmbiguousOrderState.client_order_id`` included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lotusx.kernel.message import Response


class LotusXError(Exception):
    """Root of every LotusX error; carries the venue's code and message when there is one."""

    def __init__(
        self,
        message: str = "",
        *,
        code: int | str | None = None,
        venue_message: str | None = None,
        status: int | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.venue_message = venue_message
        self.status = status if status is not None else (response.status if response else None)
        self.response = response

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls __init__(*args): that fails for a subclass with a
        # required keyword (AmbiguousOrderState's client_order_id), so an error raised in a
        # worker process would not reach its parent. Rebuild without __init__ instead.
        return _rebuilt, (type(self), self.args, self.__dict__)

    def __str__(self) -> str:
        parts = [self.message] if self.message else []
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.venue_message:
            parts.append(f"venue_message={self.venue_message!r}")
        return " ".join(parts) or type(self).__name__


def _rebuilt(cls: type[LotusXError], args: tuple[Any, ...], state: dict[str, Any]) -> LotusXError:
    """An unpickled ``cls`` error: its args and attributes as they were, ``__init__`` not run again."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(LotusXError):
    """Invalid configuration or declaration."""


class OrderOutsideRules(ConfigError):
    """An order breaks its symbol's trading rules (``Instrument.check``): refused before anything is sent.

    Not an :class:`OrderRejected`: that is a :class:`VenueError`, the venue's answer, and nothing
    reached the venue here. A ``ConfigError``, as every other refusal of an order's arguments before
    sending is, so ``except ConfigError`` still catches all of them. ``rule`` names the
    :class:`~lotusx.models.Instrument` field broken (``"tick_size"``, ``"min_notional"``, ...; ``"trading"``
    for a symbol the venue does not trade now), ``allowed`` is that field's value.
    """

    def __init__(self, message: str = "", *, rule: str, allowed: Any = None,
                 code: int | str | None = None, venue_message: str | None = None,
                 status: int | None = None, response: Response | None = None) -> None:
        super().__init__(message, code=code, venue_message=venue_message, status=status, response=response)
        self.rule = rule
        self.allowed = allowed


class TransportError(LotusXError):
    """The request or stream failed on the wire."""


class ConnectError(TransportError):
    """Connecting failed, so the request provably never reached the server."""


class Timeout(TransportError):
    """No answer in time; the server may or may not have acted on the request."""


class DeadlineExceeded(Timeout):
    """The overall deadline of a logical call (all attempts together) ran out."""


class Disconnected(TransportError):
    """The connection was lost; ``sent`` says whether the request had left the client."""

    def __init__(self, message: str = "", *, sent: bool = True, close_code: int | None = None,
                 code: int | str | None = None, venue_message: str | None = None,
                 status: int | None = None, response: Response | None = None) -> None:
        super().__init__(message, code=code, venue_message=venue_message, status=status, response=response)
        self.sent = sent
        self.close_code = close_code


class ProtocolError(TransportError):
    """Malformed HTTP or WebSocket traffic, or an answer or frame over its size cap."""


class VenueError(LotusXError):
    """The venue answered, with an error."""


class RateLimited(VenueError):
    """The venue throttled us; ``retry_after`` is the cool-off in seconds when known."""

    def __init__(self, message: str = "", *, retry_after: float | None = None, pool: str | None = None,
                 code: int | str | None = None, venue_message: str | None = None,
                 status: int | None = None, response: Response | None = None) -> None:
        super().__init__(message, code=code, venue_message=venue_message, status=status, response=response)
        self.retry_after = retry_after
        self.pool = pool


class IpBanned(RateLimited):
    """The venue blocked the IP (Binance 418 or its firewall's 403, Bybit 403); every pool of the key must cool off."""


class ServerError(VenueError):
    """5xx or a venue-declared internal error; the outcome of a write is unknown."""


class AuthenticationError(VenueError):
    """API key rejected, missing or lacking permission."""


class InvalidSignature(AuthenticationError):
    """The venue rejected the request signature."""


class TimestampOutOfWindow(VenueError):
    """The request timestamp is outside the venue's window: the clock needs a resync."""


class InvalidRequest(VenueError):
    """The venue rejected the request as malformed; retrying will not help."""


class NotFound(InvalidRequest):
    """The requested object (order, symbol) does not exist."""


class OrderRejected(VenueError):
    """The venue rejected an order."""


class InsufficientBalance(OrderRejected):
    """Not enough balance for the order or withdrawal."""


class DuplicateClientOrderId(OrderRejected):
    """An order with this client order id already exists: reconcile, never re-send."""


class AmbiguousOutcome(LotusXError):
    """The venue may have acted on a write, and what it did is unknown: look it up before acting again.

    Never a refusal: asking again under a new id could do the thing twice.
    """


class AmbiguousOrderState(AmbiguousOutcome):
    """Whether the order exists (or, for a cancel or an amend, whether it happened) could not be determined.

    Query it by ``client_order_id``; a cancel or an amend that named the order by its venue id
    alone carries that ``order_id`` too (``client_order_id`` then "" when unknown).
    """

    def __init__(self, message: str = "", *, client_order_id: str, order_id: str | None = None,
                 code: int | str | None = None, venue_message: str | None = None,
                 status: int | None = None, response: Response | None = None) -> None:
        super().__init__(message, code=code, venue_message=venue_message, status=status, response=response)
        self.client_order_id = client_order_id
        self.order_id = order_id

    def __str__(self) -> str:
        named = f" order_id={self.order_id}" if self.order_id is not None else ""
        return f"{super().__str__()} client_order_id={self.client_order_id}{named}"


class AmbiguousWithdrawal(AmbiguousOutcome):
    """A withdrawal that may have moved the funds: find it by ``client_id`` before asking again.

    The venue accepted it but its answer is unreadable, or no answer told: a timeout, a 5xx, a
    connection lost after the request left, a venue code that is no documented refusal (a server
    failure, "busy", a code the docs do not list; its ``code`` and ``venue_message`` kept).

    ``client_id`` is the withdrawal's own id (Binance ``withdrawOrderId``, Bybit ``requestId``), if one was given.
    """

    def __init__(self, message: str = "", *, client_id: str | None,
                 code: int | str | None = None, venue_message: str | None = None,
                 status: int | None = None, response: Response | None = None) -> None:
        super().__init__(message, code=code, venue_message=venue_message, status=status, response=response)
        self.client_id = client_id

    def __str__(self) -> str:
        return f"{super().__str__()} client_id={self.client_id}"


class DecodeError(LotusXError):
    """A payload does not match its schema."""


class StreamError(LotusXError):
    """A WebSocket stream problem."""


class FrameTooLarge(StreamError):
    """A frame exceeded its size cap after decompression or reassembly."""


class SubscriptionRejected(StreamError):
    """The venue refused a subscription."""


class QueueOverflow(StreamError):
    """The consumer fell behind under the ``fail`` overflow policy."""

"""The LotusX kernel: shapes, composition, protocols and errors. No I/O library imports."""

from lotusx.kernel.classify import Classifier, MapErrors, chain, http_errors, retry_after
from lotusx.kernel.client import RestClient, json_body, pairs, param_value
from lotusx.kernel.credentials import Credentials, known_secrets, register_secret
from lotusx.kernel.errors import (
    AmbiguousOrderState,
    AmbiguousOutcome,
    AmbiguousWithdrawal,
    AuthenticationError,
    ConfigError,
    ConnectError,
    DeadlineExceeded,
    DecodeError,
    Disconnected,
    DuplicateClientOrderId,
    FrameTooLarge,
    InsufficientBalance,
    InvalidRequest,
    InvalidSignature,
    IpBanned,
    LotusXError,
    NotFound,
    OrderOutsideRules,
    OrderRejected,
    ProtocolError,
    QueueOverflow,
    RateLimited,
    ServerError,
    StreamError,
    SubscriptionRejected,
    Timeout,
    TimestampOutOfWindow,
    TransportError,
    VenueError,
)
from lotusx.kernel.message import ANONYMOUS, Endpoint, Idempotency, Request, Response, encode_query
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock, RestApi, Signer, SystemClock, WsPump, WsSession
from lotusx.kernel.service import Around, Layer, Middleware, Service, Stack, around, stack
from lotusx.kernel.ws import WsFrame, WsKind

__all__ = [
    "ANONYMOUS", "SYSTEM_CLOCK", "AmbiguousOrderState", "AmbiguousOutcome", "AmbiguousWithdrawal",
    "Around", "AuthenticationError", "Classifier",
    "Clock", "ConfigError", "ConnectError", "Credentials", "DeadlineExceeded", "DecodeError",
    "Disconnected", "DuplicateClientOrderId", "Endpoint", "FrameTooLarge", "Idempotency",
    "InsufficientBalance", "InvalidRequest", "InvalidSignature", "IpBanned", "Layer", "LotusXError",
    "MapErrors", "Middleware", "NotFound", "OrderOutsideRules", "OrderRejected", "ProtocolError", "QueueOverflow",
    "RateLimited", "Request", "Response", "RestApi", "RestClient", "ServerError", "Service", "Signer",
    "Stack", "StreamError", "SubscriptionRejected", "SystemClock", "Timeout", "TimestampOutOfWindow",
    "TransportError", "VenueError", "WsFrame", "WsKind", "WsPump", "WsSession", "around", "chain",
    "encode_query", "http_errors", "json_body", "known_secrets", "pairs", "param_value", "register_secret",
    "retry_after", "stack",
]

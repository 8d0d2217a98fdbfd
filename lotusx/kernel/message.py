"""Immutable requests and responses, and the endpoint metadata layers key off."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import quote

import msgspec
from multidict import CIMultiDict
from typing_extensions import TypeVar

from lotusx.kernel.errors import ConfigError, DecodeError

# Any when ``type=`` is left out: ``x = await client.get(path)`` needs no annotation under mypy --strict.
T = TypeVar("T", default=Any)

EMPTY: Mapping[str, Any] = MappingProxyType({})


class Idempotency(enum.Enum):
    """What a retry of this endpoint may do (see ``lotusx.layers.retry``)."""

    SAFE = "safe"  # reads, cancels by id: retry freely
    UNSAFE = "unsafe"  # retry only when the request provably never reached the server
    SAFE_WITH_CLIENT_ID = "safe_with_client_id"  # order placement: reconcile by client id first


class Endpoint(msgspec.Struct, frozen=True):
    """Static metadata of one venue endpoint, declared once in the connector's table.

    ``costs`` maps rate-limit pool names to what one call charges each pool, e.g.
    ``{"REQUEST_WEIGHT": 1, "ORDERS": 1, "RAW_REQUESTS": 1}``. ``idempotency`` left ``None``
    goes by the request's method (:func:`idempotency_of`): a write nobody classified is never
    re-sent once it may have reached the venue. ``answer_codes`` are venue error codes that are
    an answer for this endpoint, not a failure (Binance's cancel-all answers "nothing open" with
    -2011): the connector reads them, and ``Trace`` logs them at info, not warning.
    """

    name: str
    method: str = "GET"
    path: str = ""
    costs: Mapping[str, int] = EMPTY
    signed: bool = False
    idempotency: Idempotency | None = None
    answer_codes: tuple[int | str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.costs, MappingProxyType):
            msgspec.structs.force_setattr(self, "costs", MappingProxyType(dict(self.costs)))


ANONYMOUS = Endpoint("anonymous")

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def idempotency_of(request: Request) -> Idempotency:
    """The endpoint's declared class, else ``SAFE`` for a GET, HEAD or OPTIONS and ``UNSAFE`` for any other method.

    By the request's own method, not the endpoint's: ``RestClient.post(path)`` without an
    endpoint (or a hand-declared ``Endpoint("amend", "POST")``) may change state, and a
    timed-out write re-sent "because it was safe" is an order sent twice.
    """
    declared = request.endpoint.idempotency
    if declared is not None:
        return declared
    return Idempotency.SAFE if request.method in _SAFE_METHODS else Idempotency.UNSAFE


_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9_.~-]")
# The unreserved set: a name or value of only these bytes is its own encoding. Deleting them with
# bytes.translate (one C pass) is the check; a regex match costs several times that, more again
# right after a round trip.
_UNRESERVED_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"


def _quote(text: str) -> str:
    return quote(text, safe="") if _NEEDS_QUOTING.search(text) else text


# The last query encoded, and the tuple it encodes. A signer encodes the query it signs, and the
# transport, a few plain calls later in the same task, sends exactly that text: remembering it
# spares encoding a signed query twice per attempt. Matched by identity, never by value, and
# the remembered tuple is kept alive, so its id cannot pass to another tuple: never a stale text.
_last_encoded: tuple[tuple[tuple[str, str], ...], str] = ((), "")


def encode_query(pairs: tuple[tuple[str, str], ...]) -> str:
    """Percent-encode ordered pairs (RFC 3986 unreserved set kept), exactly as sent and signed."""
    global _last_encoded
    last = _last_encoded
    if last[0] is pairs:
        return last[1]
    if not pairs:
        return ""
    # Most queries (symbols, sides, decimals, ids) need no quoting at all: join once and check
    # the whole text once. With the unreserved bytes deleted, only the separators may be left,
    # exactly "=&=&...=" (one '=' per pair, one '&' between pairs): then no name or value holds
    # any other byte, nor an '=' or '&', and the joined text is already the encoding.
    text = "&".join([f"{k}={v}" for k, v in pairs])
    if not (text.isascii()
            and text.encode("ascii").translate(None, _UNRESERVED_BYTES) == b"=&" * (len(pairs) - 1) + b"="):
        try:
            text = "&".join([f"{_quote(k)}={_quote(v)}" for k, v in pairs])
        except UnicodeEncodeError:
            raise _not_text(pairs) from None
    _last_encoded = (pairs, text)
    return text


def _not_text(pairs: tuple[tuple[str, str], ...]) -> ConfigError:
    """The error for a query holding a str that is no text: undecodable bytes (a lone surrogate)."""
    # The value is not shown: it may be a key or a listen key.
    name = next((k for k, v in pairs if not is_text(k) or not is_text(v)), "?")
    return not_text(f"query parameter {name!r}")


def is_text(value: str) -> bool:
    """Whether ``value`` encodes as UTF-8: os.environ and surrogateescape files carry other bytes as lone surrogates."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def not_text(what: str) -> ConfigError:
    """The ``ConfigError`` for ``what`` holding bytes that are not UTF-8 text (never showing the value)."""
    return ConfigError(f"{what} holds bytes that are not UTF-8 text "
                       "(read from a file or environment variable in another encoding?)")


def extend_query(pairs: tuple[tuple[str, str], ...],
                 more: tuple[tuple[str, str], ...]) -> tuple[tuple[tuple[str, str], ...], str]:
    """``pairs + more`` and its encoding, remembered for the next :func:`encode_query`.

    Pairs are encoded one by one and joined with ``&``, so the whole is the encoding of
    ``pairs`` (remembered, when ``pairs`` was the query just encoded), ``&`` and that of ``more``.
    """
    global _last_encoded
    text, added = encode_query(pairs), encode_query(more)
    joined = pairs + more
    whole = f"{text}&{added}" if text and added else text or added
    _last_encoded = (joined, whole)
    return joined, whole


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """One REST call. Frozen: a layer that changes it builds a new one (``replace``/``with_*``).

    ``query`` and ``headers`` are ordered pairs so signing sees exactly what is sent.
    ``ext`` carries values for user layers; it is read-only.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    endpoint: Endpoint = ANONYMOUS
    ext: Mapping[str, Any] = EMPTY

    def __post_init__(self) -> None:
        if type(self.ext) is not MappingProxyType:
            msgspec.structs.force_setattr(self, "ext", MappingProxyType(dict(self.ext)))

    def replace(self, **changes: Any) -> Request:
        """A copy with ``changes`` applied."""
        return msgspec.structs.replace(self, **changes)

    def with_query(self, *pairs: tuple[str, str]) -> Request:
        """A copy with ``pairs`` appended to the query."""
        return msgspec.structs.replace(self, query=self.query + pairs)

    def with_headers(self, *pairs: tuple[str, str]) -> Request:
        """A copy with ``pairs`` appended to the headers."""
        return msgspec.structs.replace(self, headers=self.headers + pairs)

    def with_ext(self, **values: Any) -> Request:
        """A copy whose ``ext`` also holds ``values``."""
        # Already read-only and private to the copy: __post_init__ need not copy it again.
        # ``values`` is already a fresh dict. ``ext`` is a mappingproxy (__post_init__), whose
        # ``|`` copies the dict beneath at C speed; ``{**ext, ...}`` would go key by key.
        if self.ext:
            values = cast("MappingProxyType[str, Any]", self.ext) | values
        return msgspec.structs.replace(self, ext=MappingProxyType(values))

    @property
    def query_string(self) -> str:
        """The encoded query, byte for byte what the transport sends."""
        return encode_query(self.query)

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or ``None``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def __repr__(self) -> str:
        # Only method, path and endpoint name: query and headers carry signatures and keys.
        return f"Request({self.method} {self.path} endpoint={self.endpoint.name!r})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """What ``repr`` shows, for rich: msgspec's own would show every field, key and signature too.

        rich's pretty printer asks this, not ``repr``: so do structlog's tracebacks (JSON and
        console) when rich is installed, rendering the locals of every frame a failed call passed.
        """
        return [("method", self.method), ("path", self.path), ("endpoint", self.endpoint.name)]


class Response(msgspec.Struct, frozen=True, kw_only=True):
    """What came back: status, headers, raw body bytes and the wire time in seconds.

    Decoding happens once, at the edge, with :meth:`decode`; layers read only status and
    headers (a classifier may peek at the body of an error).
    """

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = EMPTY
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        """Header ``name``, case-insensitive whatever mapping the transport gave."""
        value = self.headers.get(name)
        if value is not None:
            return value
        lname = name.lower()
        for key, val in self.headers.items():
            if key.lower() == lname:
                return val
        return None

    def decode(self, type: type[T] = Any) -> T:  # type: ignore[assignment]
        """Decode the JSON body into ``type`` (a msgspec Struct, builtin or ``Any``)."""
        try:
            decoded: T = msgspec.json.decode(self.body, type=type)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise DecodeError(f"cannot decode response as {getattr(type, '__name__', type)}: {exc}",
                              response=self) from None
        return decoded

    def __reduce__(self) -> tuple[Any, ...]:
        # The transport's headers are aiohttp's read-only view, which does not pickle (nor
        # does EMPTY); a CIMultiDict copy keeps repeated headers and case-free lookups.
        return _response, (self.status, self.body, CIMultiDict(self.headers), self.elapsed)

    def __repr__(self) -> str:
        return f"Response(status={self.status}, {len(self.body)} bytes, elapsed={self.elapsed:.6f})"


def _response(status: int, body: bytes, headers: Mapping[str, str], elapsed: float) -> Response:
    """An unpickled :class:`Response`."""
    return Response(status=status, body=body, headers=headers, elapsed=elapsed)

"""A venue declaration, and the one place that turns a declaration into running stacks.

A connector package declares a :class:`Venue` (URLs, limit pools, usage headers, error map,
signer choice, reconcile query, WebSocket dialect, its endpoint table) and a connector class that
takes the built pieces. :func:`open_venue` wires the canonical REST stack

    outer… ∘ Retry ∘ ClockSync ∘ RateLimit ∘ Sign ∘ Trace ∘ inner… ∘ MapErrors ∘ AiohttpRest

exactly once per connector, so no venue package holds transport, retry or throttle code.
``outer`` layers see one logical call; ``inner`` layers see every wire attempt, as signed: the
clock sync's server-time samples and the reconcile queries too.

Every request the venue counts is charged to the limiter: ``ClockSync`` sits outside
``RateLimit`` so its re-send after a timestamp rejection is charged like any attempt, and the
clock sync's server-time samples and the unretried ``Parts.signed`` calls (reconcile queries)
go through the same ``RateLimit`` too (and ``Parts.signed`` through ``Trace``). The limiter's
windows follow the venue's clock (the :class:`ServerClock`; the local clock until its first
sync), since that is the clock the venue counts by.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from lotusx.kernel.classify import Classifier, MapErrors
from lotusx.kernel.client import RestClient
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.errors import ConfigError, LotusXError
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock, Signer, WsSession
from lotusx.kernel.service import Layer, Service, stack
from lotusx.layers.clock import ClockSync, ServerClock, fresh
from lotusx.layers.limiter import Limiter, Pool
from lotusx.layers.ratelimit import RateLimit, UsageParser
from lotusx.layers.retry import Retry, RetryPolicy
from lotusx.layers.sign import NoCredentials, Sign, no_key
from lotusx.layers.trace import Trace
from lotusx.log import get_logger, without_password
from lotusx.metrics import Metrics
from lotusx.transport import AiohttpRest, AiohttpWs
from lotusx.transport.url import parsed_url, proxy_url
from lotusx.transport.ws_rpc import Handshake, RpcCodec, WsRpc
from lotusx.ws.outbound import admission

_log = get_logger("lotusx.ws")  # a ws_trading connection's failures, logged as a stream's are

Reconcile = Callable[[Service, Request], Awaitable[Response | None]]


class Connector(Protocol):
    """What :func:`lotusx.connect` yields: a venue's public API, closable."""

    async def aclose(self) -> None: ...


class Stream(Protocol):
    """A connector's open stream (a ``ReconnectWs``), as :meth:`Parts.opened` keeps it."""

    async def close(self) -> None: ...


S = TypeVar("S", bound=Stream)
# Room past the venue clock estimate for a list's default end: as the reconciles' GAP_SLACK, far
# beyond any sync's error, and an end in the future is one the venues take (they filter by it).
LIST_SLACK_MS = 10_000


def parts_for(connector: str, venue: str, parts: object) -> Parts:
    """``parts``, or a ``ConfigError`` for a connector built by hand from something else (a RestClient, say)."""
    if not isinstance(parts, Parts):
        raise ConfigError(f"{connector}(...) takes the Parts that lotusx.connect builds, got {type(parts).__name__}: "
                          f"for your own layers pass outer=[...] / inner=[...] to lotusx.connect({venue!r}, ...), "
                          "for your own wire transport=...")
    return parts


@dataclass(frozen=True)
class Parts:
    """What a connector is built from; tests and users may build these by hand."""

    venue: Venue
    rest: RestClient
    clock: ServerClock
    credentials: Credentials | None
    ws_url: str
    metrics: Metrics
    signed: Service  # signed and rate-limited, but not retried: for reconcile queries
    ws_api_url: str = ""  # base URL of the venue's WebSocket API (requests over a socket); "" if none
    # The REST stack's RateLimit (its limiter, storage and pools): for limits a WebSocket shares, such as
    # connection attempts per IP (lotusx.ws.outbound.admission).
    rate_limit: Layer = field(default_factory=stack, repr=False)
    # The streams open now (each goes when its consumer is done with it): the connector's aclose ends them.
    streams: weakref.WeakSet[Stream] = field(default_factory=weakref.WeakSet, compare=False, repr=False)
    # The HTTP proxy every socket goes through (``lotusx.connect(proxy=...)``); it may hold a password.
    proxy: str | None = field(default=None, repr=False)
    # ``lotusx.connect(ws_session=...)``: what opens a stream's sessions instead (a recorder, a replay).
    ws_session: Callable[[str], WsSession] | None = field(default=None, repr=False)

    @property
    def local_clock(self) -> Clock:
        """The clock ``lotusx.connect`` was given: a WebSocket's timers, back-offs and ``Gap`` times.

        Not :attr:`clock`, the venue's: a Gap is marked on the local clock, and ``gap_start_ms``
        moves it onto the venue's by the offset measured against this one.
        """
        return self.clock.clock

    async def venue_ms(self, where: str) -> int:
        """Now on the venue's clock, in ms, for a time a request carries itself (a body's
        ``timestamp``, a window's end): the clock is made fresh first, as ``ClockSync`` makes it
        before ``Sign`` stamps. Read before the first sync, it would be this machine's time.
        """
        await fresh(self.clock, where)
        return int(self.clock.time() * 1000)

    async def list_end(self, where: str) -> int:
        """The default end (ms) of a dated list (order history, fills): past anything the venue has dated yet.

        :meth:`venue_ms` is an estimate, off by its error (half a round trip, and the drift since
        the last sync): ended there, a window leaves out what the venue dated a few ms later, the
        fill a stream has just reported. Nothing is dated in the future, so the end is ``LIST_SLACK_MS`` later.
        """
        return await self.venue_ms(where) + LIST_SLACK_MS

    def need_credentials(self, what: str) -> Credentials:
        """The credentials, or a ``ConfigError`` saying ``what`` needs them and how to pass them."""
        if self.credentials is None:
            raise no_key(what, self.venue.name)
        return self.credentials

    def check_open(self) -> None:
        """Raise ``ConfigError`` once the connector was closed: a stream opened then would outlive it."""
        if self.rest.closed:
            raise ConfigError(f"this {self.venue.name} connector is closed (its `async with lotusx.connect(...)` "
                              "block has ended): open a new one")

    @asynccontextmanager
    async def ended_by_close(self) -> AsyncIterator[None]:
        """Around a watch's loop: a failure once the connector is closed ends the watch instead, normally.

        The connector closes its streams, then its REST client: a watch awaiting a REST query
        at that moment (a reconcile after a reconnect, a book's snapshot) fails with it, where
        its consumer, in another task, is owed the end its ``async for`` gets from a closed stream.
        A watch begun on a connector already closed still raises its ``ConfigError``: that is a mistake.
        """
        closed_before = self.rest.closed
        try:
            yield
        except LotusXError:
            if closed_before or not self.rest.closed:
                raise

    def socket(self, url: str) -> WsSession:
        """A WebSocket session to ``url`` as this connector opens them: ``ws_session(url)``, else via its ``proxy``."""
        if self.ws_session is not None:
            return self.ws_session(url)
        return AiohttpWs(url, proxy=self.proxy)

    def opened(self, stream: S) -> S:
        """``stream``, kept so that :meth:`close_streams` ends it; ``ConfigError`` on a closed connector."""
        self.check_open()
        self.streams.add(stream)
        return stream

    async def close_streams(self) -> None:
        """Close every stream still open: a consumer's ``async for`` ends, its sockets are gone."""
        await close_all(*(stream.close for stream in list(self.streams)))


async def close_all(*closes: Callable[[], Awaitable[object]]) -> None:
    """Await each of ``closes`` in turn, every one even after an earlier one failed or was cancelled; then
    raise the cancellation if there was one, else the first error.

    A connector's ``aclose()`` cancelled half-way (a timeout or a TaskGroup around its ``async with``
    exit) would otherwise leave its other streams running and its REST pool open, taking calls.
    The cancellation wins over an error: a timeout or TaskGroup waiting for it would otherwise
    see a stray error instead.
    """
    first: BaseException | None = None
    cancelled: asyncio.CancelledError | None = None
    for close in closes:
        try:
            await close()
        except asyncio.CancelledError as exc:  # the rest must still be closed
            cancelled = cancelled or exc
        except BaseException as exc:
            first = first or exc
    if cancelled is not None:
        raise cancelled
    if first is not None:
        raise first


@dataclass(frozen=True)
class Venue:
    """Everything venue-specific that the kernel needs, as data and small functions.

    ``endpoints`` is the venue's own endpoint table, every :class:`~lotusx.Endpoint` its connector
    sends (one per weight where a call's cost depends on its parameters, as Binance's depth), as
    declared data: the stack charges and signs each request by the endpoint it carries and never
    reads this table; :func:`lotusx.testing.check_venue` checks it. Bybit's two categories each
    declare the shared endpoints and their own trade endpoints.
    """

    name: str
    rest_url: str
    ws_url: str
    pools: tuple[Pool, ...]
    classify: Classifier
    signer: Callable[[Credentials], Signer]
    server_time: Callable[[Service], Awaitable[int]]  # unlayered call -> server time in ms
    connector: Callable[[Parts], Any]
    usage: tuple[UsageParser, ...] = ()
    reconcile: Reconcile | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ws_api_url: str = ""  # the WebSocket API's base URL, for venues that have one (Binance's user data)
    ws_trading: WsTrading | None = None  # how it trades over that API, for ``ws_trading=True``
    # Left out of the repr (dozens of endpoints in every Parts' repr) and of the hash (an Endpoint's
    # costs are a mapping, unhashable); compared still, as a declaration's other data.
    endpoints: tuple[Endpoint, ...] = field(default=(), repr=False, hash=False)


@dataclass(frozen=True)
class WsTrading:
    """How a venue sends calls over its WebSocket API instead of REST (``lotusx.connect(..., ws_trading=True)``).

    The connector's requests and layers stay as they are: ``codec`` says which calls go over the
    socket and how (the others stay on REST), ``signer`` signs those its way and the others as the
    venue's REST signer does, ``connect`` is what one connection attempt charges.
    """

    path: str  # appended to the WebSocket API's base URL
    codec: Callable[[], RpcCodec]
    signer: Callable[[Credentials], Signer]
    connect: Endpoint
    # Authenticates each new connection (Bybit's auth op, Binance's session.logon), given the key and the
    # venue's clock; None (or a login returning None for that key, Binance's HMAC): each call is signed.
    login: Callable[[Credentials, Clock], Handshake | None] | None = None
    # What a connection attempt charges when it logs in, if more than ``connect`` (the login's own weight).
    login_connect: Endpoint | None = None


def open_venue(venue: Venue, *, credentials: Credentials | None = None, rest_url: str | None = None,
               ws_url: str | None = None, ws_api_url: str | None = None, outer: Sequence[Layer] = (),
               inner: Sequence[Layer] = (), rate_limit_storage: str = "memory://",
               rate_limits: Mapping[str, Sequence[Pool]] | None = None, metrics: Metrics | None = None,
               clock: Clock = SYSTEM_CLOCK, max_wait: float = 30.0, transport: Service | None = None,
               proxy: str | None = None, ws_trading: bool = False,
               ws_session: Callable[[str], WsSession] | None = None) -> Any:
    """Build ``venue``'s connector over its canonical stack (see the module docstring).

    ``ws_api_url`` defaults to ``ws_url`` when that is given, else to the venue's own: a
    connector pointed at a simulator or a test server never opens a socket to the real venue
    behind its user's back (a testnet with its own WS API host needs both).
    ``transport`` replaces the aiohttp transport, e.g. with ``lotusx.testing.FakeTransport``.
    ``proxy`` is an HTTP proxy for the REST calls and every WebSocket (beside ``transport``, an
    ``AiohttpRest`` with that same proxy, for the WebSockets).
    ``ws_trading`` puts a :class:`~lotusx.transport.WsRpc` under the stack: the calls the venue's
    :class:`WsTrading` takes go over one WebSocket API socket, the others to the REST transport.
    """
    _check_options(credentials, outer, inner, rest_url=rest_url, ws_url=ws_url, ws_api_url=ws_api_url)
    if ws_session is not None and not callable(ws_session):
        raise ConfigError(f"ws_session= takes a function of the stream's URL returning a session, e.g. "
                          f"ws_session=lambda url: RecordWs(AiohttpWs(url), path), got {type(ws_session).__name__}")
    if ws_trading and venue.ws_trading is None:
        raise ConfigError(f"ws_trading=True: {venue.name} declares no WebSocket API to trade over "
                          "(binance and bybit do); leave it out to trade over REST")
    proxy = proxy_url(proxy)
    if transport is not None and (rest_url is not None or (
            proxy is not None and not (isinstance(transport, AiohttpRest) and transport.proxy == proxy))):
        # They configure the default transport, which ``transport`` replaces: silently unused,
        # a proxy the user relies on (a region the venue blocks) would be bypassed. An
        # AiohttpRest sending through that very proxy bypasses nothing: proxy= is then the
        # WebSockets', which have no other way to get it.
        raise ConfigError("rest_url= and proxy= configure the default transport, which transport= replaces: "
                          "give your transport its URL and proxy (e.g. AiohttpRest(url, proxy=...)), and the "
                          "same proxy= for the WebSockets")
    metrics = metrics if metrics is not None else Metrics()

    async def fetch_server_ms() -> int:
        return await venue.server_time(sampled)

    server_clock = ServerClock(fetch_server_ms, clock, metrics=metrics, exchange=venue.name)
    pools = _pools(venue.pools, rate_limits)
    limiter = Limiter(pools, rate_limit_storage, key=venue.name, clock=server_clock, max_wait=max_wait,
                      metrics=metrics, exchange=venue.name, account=_account(credentials))
    rate_limit = RateLimit(limiter, usage=venue.usage)
    wire = transport if transport is not None else AiohttpRest(rest_url or venue.rest_url, proxy=proxy)
    api_url = (ws_api_url or ws_url or venue.ws_api_url).rstrip("/")
    signer = venue.signer
    if ws_trading and venue.ws_trading is not None:
        trading, url = venue.ws_trading, api_url + venue.ws_trading.path
        login = None if trading.login is None or credentials is None else trading.login(credentials, server_clock)
        ended = functools.partial(_trading_ended, metrics, venue.name)
        connect = trading.login_connect if login is not None and trading.login_connect is not None else trading.connect
        wire = WsRpc(lambda: AiohttpWs(url, proxy=proxy), trading.codec(), wire,
                     admit=admission(rate_limit, connect), login=login, ended=ended,
                     failed=functools.partial(_trading_failed, metrics, venue.name))
        signer = trading.signer
    transport = _Wire(wire, venue.name, limiter)
    unlayered = MapErrors(venue.classify)(transport)
    # The user's inner layers see every wire attempt, as documented: the clock's samples and the
    # reconcile queries too (a header an egress proxy requires, a recorder for replay).
    users = stack(*inner)
    # Not through ClockSync, so a sync cannot recurse into itself. A sample's round trip starts
    # past the limiter: under a saturated budget every sample waits there, and half of that wait
    # would be taken for skew (the offset seconds off, every signed call then refused).
    sampled = rate_limit(users(server_clock.sending(unlayered)))
    # Without credentials a signed endpoint is refused up front (nothing charged, nothing sent).
    clock_sync: Sequence[Layer] = (NoCredentials(venue.name),)
    sign: Sequence[Layer] = ()
    if credentials is not None:
        clock_sync, sign = (ClockSync(server_clock),), (Sign(signer(credentials), clock=server_clock),)
    trace = Trace(venue.name, metrics=metrics, usage_headers=tuple(n for p in venue.usage for n in p.names))
    # No Retry: a reconcile runs inside Retry's own loop. The same RateLimit: the venue counts
    # these too. Traced: a reconcile after a lost order answer is what an operator looks for.
    signed = stack(*clock_sync, rate_limit, *sign, trace, users, MapErrors(venue.classify))(transport)
    reconcile = venue.reconcile
    retry_reconcile = None if reconcile is None else _bind(reconcile, signed)
    layers = stack(
        *outer,
        Retry(venue.retry, reconcile=retry_reconcile, clock=clock, metrics=metrics, exchange=venue.name),
        *clock_sync,
        rate_limit,
        *sign,
        trace,
        users,
        MapErrors(venue.classify),
    )
    # MapErrors(venue.classify) already raised inside the stack; the façade keeps only the
    # status check (re-running the venue map would decode every successful body twice).
    rest = RestClient(transport, layers)
    parts = Parts(venue, rest, server_clock, credentials, (ws_url or venue.ws_url).rstrip("/"), metrics, signed,
                  api_url, rate_limit, proxy=proxy, ws_session=ws_session)
    return venue.connector(parts)


def _trading_ended(metrics: Metrics, exchange: str, reason: str) -> None:
    """A ``ws_trading`` connection's end, counted as a stream's: ``ws_reconnects_total{reason="trading_..."}``."""
    if reason != "closed":  # the connector's own close is no reconnect
        metrics.ws_reconnects.labels(exchange, f"trading_{reason}").inc()


def _trading_failed(metrics: Metrics, exchange: str, error: LotusXError) -> None:
    """A ``ws_trading`` opening that failed, counted and logged as a stream's: ``ws_connect_failures_total``."""
    metrics.ws_connect_failures.labels(exchange, f"trading_{type(error).__name__}").inc()
    _log.warning("ws trading connect failed", exchange=exchange, error=str(error))


class _Wire:
    """The transport as every stack of one connector calls it, closed for all of them at once.

    ``RestClient.aclose`` swaps only its own service for a closed one. ``Retry`` re-sends through
    the stack it wraps, and the reconcile query (``Parts.signed``) and the clock's samples hold
    the transport too: a call of theirs in flight at the close would otherwise still reach the
    venue (an order looked up, or re-sent, after its connector was closed) and reopen a pool
    that nobody closes (``AiohttpRest`` makes a new one).
    """

    __slots__ = ("closed", "exchange", "limiter", "transport")

    def __init__(self, transport: Service, exchange: str, limiter: Limiter | None = None) -> None:
        self.transport, self.exchange, self.closed = transport, exchange, False
        self.limiter = limiter  # the connector's own: its Redis connections close with it

    def __call__(self, request: Request) -> Awaitable[Response]:
        # The transport's own awaitable, not a coroutine of ours: an open connector pays a flag check.
        return self._refused(request) if self.closed else self.transport(request)

    async def _refused(self, request: Request) -> Response:
        raise ConfigError(f"{request.method} {request.path}: this {self.exchange} connector is closed (its "
                          "`async with lotusx.connect(...)` block has ended): open a new one")

    async def aclose(self) -> None:
        self.closed = True
        try:
            aclose = getattr(self.transport, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            if self.limiter is not None:
                await self.limiter.aclose()

    def __repr__(self) -> str:
        return repr(self.transport)


def _check_options(credentials: object, outer: object, inner: object, **urls: str | None) -> None:
    """The mistakes a user makes first, as ``ConfigError``\\s saying what to pass."""
    if credentials is not None and not isinstance(credentials, Credentials):
        raise ConfigError(f"credentials must be lotusx.Credentials(api_key=..., secret=...), got "
                          f"{type(credentials).__name__}")
    for name, url in urls.items():  # checked now, not when the first stream opens
        schemes = ("http://", "https://") if name == "rest_url" else ("ws://", "wss://")
        if url is not None and not (isinstance(url, str) and url.lower().startswith(schemes)):
            raise ConfigError(f"{name} must be a base URL starting {' or '.join(schemes)} (scheme://host[:port]), "
                              f"got {without_password(str(url))!r}")
        if url is not None:
            parsed_url(url, name)
    for name, layers in (("outer", outer), ("inner", inner)):
        if isinstance(layers, str) or not isinstance(layers, Iterable):
            raise ConfigError(f"{name}= takes a sequence of layers, e.g. {name}=[around(my_middleware)], "
                              f"got {layers!r}")


@dataclass(frozen=True)
class _Bound:
    """A venue's reconcile query bound to the signed, unretried service (its repr names the query)."""

    reconcile: Reconcile
    signed: Service = field(repr=False)

    async def __call__(self, request: Request) -> Response | None:
        return await self.reconcile(self.signed, request)

    def __repr__(self) -> str:
        return f"{self.reconcile.__module__}.{getattr(self.reconcile, '__qualname__', self.reconcile)}"


def _bind(reconcile: Reconcile, signed: Service) -> Callable[[Request], Awaitable[Response | None]]:
    return _Bound(reconcile, signed)


def _account(credentials: Credentials | None) -> str:
    """Who the venue counts a per-account pool against: a digest of the API key (the key itself is no storage key)."""
    if credentials is None:
        return ""
    return hashlib.sha256(credentials.api_key.encode()).hexdigest()[:16]


def _pools(defaults: tuple[Pool, ...], overrides: Mapping[str, Sequence[Pool]] | None) -> tuple[Pool, ...]:
    if not overrides:
        return defaults
    unknown = set(overrides) - {pool.name for pool in defaults}
    if unknown:
        raise ConfigError(f"rate_limits names unknown pools: {sorted(unknown)}")
    for name, given in overrides.items():
        pools: object = given  # as passed, which the hint does not bind: 600, say
        if isinstance(pools, str) or not isinstance(pools, Sequence) or not all(isinstance(p, Pool) for p in pools):
            raise ConfigError(f"rate_limits[{name!r}] takes the pool's windows, e.g. "
                              f"{{{name!r}: [Pool({name!r}, 600, 60)]}} (lotusx.layers.Pool), got {pools!r}")
    kept = [pool for pool in defaults if pool.name not in overrides]
    # Another budget does not change whom the venue counts it against (per IP, or per account).
    per_account = {pool.name: pool.per_account for pool in defaults}
    return (*kept, *(dataclasses.replace(pool, per_account=pool.per_account or per_account[name])
                     for name, pools in overrides.items() for pool in pools))


class NotAConnector(ConfigError, AttributeError):
    """A connector's method asked of :class:`connect` itself; an ``AttributeError`` too, so ``hasattr`` works."""


class connect:
    """Open a venue's connector for an ``async with`` block, and close it on exit.

    ``async with lotusx.connect("binance", credentials=creds) as ex: await ex.get_ticker("BTCUSDT")``

    - ``venue``: a name from the ``lotusx.exchanges`` entry-point group (``"binance"``,
      ``"bybit"``, ``"bybit-linear"``, or one a third-party package adds), or a :class:`Venue`.
    Options, keyword only:

    - ``credentials``: :class:`~lotusx.Credentials`; ``None`` (the default) opens public
      endpoints only (a signed call raises ``ConfigError`` before anything is sent).
    - ``rest_url``, ``ws_url``: base URLs (``scheme://host[:port]``; the connector adds its
      paths); ``None`` means the venue's real ones. Point them at ``lotusx sim``, a test server
      or a testnet.
    - ``ws_api_url``: the WebSocket API's base URL (Binance's account stream); ``None`` means
      ``ws_url`` when that is given, else the venue's own.
    - ``outer``, ``inner``: your layers (a middleware as ``around(mw)``), outside Retry (seeing
      one logical call) or just above the transport (seeing every wire attempt, as signed: the
      clock's server-time samples and an order's reconcile lookup too); default ``()``. An
      ``inner`` layer's error outside the ``LotusXError`` tree on an order placement comes out
      as ``AmbiguousOrderState`` (the order may have left), raised from it.
    - ``rate_limit_storage``: ``"memory://"`` (the default: connectors of one venue on one
      event loop share one budget; a pool counted per account, such as Binance's ORDERS, only
      between connectors of one API key), or ``"redis://host:6379"`` to share it between processes
      and machines (needs ``pip install 'lotusx[redis]'``); it holds at most 32 connections to
      Redis, ``"redis://host:6379?max_connections=64"`` changes that.
    - ``rate_limits``: ``None`` for the venue's pools, or ``{pool name: [Pool, ...]}`` replacing
      the windows of the pools named.
    - ``metrics``: the :class:`~lotusx.metrics.Metrics` to record into (default: a new registry).
    - ``clock``: the clock back-offs and rate-limit windows read and sleep on, and the
      WebSocket streams' timers and ``Gap``/``Resumed`` times (a ``lotusx.testing.FakeClock``
      in tests).
    - ``max_wait``: how long, in total, a call may wait for rate-limit room before it is
      ``RateLimited`` (default 30 s).
    - ``transport``: replaces the aiohttp transport, e.g. ``lotusx.testing.FakeTransport``, or
      a ``lotusx.transport.AiohttpRest(url, ...)`` of other settings than the default one's:
      ``timeout`` (10 s) for a whole call, ``connect_timeout`` (5 s) for getting a connection,
      ``max_body`` (64 MiB) for an answer's decoded body.
    - ``proxy``: an HTTP proxy (``http://[user:password@]host:port``) for the REST calls and every
      WebSocket the connector opens; ``None`` (the default) connects directly. With ``transport=``,
      give that transport its own proxy (``rest_url=`` is refused with it, and so is ``proxy=``
      unless the transport is an ``AiohttpRest`` with that same proxy: the WebSockets then use it).
    - ``ws_trading``: ``True`` sends the venue's order calls (Binance: place, cancel, amend,
      cancel-replace, cancel all, order and open-order reads) over one WebSocket API socket kept
      open, instead of an HTTP request each, through the same layers; every other call stays on
      REST. ``False`` (the default) trades over REST. A venue without one refuses it (``ConfigError``).
    - ``ws_session``: ``None`` (the default), or a function of a stream's URL returning the
      :class:`~lotusx.WsSession` to read it through, called for each connection a stream opens:
      ``lambda url: RecordWs(AiohttpWs(url), "ws.jsonl")`` records what the streams read,
      ``lambda url: replayed`` (a ``lotusx.testing.ReplayWs``) plays it back. Its sessions get no
      ``proxy``: give them yours. The ``ws_trading`` socket is not opened through it.

    An unknown venue raises ``ConfigError`` at once; a malformed option (a URL without its
    scheme, an unknown pool) raises it on entering the block, before anything is sent. The
    stack built is described in :func:`open_venue`.
    """

    def __init__(self, venue: str | Venue, *, credentials: Credentials | None = None, rest_url: str | None = None,
                 ws_url: str | None = None, ws_api_url: str | None = None, outer: Sequence[Layer] = (),
                 inner: Sequence[Layer] = (), rate_limit_storage: str = "memory://",
                 rate_limits: Mapping[str, Sequence[Pool]] | None = None, metrics: Metrics | None = None,
                 clock: Clock = SYSTEM_CLOCK, max_wait: float = 30.0, transport: Service | None = None,
                 proxy: str | None = None, ws_trading: bool = False,
                 ws_session: Callable[[str], WsSession] | None = None) -> None:
        self.venue = venue if isinstance(venue, Venue) else find_venue(venue)
        self._open = functools.partial(
            open_venue, self.venue, credentials=credentials, rest_url=rest_url, ws_url=ws_url, ws_api_url=ws_api_url,
            outer=outer, inner=inner,
            rate_limit_storage=rate_limit_storage, rate_limits=rate_limits, metrics=metrics, clock=clock,
            max_wait=max_wait, transport=transport, proxy=proxy, ws_trading=ws_trading,
            ws_session=ws_session)
        self._connector: Any = None

    async def __aenter__(self) -> Any:
        self._connector = self._open()
        return self._connector

    def __getattr__(self, name: str) -> Any:
        # Only for names it does not have: `ex = lotusx.connect(...); await ex.get_order_book(...)`.
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotAConnector(f"lotusx.connect(...) has no {name!r}: it opens the connector as a context, "
                            f"`async with lotusx.connect(...) as ex:`, then ex.{name}")

    def __await__(self) -> Any:
        raise ConfigError("lotusx.connect(...) is not awaited: use `async with lotusx.connect(...) as ex:`")

    async def __aexit__(self, *exc: object) -> None:
        await self._connector.aclose()


def find_venue(name: str) -> Venue:
    """The :class:`Venue` registered under ``name`` in the ``lotusx.exchanges`` entry points."""
    from importlib.metadata import entry_points

    for point in entry_points(group="lotusx.exchanges"):
        if point.name == name:
            venue = point.load()
            if not isinstance(venue, Venue):
                raise ConfigError(f"entry point {name!r} ({point.value}) is a {type(venue).__name__}, not a "
                                  "lotusx.venue.Venue: point it at the package's Venue declaration in its "
                                  'pyproject.toml, [project.entry-points."lotusx.exchanges"], and reinstall')
            return venue
    known = sorted(point.name for point in entry_points(group="lotusx.exchanges"))
    # The likely author of this error has just written a venue package and not installed it yet.
    raise ConfigError(f"unknown venue {name!r}; installed: {known} (a venue package is found once "
                      "installed: pip install -e <its directory>)")


__all__ = ["Connector", "LotusXError", "Parts", "Venue", "close_all", "connect", "find_venue", "open_venue"]

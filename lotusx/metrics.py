"""Prometheus metrics for every LotusX layer, on an injectable registry.

``Metrics()`` registers on a fresh ``CollectorRegistry`` unless one is given, so tests and
users with several clients isolate them; ``Metrics(REGISTRY)`` uses the process default. A
registry holds one ``Metrics``: connectors that report into it share that one (their counts
add up under their ``exchange`` label); a second one on it is a ``ConfigError``.
Names follow Prometheus conventions: base units (seconds, bytes), ``_total`` counters, and
labels with bounded values (exchange, endpoint name, status class, pool, the symbol of a book
being watched) — never keys, paths with ids, order ids, or anything secret.

The metric set (all prefixed ``lotusx_``; ``reason``/``cause``/``outcome`` values come from a
fixed set in the code that records them, or are an error type's name):

REST
    ``requests_total{exchange,endpoint,status_class}``,
    ``request_duration_seconds{exchange,endpoint,status_class}``: every wire attempt (``Trace``) but
    the clock's server-time samples.
    ``retries_total{exchange,endpoint,reason}``: re-sends by ``Retry``, and ``ClockSync``'s one
    re-send after a timestamp rejection (reason ``TimestampOutOfWindow``).
    ``reconciles_total{exchange,endpoint,outcome}``: order lookups after an unknown placement
    outcome, ``found`` / ``absent`` / ``failed``, and ``retried`` for a lookup asked again.
    ``reconcile_retries_total{exchange,stream,reason}``: queries of the REST catch-up after a
    private stream's gap (stream ``orders``, ``balances``, ``positions`` or ``fills``) asked again
    after a passing failure (reason: its error type, ``NotFound`` for an order the venue's lists
    have not caught up with; see :func:`lotusx.account.follow_orders`).
    ``ambiguous_orders_total{exchange,endpoint,cause}``: ``AmbiguousOrderState`` raised,
    ``no_reconcile`` / ``reconcile_failed`` / ``duplicate_not_found`` / ``earlier_attempt`` (a
    placement given up on a refusal after an earlier attempt may have executed) /
    ``attempts_exhausted`` (attempts ran out on one that may have executed, its lookup empty) /
    ``unreadable_answer`` (the venue accepted it, its answer could not be read) / ``closed_order`` (Binance:
    the id names an earlier or other closed order, which proves nothing about this one) / ``layer_error``
    (a layer raised an error outside the ``LotusXError`` tree during an attempt) / ``batch_not_found`` and
    ``batch_lookup_failed`` (Bybit ``place_orders``, ``cancel_orders`` and ``amend_orders``: an order of a batch
    whose answer was lost, not found by its id, or its lookup failing) / ``batch_still_open`` (Bybit
    ``cancel_orders``, ``amend_orders``: such an order found open and not as asked, the write on its way or
    lost). A placement
    cut by a user's ``Deadline`` layer is logged only (``rest.ambiguous_order``, ``cause=deadline``).
Rate limits
    ``rate_limited_total{exchange,pool,source}``: calls that waited or were refused locally
    (``local``) and calls the venue refused (``venue``; pool ``*`` for an IP ban), each pool its refusal
    cooled off (a Binance 429 naming no pool: every pool the call charged).
    ``rate_limit_refusals_total{exchange}``: calls the venue refused for a rate limit or a ban, one
    each however many pools it cooled: what to sum for "how often were we throttled".
    ``rate_limit_wait_seconds{exchange,pool}``: time waited for room.
    ``rate_limit_pool_usage_ratio{exchange,pool}``: used fraction of the current window (of the
    fullest live limiter: each stream limits its own connection's messages).
    ``rate_limit_learning_failures_total{exchange}``: usage reports not learned from.
Clock
    ``clock_offset_seconds{exchange}``: venue minus local time at the last good sync.
    ``clock_sync_failures_total{exchange}``: syncs with no usable answer.
WebSocket
    ``ws_messages_total{exchange,stream}`` (stream: the message type), ``ws_received_bytes_total{exchange}``,
    ``ws_last_message_timestamp_seconds{exchange}``. ``ws_reconnects_total{exchange,reason}`` (the link's end:
    ``server_close``, ``disconnected``, ``pong_timeout``, ``idle``, ``rotation_failed``, ...; a ``ws_trading``
    socket's end as ``trading_`` and its reason: ``trading_server_close``, ``trading_silent``, ``trading_retired``...),
    ``ws_connect_failures_total{exchange,reason}`` (error type; a ``ws_trading`` socket's as ``trading_`` and its
    type: ``trading_ConnectError``), ``ws_rotations_total{exchange}``,
    ``ws_resubscriptions_total{exchange}``, ``ws_lost_streams_total{exchange}`` (streams the venue refused
    to resubscribe after a reconnect: each a ``lotusx.ws.Lost`` in its stream), ``ws_pong_timeouts_total{exchange}``,
    ``ws_malformed_frames_total{exchange,reason}``,
    ``ws_dropped_messages_total{exchange,reason}``, ``ws_queue_depth{exchange}`` (every open stream's
    queue of the exchange, summed: a closed stream's leftovers are not counted).
Order books
    ``book_resyncs_total{exchange,symbol,reason}``: ``reconnect``, ``overflow``, ``stale_snapshot``,
    ``sequence gap``, ``malformed level``, ``malformed update ids``, ``unreadable message``, ``no snapshot``
    (Bybit: a delta came to a book waiting for its snapshot), ``crossed book`` (a book read with its
    best bid at or above its best ask).
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sized
from typing import Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock

Tracked = TypeVar("Tracked")  # what a live gauge reads

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A wait for room lasts up to the limiter's max_wait (30 s by default), often the rest of a
# window: a full 10 s pool waits 10 s and its guard band, a full minute pool up to max_wait.
_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0)


class Metrics:
    """Every LotusX metric, REST and WebSocket, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None, *, namespace: str = "lotusx") -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r, ns = self.registry, namespace
        # REST. Attempt counts and durations (requests_total, request_duration_seconds) are
        # plain tallies read at scrape time, like the per-frame WebSocket counts: a locked
        # prometheus histogram plus counter cost more per call than the whole Trace layer.
        self._rest_tallies: dict[tuple[str, str, str], RestTally] = {}
        try:
            self.registry.register(_RestCollector(ns, self._rest_tallies))
        except ValueError:  # registered first: a registry holding another Metrics refuses it before any other
            raise ConfigError(f"this registry already holds the {ns}_* metrics of another Metrics: pass that one "
                              "Metrics to every connector (connect(..., metrics=m)), they add up") from None
        self.retries = Counter(
            "retries", "REST retries after a failed attempt.", ("exchange", "endpoint", "reason"),
            namespace=ns, registry=r)
        self.rate_limited = Counter(
            "rate_limited", "Calls throttled: waited locally or refused by the venue.", ("exchange", "pool", "source"),
            namespace=ns, registry=r)
        self.rate_limit_refusals = Counter(
            "rate_limit_refusals", "Calls the venue refused for a rate limit or an IP ban (one per call; "
            "rate_limited_total{source=\"venue\"} counts each pool it cooled).", ("exchange",),
            namespace=ns, registry=r)
        self.rate_limit_wait = Histogram(
            "rate_limit_wait_seconds", "Time spent waiting for rate-limit capacity.", ("exchange", "pool"),
            namespace=ns, registry=r, buckets=_WAIT_BUCKETS)
        self.rate_limit_learning_failures = Counter(
            "rate_limit_learning_failures", "Venue usage reports the limiter could not learn from (storage down, "
            "a garbled header): its counts may lag the venue's.", ("exchange",), namespace=ns, registry=r)
        self.pool_usage = Gauge(
            "rate_limit_pool_usage_ratio", "Used fraction of a rate-limit pool (0..1).", ("exchange", "pool"),
            namespace=ns, registry=r)
        self.reconciles = Counter(
            "reconciles", "Order lookups after a placement whose outcome was unknown, by what they found.",
            ("exchange", "endpoint", "outcome"), namespace=ns, registry=r)
        self.reconcile_retries = Counter(
            "reconcile_retries", "Queries of a private stream's catch-up asked again after a passing failure.",
            ("exchange", "stream", "reason"), namespace=ns, registry=r)
        self.ambiguous_orders = Counter(
            "ambiguous_orders", "Placements ended in AmbiguousOrderState: the order may or may not exist.",
            ("exchange", "endpoint", "cause"), namespace=ns, registry=r)
        self.clock_offset = Gauge(
            "clock_offset_seconds", "Venue server time minus local time.", ("exchange",), namespace=ns, registry=r)
        self.clock_sync_failures = Counter(
            "clock_sync_failures", "Clock syncs that got no usable answer (the last offset is kept).", ("exchange",),
            namespace=ns, registry=r)
        # WebSocket
        self.ws_malformed = Counter(
            "ws_malformed_frames", "Frames that failed to decode or parse.", ("exchange", "reason"),
            namespace=ns, registry=r)
        self.ws_dropped = Counter(
            "ws_dropped_messages", "Messages dropped by an overflow policy or a size cap.", ("exchange", "reason"),
            namespace=ns, registry=r)
        self.ws_reconnects = Counter(
            "ws_reconnects", "WebSocket reconnects.", ("exchange", "reason"), namespace=ns, registry=r)
        self.ws_resubscriptions = Counter(
            "ws_resubscriptions", "Subscriptions re-sent after a reconnect.", ("exchange",), namespace=ns, registry=r)
        self.ws_lost_streams = Counter(
            "ws_lost_streams", "Streams the venue refused to resubscribe after a reconnect, dropped from their stream.",
            ("exchange",), namespace=ns, registry=r)
        self.ws_pong_timeouts = Counter(
            "ws_pong_timeouts", "Heartbeats not answered in time.", ("exchange",), namespace=ns, registry=r)
        self.ws_connect_failures = Counter(
            "ws_connect_failures", "WebSocket connection attempts that failed.", ("exchange", "reason"),
            namespace=ns, registry=r)
        self.ws_rotations = Counter(
            "ws_rotations", "Connections replaced before the venue's lifetime ended (or on its shutdown notice).",
            ("exchange",), namespace=ns, registry=r)
        self.ws_queue_depth = Gauge(
            "ws_queue_depth", "Messages waiting for the consumer.", ("exchange",), namespace=ns, registry=r)
        # Every delivery queue of an exchange, summed at scrape time: a second stream of the same
        # exchange must add to the gauge, not take it over.
        self._queues: dict[str, _Live[Queue]] = {}
        self._pools: dict[tuple[str, str], _Live[PoolUsage]] = {}
        self.book_resyncs = Counter(
            "book_resyncs", "Order book resynchronisations.", ("exchange", "symbol", "reason"),
            namespace=ns, registry=r)
        # Per-frame WebSocket counts are plain numbers read at scrape time: three locked
        # prometheus updates per frame cost more than the rest of the frame's bookkeeping.
        self._ws_tallies: dict[str, WsTally] = {}
        self.registry.register(_WsCollector(ns, self._ws_tallies))

    def ws_tally(self, exchange: str) -> WsTally:
        """The plain counters WebSocket readers of ``exchange`` bump for every frame."""
        tally = self._ws_tallies.get(exchange)
        if tally is None:
            tally = self._ws_tallies[exchange] = WsTally()
        return tally

    def track_queue(self, exchange: str, queue: Queue) -> None:
        """Count ``len(queue)`` in ``ws_queue_depth{exchange}`` while ``queue`` lives and is open."""
        depth = self._queues.get(exchange)
        if depth is None:
            depth = self._queues[exchange] = _Live(_waiting, sum)
            self.ws_queue_depth.labels(exchange).set_function(depth)
        depth.add(queue)

    def track_pool(self, exchange: str, pool: str, usage: PoolUsage) -> None:
        """Show ``usage.usage(pool)`` in ``rate_limit_pool_usage_ratio{exchange,pool}`` for as long as it lives.

        Several live limiters of one pool (each stream's own, for a limit per connection) show
        the fullest: the one closest to its limit is the one to watch.
        """
        fullest = self._pools.get((exchange, pool))
        if fullest is None:
            fullest = self._pools[(exchange, pool)] = _Live(lambda limiter: limiter.usage(pool), _highest)
            self.pool_usage.labels(exchange, pool).set_function(fullest)
        fullest.add(usage)

    def rest_tally(self, exchange: str, endpoint: str, status_class: str) -> RestTally:
        """The duration histogram and count of REST attempts with these labels."""
        labels = (exchange, endpoint, status_class)
        tally = self._rest_tallies.get(labels)
        if tally is None:
            tally = self._rest_tallies[labels] = RestTally()
        return tally

    def __repr__(self) -> str:
        return f"Metrics(registry=<{type(self.registry).__name__}>)"


class Queue(Sized, Protocol):
    """What :meth:`Metrics.track_queue` reads: a delivery queue's length, and whether its stream has ended."""

    @property
    def closed(self) -> bool: ...


def _waiting(queue: Queue) -> int:
    # A closed stream's leftovers are no backlog: its queue lives on until the cyclic GC frees
    # it (a stream and its tasks hold each other), and a depth held up that long would page
    # someone about a consumer that is gone.
    return 0 if queue.closed else len(queue)


class PoolUsage(Protocol):
    """What :meth:`Metrics.track_pool` reads: a limiter's used fraction of a pool's fullest window."""

    def usage(self, pool: str) -> float: ...


class _Live(Generic[Tracked]):
    """A gauge's reading over the live objects tracked: ``fold`` of ``read`` of each, read by the scrape thread.

    Held through weak references, so an object that is gone drops out by itself (a gauge holding
    a limiter would also keep its key's shared counts alive). ``add`` swaps in a new tuple rather
    than changing one the scrape may be iterating.
    """

    __slots__ = ("fold", "read", "refs")

    def __init__(self, read: Callable[[Tracked], float], fold: Callable[[Iterator[float]], float]) -> None:
        self.read, self.fold = read, fold
        self.refs: tuple[weakref.ref[Tracked], ...] = ()

    def add(self, tracked: Tracked) -> None:
        self.refs = (*(ref for ref in self.refs if ref() is not None), weakref.ref(tracked))

    def __call__(self) -> float:
        return float(self.fold(self.read(tracked) for ref in self.refs if (tracked := ref()) is not None))


def _highest(values: Iterator[float]) -> float:
    return max(values, default=0.0)


class RestTally:
    """Attempts of one (exchange, endpoint, status class): count, duration sum and buckets.

    Written by the event loop only, read by the scrape (see :class:`WsTally`).
    """

    __slots__ = ("buckets", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(_LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one attempt that took ``seconds``."""
        # bisect_left: the first bound >= seconds, i.e. Prometheus' "le" bucket.
        self.buckets[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds


class _RestCollector:
    """Exposes every :class:`RestTally` as ``requests_total`` and ``request_duration_seconds``."""

    def __init__(self, namespace: str, tallies: dict[tuple[str, str, str], RestTally]) -> None:
        self.namespace = namespace
        self.tallies = tallies

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> list[Metric]:
        requests, duration = self._families()
        bounds = [*map(floatToGoString, _LATENCY_BUCKETS), "+Inf"]
        for labels, tally in list(self.tallies.items()):
            running, cumulative = 0, []
            for bound, count in zip(bounds, list(tally.buckets), strict=True):
                running += count
                cumulative.append((bound, running))
            # count is the +Inf bucket of the same snapshot, so the two always agree.
            requests.add_metric(labels, running)
            duration.add_metric(labels, cumulative, tally.sum)
        return [requests, duration]

    def _families(self) -> tuple[CounterMetricFamily, HistogramMetricFamily]:
        ns, labels = self.namespace, ("exchange", "endpoint", "status_class")
        return (CounterMetricFamily(f"{ns}_requests", "REST attempts sent.", labels=labels),
                HistogramMetricFamily(f"{ns}_request_duration_seconds", "Wire time of one REST attempt.",
                                      labels=labels))


class WsTally:
    """One exchange's WebSocket counts, bumped by the event loop and read by the scrape.

    Only the event loop writes them; the scrape thread only reads (an ``int`` read is atomic
    under the GIL), so no lock is needed as long as one ``Metrics`` serves one event loop.
    """

    __slots__ = ("bytes", "clock", "last_rx", "messages")

    def __init__(self) -> None:
        self.bytes = 0
        # When the last frame came, on ``clock``'s monotonic scale: the reader has just read it
        # for the idle watchdog, so a frame costs no second (wall) clock read.
        self.last_rx: float | None = None
        self.clock: Clock = SYSTEM_CLOCK
        self.messages: dict[type, int] = {}  # delivered messages per message type

    @property
    def last_message(self) -> float:
        """Unix time of the last frame received (0 before the first)."""
        if self.last_rx is None:
            return 0.0
        return self.clock.time() - (self.clock.monotonic() - self.last_rx)


class _WsCollector:
    """Exposes every :class:`WsTally` under the names the counters always had."""

    def __init__(self, namespace: str, tallies: dict[str, WsTally]) -> None:
        self.namespace = namespace
        self.tallies = tallies

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> list[Metric]:
        messages, received, last = self._families()
        for exchange, tally in list(self.tallies.items()):
            for kind, count in list(tally.messages.items()):
                messages.add_metric([exchange, kind.__name__], count)
            received.add_metric([exchange], tally.bytes)
            if tally.last_message:
                last.add_metric([exchange], tally.last_message)
        return [messages, received, last]

    def _families(self) -> tuple[CounterMetricFamily, CounterMetricFamily, GaugeMetricFamily]:
        ns = self.namespace
        return (
            CounterMetricFamily(f"{ns}_ws_messages", "Messages delivered from WebSocket streams.",
                                labels=("exchange", "stream")),
            CounterMetricFamily(f"{ns}_ws_received_bytes", "Bytes received on WebSocket streams.",
                                labels=("exchange",)),
            GaugeMetricFamily(f"{ns}_ws_last_message_timestamp_seconds",
                              "Unix time of the last message received (age = now - value).", labels=("exchange",)),
        )


def serve(port: int, metrics: Metrics | CollectorRegistry, addr: str = "127.0.0.1") -> Callable[[], None]:
    """Expose ``metrics`` on ``http://addr:port/metrics`` from a daemon thread; returns ``stop``."""
    registry = metrics.registry if isinstance(metrics, Metrics) else metrics
    server, thread = start_http_server(port, addr=addr, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def status_class(status: int | None) -> str:
    """``"2xx"`` … ``"5xx"``, or ``"error"`` when no response arrived."""
    return f"{status // 100}xx" if status else "error"

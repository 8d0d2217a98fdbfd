"""Prometheus metrics for every LotusX layer, on an injectable registry.

``Metrics()`` registers on a fresh ``CollectorRegistry`` unless one is given, so tests and
users with several clients isolate them; ``Metrics(REGISTRY)`` uses the process default.
Names follow Prometheus conventions: base units (seconds, bytes), ``_total`` counters, and
labels with bounded values (exchange, endpoint name, status class, pool) — never keys,
paths with ids, or anything secret.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every LotusX metric, REST and WebSocket, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None, *, namespace: str = "lotusx") -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r, ns = self.registry, namespace
        # REST
        self.request_duration = Histogram(
            "request_duration_seconds", "Wire time of one REST attempt.",
            ("exchange", "endpoint", "status_class"), namespace=ns, registry=r, buckets=_LATENCY_BUCKETS)
        self.requests = Counter(
            "requests", "REST attempts sent.", ("exchange", "endpoint", "status_class"), namespace=ns, registry=r)
        self.retries = Counter(
            "retries", "REST retries after a failed attempt.", ("exchange", "endpoint", "reason"),
            namespace=ns, registry=r)
        self.rate_limited = Counter(
            "rate_limited", "Calls throttled: waited locally or refused by the venue.", ("exchange", "pool", "source"),
            namespace=ns, registry=r)
        self.rate_limit_wait = Histogram(
            "rate_limit_wait_seconds", "Time spent waiting for rate-limit capacity.", ("exchange", "pool"),
            namespace=ns, registry=r, buckets=_LATENCY_BUCKETS)
        self.pool_usage = Gauge(
            "rate_limit_pool_usage_ratio", "Used fraction of a rate-limit pool (0..1).", ("exchange", "pool"),
            namespace=ns, registry=r)
        self.clock_offset = Gauge(
            "clock_offset_seconds", "Venue server time minus local time.", ("exchange",), namespace=ns, registry=r)
        # WebSocket
        self.ws_messages = Counter(
            "ws_messages", "Messages delivered from WebSocket streams.", ("exchange", "stream"),
            namespace=ns, registry=r)
        self.ws_bytes = Counter(
            "ws_received_bytes", "Bytes received on WebSocket streams.", ("exchange",), namespace=ns, registry=r)
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
        self.ws_pong_timeouts = Counter(
            "ws_pong_timeouts", "Heartbeats not answered in time.", ("exchange",), namespace=ns, registry=r)
        self.ws_queue_depth = Gauge(
            "ws_queue_depth", "Messages waiting for the consumer.", ("exchange",), namespace=ns, registry=r)
        self.ws_last_message = Gauge(
            "ws_last_message_timestamp_seconds", "Unix time of the last message received (age = now - value).",
            ("exchange",), namespace=ns, registry=r)
        self.book_resyncs = Counter(
            "book_resyncs", "Order book resynchronisations.", ("exchange", "symbol", "reason"),
            namespace=ns, registry=r)

    def __repr__(self) -> str:
        return f"Metrics(registry=<{type(self.registry).__name__}>)"


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

"""Trace: one rest.request event and one metric sample per attempt, and never a secret."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import orjson
import pytest
from structlog.contextvars import get_contextvars
from structlog.testing import capture_logs

from lotusx.kernel import errors as e
from lotusx.kernel.classify import MapErrors
from lotusx.kernel.message import Endpoint, Idempotency, Request, Response
from lotusx.kernel.service import Layer, Service, stack
from lotusx.layers.retry import Retry, RetryPolicy
from lotusx.layers.trace import Trace
from lotusx.log import get_logger
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, FakeTransport, ScriptedService

DEPTH = Endpoint("depth", "GET", "/api/v3/depth")
REQUEST = Request(method="GET", path="/api/v3/depth", query=(("symbol", "BTCUSDT"),), endpoint=DEPTH)
OK = Response(status=200, body=b"{}")


def traced(inner: Service, **config: Any) -> Service:
    return Trace("binance", **config)(inner)


def events(logs: Sequence[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "rest.request"]


async def test_one_event_per_call_with_its_fields() -> None:
    """A successful call logs exchange, endpoint, method, path, status, attempt and latency."""
    clock = FakeClock()

    async def inner(request: Request) -> Response:
        await clock.sleep(0.25)
        return OK

    with capture_logs() as logs:
        await traced(inner, clock=clock)(REQUEST)
    [event] = events(logs)
    assert {k: event[k] for k in ("exchange", "endpoint", "method", "path", "status", "attempt", "latency")} == {
        "exchange": "binance", "endpoint": "depth", "method": "GET", "path": "/api/v3/depth", "status": 200,
        "attempt": 1, "latency": 0.25}
    assert event["log_level"] == "info"
    assert "error" not in event


async def test_failed_attempt_logs_the_error_type_and_status() -> None:
    """A typed venue error logs its class name and the status it carried."""
    inner = ScriptedService([e.RateLimited("GET /api/v3/depth: rate limited", response=Response(status=429))])
    with capture_logs() as logs, pytest.raises(e.RateLimited):
        await traced(inner)(REQUEST)
    [event] = events(logs)
    assert (event["error"], event["status"], event["log_level"]) == ("RateLimited", 429, "warning")


async def test_transport_failure_has_no_status() -> None:
    """A call that got no response logs status None."""
    with capture_logs() as logs, pytest.raises(e.ConnectError):
        await traced(ScriptedService([e.ConnectError()]))(REQUEST)
    [event] = events(logs)
    assert (event["error"], event["status"]) == ("ConnectError", None)


async def test_path_is_logged_without_a_query_string() -> None:
    """Even a path that smuggles a query string is logged up to the '?'."""
    request = REQUEST.replace(path="/api/v3/order?signature=abc123")
    with capture_logs() as logs:
        await traced(ScriptedService([OK]))(request)
    assert events(logs)[0]["path"] == "/api/v3/order"


async def test_attempt_number_comes_from_ext() -> None:
    """The attempt that Retry set in ext is the one logged."""
    with capture_logs() as logs:
        await traced(ScriptedService([OK]))(REQUEST.with_ext(attempt=3))
    assert events(logs)[0]["attempt"] == 3


USAGE = ("X-MBX-USED-WEIGHT-", "x-mbx-order-count-", "X-Bapi-Limit-Status")


async def test_rate_limit_usage_headers_are_logged() -> None:
    """The declared usage headers are logged, whatever their case; other headers are not."""
    headers = {"X-MBX-USED-WEIGHT-1M": "12", "x-mbx-order-count-10s": "1", "X-Bapi-Limit-Status": "99",
               "Content-Type": "application/json"}
    with capture_logs() as logs:
        await traced(ScriptedService([Response(status=200, headers=headers)]), usage_headers=USAGE)(REQUEST)
    assert events(logs)[0]["rate_limit"] == {
        "x-mbx-used-weight-1m": "12", "x-mbx-order-count-10s": "1", "x-bapi-limit-status": "99"}


async def test_usage_headers_of_an_error_response_are_logged() -> None:
    """A typed error keeps its response, so its usage headers are logged too."""
    throttled = Response(status=429, headers={"x-mbx-used-weight-1m": "6000"})
    with capture_logs() as logs, pytest.raises(e.RateLimited):
        await traced(ScriptedService([e.RateLimited(response=throttled)]), usage_headers=USAGE)(REQUEST)
    assert events(logs)[0]["rate_limit"] == {"x-mbx-used-weight-1m": "6000"}


async def test_no_usage_headers_are_logged_unless_declared() -> None:
    """Without declared usage headers, Trace logs none (the layer knows no venue)."""
    response = Response(status=200, headers={"X-MBX-USED-WEIGHT-1M": "12"})
    with capture_logs() as logs:
        await traced(ScriptedService([response]))(REQUEST)
    assert "rate_limit" not in events(logs)[0]


async def test_request_id_is_bound_in_contextvars_during_the_call() -> None:
    """Inner layers see request_id in structlog contextvars; it is gone afterwards."""
    seen: list[dict[str, Any]] = []

    async def inner(request: Request) -> Response:
        seen.append(get_contextvars())
        return OK

    with capture_logs() as logs:
        await traced(inner)(REQUEST.with_ext(request_id="outer-7"))
    assert seen[0]["request_id"] == "outer-7"
    assert events(logs)[0]["request_id"] == "outer-7"
    assert "request_id" not in get_contextvars()


async def test_a_request_id_is_generated_when_none_is_set() -> None:
    """Without an outer id, each call gets its own short id."""
    ids: list[str] = []

    async def inner(request: Request) -> Response:
        ids.append(get_contextvars()["request_id"])
        return OK

    service = traced(inner)
    await service(REQUEST)
    await service(REQUEST)
    assert ids[0] != ids[1]
    assert all(0 < len(i) <= 16 for i in ids)


async def test_cancelled_attempt_is_still_traced() -> None:
    """An attempt cancelled from outside (a Timeout layer) is logged and re-raised."""
    never = asyncio.Event()

    async def inner(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    with capture_logs() as logs:
        task = asyncio.ensure_future(traced(inner)(REQUEST))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert events(logs)[0]["error"] == "CancelledError"


async def test_a_given_logger_is_used_with_its_bound_fields() -> None:
    """A logger passed in keeps its own context."""
    with capture_logs() as logs:
        await traced(ScriptedService([OK]), logger=get_logger("app", account="main"))(REQUEST)
    assert events(logs)[0]["account"] == "main"


async def test_metrics_count_and_time_every_attempt() -> None:
    """requests_total and request_duration_seconds by exchange, endpoint and status class."""
    clock, metrics = FakeClock(), Metrics()

    async def inner(request: Request) -> Response:
        await clock.sleep(0.5)
        return OK

    service = traced(inner, metrics=metrics, clock=clock)
    await service(REQUEST)
    await service(REQUEST)
    labels = {"exchange": "binance", "endpoint": "depth", "status_class": "2xx"}
    sample = metrics.registry.get_sample_value
    assert sample("lotusx_requests_total", labels) == 2
    assert sample("lotusx_request_duration_seconds_count", labels) == 2
    assert sample("lotusx_request_duration_seconds_sum", labels) == 1.0


@pytest.mark.parametrize(("error", "status_class"), [
    (e.ConnectError(), "error"), (e.RateLimited(response=Response(status=429)), "4xx"),
    (e.ServerError(status=503), "5xx")])
async def test_failed_attempts_are_counted_by_status_class(error: e.LotusXError, status_class: str) -> None:
    """Failures land in their status class; no response at all is 'error'."""
    metrics = Metrics()
    with pytest.raises(type(error)):
        await traced(ScriptedService([error]), metrics=metrics)(REQUEST)
    labels = {"exchange": "binance", "endpoint": "depth", "status_class": status_class}
    assert metrics.registry.get_sample_value("lotusx_requests_total", labels) == 1


async def test_retried_attempts_are_each_traced_under_one_request_id() -> None:
    """Retry ∘ Trace: attempts 1..3 logged, all with the same request id."""
    inner = ScriptedService([e.ServerError(), e.Timeout(), OK])
    service = stack(Retry(RetryPolicy(jitter=lambda lo, hi: 0.0), clock=FakeClock()), Trace("binance"))(inner)
    with capture_logs() as logs:
        await service(REQUEST)
    traced_events = events(logs)
    assert [ev["attempt"] for ev in traced_events] == [1, 2, 3]
    assert len({ev["request_id"] for ev in traced_events}) == 1


def test_repr_shows_the_configuration() -> None:
    """repr(stack) names the exchange."""
    assert "Trace(exchange='binance'" in repr(stack(Trace("binance")))


# ===== redaction =====

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # not registered with the redactor
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ORDER = Endpoint("new_order", "POST", "/api/v3/order", signed=True, idempotency=Idempotency.SAFE_WITH_CLIENT_ID)


def hmac_signer(signatures: list[str]) -> Layer:
    """A Binance-style signer layer: HMAC of the query into ``signature``, key in a header."""
    def layer(inner: Service) -> Service:
        async def service(request: Request) -> Response:
            request = request.with_query(("timestamp", "1499827319559"))
            signature = hmac.new(SECRET.encode(), request.query_string.encode(), hashlib.sha256).hexdigest()
            signatures.append(signature)
            return await inner(request.with_query(("signature", signature)).with_headers(("X-MBX-APIKEY", API_KEY)))

        return service

    return layer


async def absent(request: Request) -> Response | None:
    """A reconcile hook that finds no order."""
    return None


def render(event: MutableMapping[str, Any]) -> str:
    return orjson.dumps(dict(event), default=str).decode()


async def test_no_secret_reaches_a_log_event_or_an_exception_text() -> None:
    """Signed, retried, failing calls: no key, secret or signature in any event or error text."""
    script: Iterator[Response | Exception] = iter([
        Response(status=503), e.ConnectError("POST /api/v3/order: refused"), Response(status=429),
        Response(status=200, body=b"{}"), Response(status=401)])

    def venue(request: Request) -> Response:
        step = next(script)
        if isinstance(step, BaseException):
            raise step
        return step

    transport, metrics = FakeTransport(venue), Metrics()
    signatures: list[str] = []
    service = stack(
        Retry(RetryPolicy(max_attempts=4, jitter=lambda lo, hi: 0.0), reconcile=absent,
              clock=FakeClock(), metrics=metrics, exchange="binance"),
        hmac_signer(signatures), Trace("binance", metrics=metrics), MapErrors())(transport)
    place = Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"), ("side", "BUY")),
                    endpoint=ORDER, ext={"client_order_id": "cid-9"})
    texts: list[str] = []
    with capture_logs() as logs:
        assert (await service(place)).status == 200
        with pytest.raises(e.AuthenticationError) as raised:
            await service(place)
    texts += [str(raised.value), repr(raised.value), repr(raised.value.response)]
    texts += [render(event) for event in logs] + [repr(event) for event in logs]
    texts += [repr(service), repr(transport.requests)]
    assert len(events(logs)) == len(signatures) == 5
    assert any("X-MBX-APIKEY" in dict(r.headers) for r in transport.requests)  # the secrets were really sent
    for text in texts:
        for secret in (API_KEY, SECRET, *signatures):
            assert secret not in text



@pytest.fixture
def warnings_only() -> Iterator[None]:
    """structlog filtering below WARNING, as a latency-sensitive deployment configures it."""
    import logging

    import structlog

    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        yield
    finally:
        structlog.configure(**saved)


async def test_filtered_info_level_logs_nothing_but_still_counts(warnings_only: None) -> None:
    """With info filtered, a success emits no event (its fields are never built); metrics still count."""
    metrics, read = Metrics(), []

    class Headers(dict[str, str]):
        def items(self) -> Any:
            read.append(True)
            return super().items()

    log = get_logger("lotusx.rest")
    assert not log.enabled("info") and log.enabled("warning")
    response = Response(status=200, headers=Headers({"X-MBX-USED-WEIGHT-1M": "5"}))
    with capture_logs() as logs:
        await traced(ScriptedService([response]), metrics=metrics, usage_headers=("X-MBX-",))(REQUEST)
    assert events(logs) == [] and read == []
    labels = {"exchange": "binance", "endpoint": "depth", "status_class": "2xx"}
    assert metrics.registry.get_sample_value("lotusx_requests_total", labels) == 1


async def test_filtered_info_level_still_logs_failed_attempts(warnings_only: None) -> None:
    """Failures log at warning, which the filter lets through."""
    with capture_logs() as logs, pytest.raises(e.ConnectError):
        await traced(ScriptedService([e.ConnectError()]))(REQUEST)
    assert events(logs)[0]["error"] == "ConnectError"


async def test_an_outer_request_id_in_contextvars_is_restored_after_the_call() -> None:
    """Trace binds its id for the attempt and puts back whatever id was bound before, even on error."""
    from structlog.contextvars import bind_contextvars, reset_contextvars

    tokens = bind_contextvars(request_id="app-1")
    try:
        await traced(ScriptedService([OK]))(REQUEST.with_ext(request_id="call-2"))
        with pytest.raises(e.ConnectError):
            await traced(ScriptedService([e.ConnectError()]))(REQUEST.with_ext(request_id="call-3"))
        assert get_contextvars()["request_id"] == "app-1"
    finally:
        reset_contextvars(**tokens)

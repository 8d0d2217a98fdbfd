"""Secret redaction in logs and reprs; metric definitions."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest
import structlog
from prometheus_client import CollectorRegistry

from lotusx import Credentials, register_secret
from lotusx.log import REDACTED, get_logger, scrub
from lotusx.metrics import Metrics, status_class
from tests.signers.test_ed25519 import CONNECTOR_PEM

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zv"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP"


def test_credentials_repr_never_shows_secrets() -> None:
    """repr/str of Credentials show only a key prefix."""
    creds = Credentials(api_key=KEY, secret=SECRET, passphrase="pass-phrase-1")
    for text in (repr(creds), str(creds), f"{creds!r}"):
        assert SECRET not in text and KEY not in text and "pass-phrase-1" not in text


def test_log_events_are_redacted_by_field_name_and_by_value() -> None:
    """Secret-named fields and known secret values anywhere in strings are masked."""
    Credentials(api_key=KEY, secret=SECRET)
    with structlog.testing.capture_logs() as logs:
        get_logger(exchange="binance").bind(endpoint="order").info(
            "rest.request", signature="abcdef0123", url=f"/api?x=1&signature=ff00&key={KEY}",
            note=f"error mentioning {SECRET}", headers=(("X-MBX-APIKEY", KEY), ("Accept", "json")))
    text = repr(logs)
    assert KEY not in text and SECRET not in text and "ff00" not in text and "abcdef0123" not in text
    event = logs[0]
    assert event["signature"] == REDACTED and event["exchange"] == "binance" and event["endpoint"] == "order"
    assert ("Accept", "json") in event["headers"]


def test_scrub_masks_jwts_nested_values_and_registered_secrets() -> None:
    """JWTs, registered listen keys and nested containers are scrubbed."""
    register_secret("listenKey0123456789")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    cleaned = scrub({"nested": [f"bearer {jwt}", b"listenKey0123456789"], "apiKey": "x"})
    assert jwt not in repr(cleaned) and "listenKey0123456789" not in repr(cleaned)
    assert cleaned["apiKey"] == REDACTED
    assert scrub(ValueError("bad listenKey0123456789")) == f"ValueError: bad {REDACTED}"
    assert scrub(7) == 7


def test_a_signature_and_api_key_inside_a_json_request_are_masked() -> None:
    """A WebSocket API request logged as JSON text keeps neither its "signature" nor its "apiKey" value."""
    text = '{"method":"userDataStream.subscribe.signature","params":{"apiKey":"unregistered-key-1",' \
           '"timestamp":1,"signature": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}}'
    cleaned = scrub(text)
    assert "unregistered-key-1" not in cleaned and "0f1e2d3c4b5a69788796a5b4c3d2e1f0" not in cleaned
    assert '"timestamp":1' in cleaned


def test_a_registered_secret_is_masked_in_its_url_encoded_forms() -> None:
    """A secret with reserved characters (base64, a passphrase) is masked once percent-encoded too."""
    secret = "Zm9v+YmFy/YmF6 pass=="
    register_secret(secret)
    with structlog.testing.capture_logs() as logs:
        get_logger().info("sent", query=f"a=1&note={quote(secret, safe='')}", form=f"note={quote_plus(secret)}&b=2")
    text = repr(logs)
    assert quote(secret, safe="") not in text and quote_plus(secret) not in text
    assert logs[0]["query"] == f"a=1&note={REDACTED}"


LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a"


@dataclass
class _Holder:
    listen_key: str


@pytest.mark.parametrize("value", [
    {LISTEN_KEY}, frozenset([LISTEN_KEY]), bytearray(LISTEN_KEY.encode()), _Holder(LISTEN_KEY)],
    ids=["set", "frozenset", "bytearray", "object"])
def test_a_secret_inside_a_value_the_redactor_cannot_walk_is_masked(value: object) -> None:
    """Sets, bytearrays and objects are rendered from their repr later: a secret in it is masked."""
    register_secret(LISTEN_KEY)
    with structlog.testing.capture_logs() as logs:
        get_logger().info("event", value=value)
    assert LISTEN_KEY not in repr(logs)


def test_a_secret_used_as_a_dict_key_is_masked() -> None:
    """A registered secret that is a key of a logged mapping is masked like a value."""
    register_secret(LISTEN_KEY)
    with structlog.testing.capture_logs() as logs:
        get_logger().info("event", streams={LISTEN_KEY: "open"})
    assert LISTEN_KEY not in repr(logs)


def test_plain_values_keep_their_type_through_redaction() -> None:
    """Numbers, None and objects whose repr holds no secret are passed on unchanged."""
    marker = _Holder("nothing to hide")
    assert scrub({"n": 1, "x": 0.5, "none": None, "ok": True, "obj": marker}) == {
        "n": 1, "x": 0.5, "none": None, "ok": True, "obj": marker}


def test_an_ed25519_key_given_as_pem_bytes_is_masked() -> None:
    """A private key passed as bytes is registered as text: logged, it is masked (and logging still works)."""
    Credentials(api_key=KEY, secret=CONNECTOR_PEM.encode())
    with structlog.testing.capture_logs() as logs:
        get_logger().info("key loaded", pem=CONNECTOR_PEM)
    assert logs[0]["pem"] == REDACTED


def test_short_values_are_not_registered_as_secrets() -> None:
    """Values under 8 characters are not scrubbed globally (they would mask ordinary words)."""
    register_secret("abc")
    assert scrub("abc def") == "abc def"


def test_metrics_use_an_isolated_registry_by_default() -> None:
    """Two Metrics objects do not collide; names follow Prometheus conventions."""
    first, second = Metrics(), Metrics()
    first.rest_tally("binance", "depth", "2xx").observe(0.001)
    assert first.registry.get_sample_value(
        "lotusx_requests_total", {"exchange": "binance", "endpoint": "depth", "status_class": "2xx"}) == 1.0
    assert second.registry.get_sample_value(
        "lotusx_requests_total", {"exchange": "binance", "endpoint": "depth", "status_class": "2xx"}) is None
    shared = CollectorRegistry()
    assert Metrics(shared).registry is shared


def test_rest_tally_buckets_follow_prometheus_le_semantics() -> None:
    """An attempt lands in the first bucket whose bound is >= its duration; count is the +Inf bucket."""
    metrics = Metrics()
    tally = metrics.rest_tally("binance", "depth", "2xx")
    for seconds in (0.0005, 0.0006, 0.001, 20.0):
        tally.observe(seconds)
    labels = {"exchange": "binance", "endpoint": "depth", "status_class": "2xx"}
    sample = metrics.registry.get_sample_value
    assert sample("lotusx_request_duration_seconds_bucket", {**labels, "le": "0.0005"}) == 1
    assert sample("lotusx_request_duration_seconds_bucket", {**labels, "le": "0.001"}) == 3
    assert sample("lotusx_request_duration_seconds_bucket", {**labels, "le": "10.0"}) == 3
    assert sample("lotusx_request_duration_seconds_bucket", {**labels, "le": "+Inf"}) == 4
    assert sample("lotusx_request_duration_seconds_count", labels) == 4
    assert sample("lotusx_requests_total", labels) == 4
    assert sample("lotusx_request_duration_seconds_sum", labels) == pytest.approx(20.0021)


def test_rest_tallies_are_shared_per_label_set() -> None:
    """The same labels give the same tally; other labels another one."""
    metrics = Metrics()
    assert metrics.rest_tally("binance", "depth", "2xx") is metrics.rest_tally("binance", "depth", "2xx")
    assert metrics.rest_tally("binance", "depth", "4xx") is not metrics.rest_tally("binance", "depth", "2xx")


def test_rest_metrics_render_in_the_text_exposition() -> None:
    """The scrape shows the histogram and the counter under their usual names and types."""
    from prometheus_client import generate_latest

    metrics = Metrics()
    metrics.rest_tally("binance", "depth", "2xx").observe(0.002)
    text = generate_latest(metrics.registry).decode()
    assert "# TYPE lotusx_request_duration_seconds histogram" in text
    assert "# TYPE lotusx_requests_total counter" in text
    assert 'lotusx_requests_total{endpoint="depth",exchange="binance",status_class="2xx"} 1.0' in text


def test_status_class() -> None:
    """Status classes are 2xx..5xx, or error when no response came."""
    assert [status_class(s) for s in (200, 429, 503, None)] == ["2xx", "4xx", "5xx", "error"]


async def scrape(metrics: Metrics) -> str:
    """What ``serve(port, metrics)`` answers a Prometheus scrape over loopback, on a free port."""
    import socket

    import aiohttp

    from lotusx.metrics import serve

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stop = serve(port, metrics)
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
            return await resp.text()
    finally:
        stop()


async def test_metrics_serve_exposes_the_registry_on_loopback() -> None:
    """serve(port) exposes the metrics over HTTP on 127.0.0.1."""
    metrics = Metrics()
    metrics.retries.labels("binance", "order", "Timeout").inc(3)
    text = await scrape(metrics)
    assert 'lotusx_retries_total{endpoint="order",exchange="binance",reason="Timeout"} 3.0' in text


def test_events_below_the_configured_level_are_not_processed() -> None:
    """A logger filtered at WARNING drops info events before redaction, and still logs warnings."""
    import logging

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        with structlog.testing.capture_logs() as logs:
            log = get_logger()
            log.info("dropped", secret=SECRET)
            log.debug("dropped too")
            log.warning("kept", secret=SECRET)
            log.error("kept too")
    finally:
        structlog.reset_defaults()
    assert [e["event"] for e in logs] == ["kept", "kept too"]
    assert logs[0]["secret"] == REDACTED


def test_scrub_keeps_a_namedtuple_and_masks_its_fields() -> None:
    """A logged namedtuple is scrubbed field by field, not turned into a TypeError."""
    secret = "nt-7f3c9a1e07b5d2"
    register_secret(secret)
    Pair = namedtuple("Pair", "name value")
    scrubbed = scrub(Pair("stream", f"listen {secret}"))
    assert type(scrubbed) is Pair and scrubbed == Pair("stream", f"listen {REDACTED}")


def test_a_secret_holding_another_is_masked_whole() -> None:
    """With "k-5e1f0a9c" and "outer-k-5e1f0a9c-tail" both registered, no part of the longer one shows."""
    register_secret("k-5e1f0a9c")
    register_secret("outer-k-5e1f0a9c-tail")
    assert scrub("id outer-k-5e1f0a9c-tail") == f"id {REDACTED}"


@pytest.mark.parametrize("how", ["exception", "true"])
def test_exc_info_is_rendered_redacted_never_left_to_the_apps_formatter(how: str) -> None:
    """exc_info becomes a redacted "exception" text: the app's format_exc_info has nothing left to render raw."""
    register_secret(SECRET)
    seen: list[dict[str, object]] = []

    def keep(_logger: object, _method: str, event: dict[str, object]) -> dict[str, object]:
        seen.append(dict(event))
        raise structlog.DropEvent

    structlog.configure(processors=[structlog.processors.format_exc_info, keep])
    try:
        try:
            raise RuntimeError(f"call failed with {SECRET} in it")
        except RuntimeError as exc:
            get_logger().error("boom", exc_info=exc if how == "exception" else True)
    finally:
        structlog.reset_defaults()
    [event] = seen
    assert SECRET not in str(event)
    assert "RuntimeError" in str(event["exception"]) and "exc_info" not in event

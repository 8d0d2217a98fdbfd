"""A stream whose every message is malformed logs a warning a minute, not one per message; the metric counts all."""

from __future__ import annotations

import structlog

from lotusx.metrics import Metrics
from lotusx.testing import FakeClock
from lotusx.ws.parse import QUIET_SECONDS, Repeats, report_malformed


def _warnings(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [event for event in logs if event["event"] == "ws message malformed"]


def _report(repeats: Repeats, metrics: Metrics | None = None, stream: str = "btcusdt@depth") -> None:
    report_malformed(metrics, "binance", "schema", "Expected `str`", 120, stream, repeats=repeats)


def test_a_run_of_malformed_messages_is_one_warning() -> None:
    """1,000 malformed messages within a minute: one warning, and all 1,000 counted."""
    metrics = Metrics()
    repeats = Repeats(FakeClock())
    with structlog.testing.capture_logs() as logs:
        for _ in range(1000):
            _report(repeats, metrics)
    assert len(_warnings(logs)) == 1
    assert metrics.registry.get_sample_value(
        "lotusx_ws_malformed_frames_total", {"exchange": "binance", "reason": "schema"}) == 1000


async def test_the_next_warning_says_how_many_went_unwritten() -> None:
    """A minute on, the next malformed message is written again, with how many were not since."""
    clock = FakeClock()
    repeats = Repeats(clock)
    with structlog.testing.capture_logs() as logs:
        for _ in range(50):
            _report(repeats)
        await clock.advance(QUIET_SECONDS)
        _report(repeats)
    assert [w["unlogged"] for w in _warnings(logs)] == [0, 49]


def test_another_stream_is_news() -> None:
    """A second stream going malformed is written at once: it is another incident."""
    repeats = Repeats(FakeClock())
    with structlog.testing.capture_logs() as logs:
        _report(repeats, stream="btcusdt@depth")
        _report(repeats, stream="btcusdt@depth")
        _report(repeats, stream="ethusdt@trade")
    assert [w["stream"] for w in _warnings(logs)] == ["btcusdt@depth", "ethusdt@trade"]

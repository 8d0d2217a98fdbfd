"""A library is quiet until asked: with structlog left unconfigured, only warnings and errors print."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from lotusx.log import get_logger


@pytest.fixture
def unconfigured() -> Iterator[None]:
    """structlog as an app that never configured it has it; reset afterwards."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("unconfigured")
def test_an_unconfigured_app_sees_no_info_line_per_call(capsys: pytest.CaptureFixture[str]) -> None:
    """Info and debug events (one per REST attempt) print nothing; a warning still prints."""
    log = get_logger("lotusx.rest")
    log.info("rest.request", path="/api/v3/depth")
    log.debug("rest.detail")
    log.warning("rest.retry", path="/api/v3/order")
    out = capsys.readouterr().out
    assert "rest.request" not in out and "rest.detail" not in out and "rest.retry" in out


def test_a_configured_app_gets_the_level_it_asked_for() -> None:
    """Once the app configures structlog (capture_logs does), info events reach it."""
    with structlog.testing.capture_logs() as logs:
        get_logger("lotusx.rest").info("rest.request")
    assert [event["event"] for event in logs] == ["rest.request"]

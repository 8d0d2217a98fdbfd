"""RedactingLogger.enabled follows structlog's configuration as it changes, without a copy of it per call."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from lotusx.log import get_logger


@pytest.fixture
def restored() -> Iterator[None]:
    """structlog's configuration as it was before the test."""
    saved = structlog.get_config()
    configured = structlog.is_configured()
    try:
        yield
    finally:
        structlog.reset_defaults()
        if configured:
            structlog.configure(**saved)


def test_enabled_follows_configure_and_reset(restored: None) -> None:
    """One logger: filtered at WARNING, then at DEBUG, then unconfigured (warnings and errors only)."""
    log = get_logger("lotusx.test")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    assert not log.enabled("info") and log.enabled("warning")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    assert log.enabled("debug") and log.enabled("info")
    structlog.reset_defaults()
    assert not log.enabled("info") and log.enabled("error")

"""An app that routes structlog through the standard library's logging gets LotusX's events, filtered by its levels."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.trace import Trace
from lotusx.log import get_logger
from lotusx.testing import ScriptedService

DEPTH = Endpoint("depth", "GET", "/api/v3/depth")
REQUEST = Request(method="GET", path="/api/v3/depth", endpoint=DEPTH)


class Kept(logging.Handler):
    """The records logging passed on."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def stdlib_logging() -> Iterator[Kept]:
    """structlog configured as its docs show for the standard library integration; reset afterwards."""
    saved = structlog.get_config()
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, structlog.stdlib.add_log_level,
                    structlog.processors.KeyValueRenderer()],
        wrapper_class=structlog.stdlib.BoundLogger, logger_factory=structlog.stdlib.LoggerFactory())
    kept, lotusx = Kept(), logging.getLogger("lotusx")
    lotusx.addHandler(kept)
    level = lotusx.level
    try:
        yield kept
    finally:
        lotusx.removeHandler(kept)
        lotusx.setLevel(level)
        structlog.configure(**saved)


async def test_a_rest_call_is_logged_through_the_standard_library(stdlib_logging: Kept) -> None:
    """With stdlib's BoundLogger configured, a traced call succeeds and its event reaches logging."""
    logging.getLogger("lotusx").setLevel(logging.INFO)
    response = await Trace("binance")(ScriptedService([Response(status=200)]))(REQUEST)
    assert response.status == 200
    assert [record.name for record in stdlib_logging.records] == ["lotusx.rest"]
    assert "rest.request" in stdlib_logging.records[0].getMessage()


def test_the_standard_library_level_decides_what_lotusx_logs(stdlib_logging: Kept) -> None:
    """A logging level of WARNING filters LotusX's info events and lets its warnings through."""
    logging.getLogger("lotusx").setLevel(logging.WARNING)
    log = get_logger("lotusx.rest")
    assert not log.enabled("info") and log.enabled("warning")
    log.info("rest.request")
    log.warning("rest.retry")
    assert ["rest.retry" in record.getMessage() for record in stdlib_logging.records] == [True]


def test_a_wrapper_that_cannot_tell_its_level_logs_everything(capsys: pytest.CaptureFixture[str]) -> None:
    """stdlib's BoundLogger over structlog's default PrintLogger (no isEnabledFor) logs, as structlog itself does."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.stdlib.BoundLogger)
    try:
        get_logger("lotusx.rest").info("rest.request")
    finally:
        structlog.configure(**saved)
    assert "rest.request" in capsys.readouterr().out

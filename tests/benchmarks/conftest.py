"""The benchmark servers, each started once per test module in its own process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.measure import Server
from bench.measure import server as bench_server


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The ``python -m bench.server`` kind the test module names in its ``SERVER``."""
    with bench_server(request.module.SERVER) as running:
        yield running

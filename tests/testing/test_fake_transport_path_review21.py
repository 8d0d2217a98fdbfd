"""FakeTransport refuses what the real transport refuses, so a test does not pass what production cannot."""

from __future__ import annotations

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeTransport


async def test_a_path_without_its_leading_slash_is_refused_as_aiohttp_rest_refuses_it() -> None:
    """'api/v3/time' is a ConfigError before the handler runs, as AiohttpRest makes it."""
    fake = FakeTransport(lambda request: Response(status=200))
    with pytest.raises(ConfigError, match="must start with '/'"):
        await fake(Request(method="GET", path="api/v3/time"))
    assert fake.requests == []

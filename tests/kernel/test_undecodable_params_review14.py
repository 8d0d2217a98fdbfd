"""A parameter that is not text (undecodable bytes: a lone surrogate) is a ConfigError, and nothing is sent."""

from __future__ import annotations

import pytest

from lotusx import ConfigError, Response, RestClient
from lotusx.kernel.message import encode_query
from lotusx.testing import FakeTransport
from lotusx.transport import AiohttpRest

# What os.environ or open(errors="surrogateescape") holds for bytes that are not UTF-8.
UNDECODABLE = b"BTC\xffUSDT".decode("utf-8", "surrogateescape")


def _ok(_: object) -> Response:
    return Response(status=200, body=b"{}")


def test_encode_query_names_the_parameter_that_is_not_text() -> None:
    """encode_query raises ConfigError naming the parameter, not UnicodeEncodeError."""
    with pytest.raises(ConfigError, match="'symbol'"):
        encode_query((("side", "BUY"), ("symbol", UNDECODABLE)))


async def test_a_query_parameter_that_is_not_text_is_a_config_error_from_the_transport() -> None:
    """GET over AiohttpRest raises ConfigError naming the parameter, not UnicodeEncodeError (nothing listens there)."""
    async with RestClient(AiohttpRest("http://127.0.0.1:1")) as client:
        with pytest.raises(ConfigError, match="'symbol'"):
            await client.get("/api/v3/ticker", {"symbol": UNDECODABLE})


async def test_a_json_body_that_is_not_text_is_refused_before_it_is_sent() -> None:
    """POST with such a value in a JSON body raises ConfigError, not orjson's TypeError; the transport sees nothing."""
    transport = FakeTransport(_ok)
    with pytest.raises(ConfigError, match="JSON"):
        await RestClient(transport).post("/v5/order/create", {"symbol": UNDECODABLE})
    assert transport.requests == []

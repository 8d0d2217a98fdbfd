"""A base URL no socket can open is a ConfigError when it is given, not a ValueError or a stream retrying for ever."""

from __future__ import annotations

import pytest

import lotusx
from lotusx import ConfigError
from lotusx.transport import AiohttpRest, AiohttpWs

# Each fails inside the HTTP client or the resolver: bracket never closed, port past 65535, port
# not a number, an empty DNS label, a label longer than DNS allows (63).
HOSTS = ["[::1", "127.0.0.1:99999", "127.0.0.1:port", "a..b", "a" * 64 + ".example"]


@pytest.mark.parametrize("host", HOSTS)
def test_rest_base_url_that_cannot_be_opened_is_a_config_error(host: str) -> None:
    """AiohttpRest refuses the URL as it is built."""
    with pytest.raises(ConfigError, match="base_url"):
        AiohttpRest(f"http://{host}")


@pytest.mark.parametrize("host", HOSTS)
def test_ws_url_that_cannot_be_opened_is_a_config_error(host: str) -> None:
    """AiohttpWs refuses the URL as it is built, so ReconnectWs ends (ConfigError is fatal) instead of retrying."""
    with pytest.raises(ConfigError, match="WebSocket url"):
        AiohttpWs(f"ws://{host}/ws")


async def test_connect_refuses_a_malformed_ws_url_before_any_stream() -> None:
    """lotusx.connect(ws_url=...) with a URL no socket can open raises ConfigError on entering, without a password."""
    with pytest.raises(ConfigError, match="ws_url") as raised:
        async with lotusx.connect("binance", rest_url="http://127.0.0.1:1", ws_url="ws://user:hunter2@[::1"):
            pass
    assert "hunter2" not in str(raised.value)

"""A proxy URL whose password holds a URL delimiter is refused without showing that password."""

from __future__ import annotations

import pytest

import lotusx
from lotusx import ConfigError
from lotusx.transport import AiohttpRest, AiohttpWs

PASSWORD = "pr0xy/s3cr#t?x"


@pytest.mark.parametrize("password", ["pr0xy/s3cret", "pr0xy#s3cret", "pr0xy?s3cret"])
def test_rest_refuses_it_without_the_password(password: str) -> None:
    """Unencoded, '/', '#' or '?' end the URL's authority early: the ConfigError hides the password all the same."""
    with pytest.raises(ConfigError, match="proxy") as caught:
        AiohttpRest("https://api.binance.com", proxy=f"http://trader:{password}@127.0.0.1:3128")
    assert "pr0xy" not in str(caught.value)


def test_websocket_refuses_it_without_the_password() -> None:
    """AiohttpWs checks its proxy as AiohttpRest does, its password hidden."""
    with pytest.raises(ConfigError, match="proxy") as caught:
        AiohttpWs("wss://stream.binance.com:9443/ws", proxy=f"http://trader:{PASSWORD}@127.0.0.1:3128")
    assert "pr0xy" not in str(caught.value)


async def test_connect_refuses_it_without_the_password() -> None:
    """lotusx.connect(proxy=) says the URL is malformed, not what the password is."""
    with pytest.raises(ConfigError, match="proxy") as caught:
        async with lotusx.connect("binance", proxy=f"http://trader:{PASSWORD}@127.0.0.1:3128"):
            pass
    assert "pr0xy" not in str(caught.value)


def test_a_socks_proxy_is_refused_without_its_password() -> None:
    """The scheme check hides a password with a delimiter in it too."""
    with pytest.raises(ConfigError, match="http://") as caught:
        AiohttpRest("https://api.binance.com", proxy=f"socks5://trader:{PASSWORD}@127.0.0.1:1080")
    assert "pr0xy" not in str(caught.value)

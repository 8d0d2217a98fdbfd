"""Secrets review, round 11: bad keys, header mappings and transport errors never show a secret."""

from __future__ import annotations

from types import MappingProxyType

import pytest
import structlog
from multidict import CIMultiDict

import lotusx
from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request
from lotusx.log import get_logger
from lotusx.signers import BinanceEd25519, CoinbaseExchangeHmac
from lotusx.transport import AiohttpRest, AiohttpWs

# A PEM whose body took a typographic character on its way through a chat or an editor.
_BODY = "MC4CAQAwBQYDK2VwBCIEIAf3cd2cTFBxvX…ljHsTV0QYk3kI1OJKbBGrRvc1Rmqk"
_PEM = f"-----BEGIN PRIVATE KEY-----\n{_BODY}\n-----END PRIVATE KEY-----\n"


def _chain(exc: BaseException | None) -> str:
    """repr of ``exc`` and of every exception in its cause and context chain."""
    texts: list[str] = []
    while exc is not None and len(texts) < 10:
        texts.append(repr(exc))
        exc = exc.__cause__ or exc.__context__
    return " | ".join(texts)


@pytest.mark.parametrize("key", [_PEM, _PEM.encode()], ids=["str", "bytes"])
def test_a_non_ascii_pem_key_is_a_config_error_holding_no_key_material(key: str | bytes) -> None:
    """A PEM with a non-ASCII character is a ConfigError; no exception in its chain holds the key."""
    with pytest.raises(ConfigError) as info:
        BinanceEd25519("k" * 64, key)
    assert "ljHsTV0QYk3kI1OJ" not in _chain(info.value)


def test_a_non_ascii_base64_secret_is_a_config_error_holding_no_secret() -> None:
    """A base64 secret with a non-ASCII character is a ConfigError; no exception in its chain holds it."""
    secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=é"
    with pytest.raises(ConfigError, match="base64") as info:
        CoinbaseExchangeHmac("cb-key-0123456789", secret, "cb-passphrase")
    assert "c2VjcmV0LXNlY3JldC1zZWNyZXQ" not in _chain(info.value)


@pytest.mark.parametrize("make", [MappingProxyType, CIMultiDict], ids=["mappingproxy", "CIMultiDict"])
def test_a_header_mapping_that_is_not_a_dict_is_masked_by_field_name(make: type) -> None:
    """Signature and key headers in a logged mapping (aiohttp's CIMultiDict) are masked like a dict's."""
    signature = "9f1c" * 16
    headers = make({"X-BAPI-API-KEY": "short-k", "X-BAPI-SIGN": signature, "X-BAPI-RECV-WINDOW": "5000"})
    with structlog.testing.capture_logs() as logs:
        get_logger().info("sent", headers=headers)
    text = repr(logs)
    assert signature not in text and "short-k" not in text and "5000" in text


def test_a_password_in_the_rest_base_url_never_shows_in_its_repr_or_config_error() -> None:
    """``https://user:pw@relay`` keeps its password for the wire, never in a repr or an error text."""
    transport = AiohttpRest("https://trader:hunter2-secret@relay.example")
    assert "hunter2-secret" not in repr(transport) and "trader:" in repr(transport)
    with pytest.raises(ConfigError) as refused:
        AiohttpRest("ftp://trader:hunter2-secret@relay.example")
    assert "hunter2-secret" not in str(refused.value)


def test_a_password_in_a_websocket_url_never_shows_in_its_repr() -> None:
    """The same for a WebSocket URL, whose reprs and error texts show it without its query."""
    assert "hunter2-secret" not in repr(AiohttpWs("wss://trader:hunter2-secret@relay.example/ws"))


def test_the_repr_of_credentials_with_a_short_key_shows_none_of_it() -> None:
    """Four characters of a real key say which key it is; of a short one they are most of it."""
    assert "abcd" not in repr(lotusx.Credentials(api_key="abcdefgh", secret="s" * 64))
    assert repr(lotusx.Credentials(api_key="k" * 64, secret="s" * 64)) == "Credentials(api_key='kkkk…')"


async def test_a_failed_calls_traceback_holds_no_signed_query_in_its_frames_locals() -> None:
    """A traceback rendered with its frames' locals (structlog dict_tracebacks, rich) shows no signature."""
    signature = "5ec2e7516a7e5ec2e7516a7e5ec2e7516a7e5ec2e7516a7e"
    request = Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"), ("signature", signature)))
    async with AiohttpRest("http://127.0.0.1:1") as transport:  # nothing listens on port 1: refused
        with pytest.raises(lotusx.ConnectError) as refused:
            await transport(request)
    frame_locals = []
    assert refused.value.__traceback__ is not None
    tb = refused.value.__traceback__.tb_next  # past this test's own frame
    while tb is not None:
        frame_locals += [repr(value) for value in tb.tb_frame.f_locals.values()]
        tb = tb.tb_next
    assert frame_locals and not [text for text in frame_locals if signature in text]

"""Base64 prehash HMAC family (OKX / Coinbase Exchange style)."""

from __future__ import annotations

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request
from lotusx.signers import CoinbaseExchangeHmac, OkxHmac, PrehashHmac
from lotusx.signers.hmac import decimal_seconds, iso_ms

# OKX documents the recipe (https://www.okx.com/docs-v5/en/#overview-rest-authentication) with
# the example timestamp 2020-12-08T09:08:57.715Z and secret 22582BD0CFF14C41EDBF1AB98506286D but
# no signature value; each expected base64 below was computed independently with
# `printf '%s' "<prehash>" | openssl dgst -sha256 -hmac <secret> -binary | base64`.
OKX_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
OKX_TS = 1607418537715  # 2020-12-08T09:08:57.715Z


def test_iso_timestamp_has_milliseconds_and_z() -> None:
    """OKX timestamps are ISO 8601 UTC with three decimals and a Z."""
    assert iso_ms(OKX_TS) == "2020-12-08T09:08:57.715Z"
    assert iso_ms(1607418537005) == "2020-12-08T09:08:57.005Z"


def test_decimal_seconds_keeps_millisecond_zeros() -> None:
    """Coinbase timestamps are decimal seconds; leading zeros of the millis survive."""
    assert decimal_seconds(1700000000005) == "1700000000.005"


def test_okx_get_signs_path_with_query() -> None:
    """GET: base64 HMAC over timestamp + GET + /api/v5/account/balance?ccy=BTC."""
    request = Request(method="GET", path="/api/v5/account/balance", query=(("ccy", "BTC"),))
    signed = OkxHmac("okx-api-key", OKX_SECRET, "okx-passphrase").sign(request, OKX_TS)
    assert signed.header("OK-ACCESS-SIGN") == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
    assert signed.header("OK-ACCESS-TIMESTAMP") == "2020-12-08T09:08:57.715Z"
    assert signed.header("OK-ACCESS-KEY") == "okx-api-key"
    assert signed.header("OK-ACCESS-PASSPHRASE") == "okx-passphrase"


def test_okx_post_signs_the_json_body() -> None:
    """POST: the documented set-leverage body is appended to the prehash as sent."""
    body = b'{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}'
    request = Request(method="POST", path="/api/v5/account/set-leverage", body=body)
    signed = OkxHmac("okx-api-key", OKX_SECRET, "okx-passphrase").sign(request, OKX_TS)
    assert signed.header("OK-ACCESS-SIGN") == "eCnnCgWLjlQ9XnpUkrcny3qNq3WW/81KNrDr/XR6Xv8="


def test_coinbase_decodes_the_base64_secret_and_uses_seconds() -> None:
    """Coinbase: secret base64-decoded, decimal-second timestamp, CB-ACCESS-* headers."""
    signer = CoinbaseExchangeHmac("cb-api-key", "c2VjcmV0LWtleS1ieXRlcw==", "cb-passphrase")
    signed = signer.sign(Request(method="GET", path="/orders", query=(("status", "open"),)), 1700000000123)
    assert signed.header("CB-ACCESS-SIGN") == "dBiC/gsrsvZlOOygZ4bcdsHlWHe84gAcak1aCg+RdoA="
    assert signed.header("CB-ACCESS-TIMESTAMP") == "1700000000.123"
    assert signed.header("CB-ACCESS-PASSPHRASE") == "cb-passphrase"


def test_invalid_base64_secret_fails_at_construction() -> None:
    """A secret that must be base64 but is not is a ConfigError up front."""
    with pytest.raises(ConfigError, match="base64"):
        PrehashHmac("key", "not base64!!", secret_is_base64=True)


def test_no_passphrase_header_without_passphrase() -> None:
    """Without a passphrase only key, signature and timestamp headers are added."""
    signed = PrehashHmac("key-1234", "secret-1234").sign(Request(method="GET", path="/x"), OKX_TS)
    assert [name for name, _ in signed.headers] == ["OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP"]


def test_original_request_is_unchanged() -> None:
    """Signing returns a new request; the original keeps no headers."""
    original = Request(method="GET", path="/api/v5/account/balance")
    OkxHmac("okx-api-key", OKX_SECRET, "okx-passphrase").sign(original, OKX_TS)
    assert original.headers == ()


def test_repr_never_shows_key_secret_or_passphrase() -> None:
    """repr shows the format and header names only."""
    text = repr(OkxHmac("okx-api-key", OKX_SECRET, "okx-passphrase"))
    assert "okx-api-key" not in text and OKX_SECRET not in text and "okx-passphrase" not in text
    assert "timestamp_format='iso'" in text

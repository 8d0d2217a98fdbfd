"""A bytes secret (an Ed25519 key, as Credentials documents) reaches the right signer, or a ConfigError."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

import lotusx
from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request, Response
from lotusx.signers import BybitHmac, OkxHmac, QueryEd25519, binance_signer
from lotusx.testing import FakeTransport

SEED = bytes(range(32))
KEY = "review16-api-key-0123456789"


def test_a_raw_ed25519_seed_as_the_secret_gives_the_binance_ed25519_signer() -> None:
    """Credentials(secret=<32 raw bytes>) signs with Ed25519, the key those bytes are."""
    signer = binance_signer(lotusx.Credentials(KEY, SEED))  # type: ignore[arg-type]
    assert isinstance(signer, QueryEd25519) and bytes(signer.signing_key) == bytes(SigningKey(SEED))


async def test_binance_opened_with_a_raw_ed25519_seed_signs_its_calls() -> None:
    """lotusx.connect("binance") with a raw-bytes key opens, and its signed calls carry an Ed25519 signature."""
    def venue(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        return Response(status=200, body=b'{"balances": []}')

    transport = FakeTransport(venue)
    credentials = lotusx.Credentials(KEY, SEED)  # type: ignore[arg-type]
    async with lotusx.connect("binance", credentials=credentials, transport=transport) as ex:
        await ex.get_balances()
    signature = dict(transport.requests[-1].query)["signature"]
    assert len(signature) == 88  # base64 of a 64-byte Ed25519 signature, not 64 hex digits of an HMAC


@pytest.mark.parametrize("secret", [SEED, b"-----BEGIN PRIVATE KEY-----\n..."], ids=["raw", "pem"])
def test_bybit_given_a_bytes_secret_says_it_takes_an_hmac_secret(secret: bytes) -> None:
    """Bybit's HMAC signer refuses a bytes key with a ConfigError, not an AttributeError at connect."""
    with pytest.raises(ConfigError, match="HMAC secret"):
        BybitHmac(KEY, secret)  # type: ignore[arg-type]


def test_okx_given_a_bytes_secret_says_so_when_built_not_at_the_first_order() -> None:
    """The prehash family refuses a bytes secret at construction with the same ConfigError."""
    with pytest.raises(ConfigError, match="HMAC secret"):
        OkxHmac(KEY, SEED, "passphrase-1")  # type: ignore[arg-type]

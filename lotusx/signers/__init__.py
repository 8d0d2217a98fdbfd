"""Reusable signing schemes: HMAC-SHA256 (query / header / base64 prehash) and Ed25519 (pynacl).

Every signer implements :class:`lotusx.kernel.protocols.Signer`: a pure ``sign(request,
timestamp_ms)`` that returns a new request. Venue names are configurations of a family.
"""

from lotusx.kernel.credentials import Credentials
from lotusx.signers.ed25519 import BinanceEd25519, QueryEd25519, is_pem, load_ed25519_seed
from lotusx.signers.hmac import (
    BinanceHmac,
    BybitHmac,
    CoinbaseExchangeHmac,
    HeaderHmac,
    OkxHmac,
    PrehashHmac,
    QueryHmac,
    hmac_sha256_hex,
)


def binance_signer(credentials: Credentials, *, recv_window: int | None = None) -> QueryHmac | QueryEd25519:
    """The Binance signer for ``credentials``: Ed25519 when the secret is a PEM key, else HMAC.

    Binance HMAC secrets are plain strings; Ed25519 keys are PKCS#8 PEM, or bytes (a PEM or the
    32-byte seed, as :class:`Credentials` takes them). For a hex Ed25519 seed, call
    :func:`BinanceEd25519` directly (a hex string is also a valid HMAC secret).
    """
    secret = credentials.secret
    if isinstance(secret, bytes) or is_pem(secret):
        return BinanceEd25519(credentials.api_key, secret, recv_window=recv_window)
    return BinanceHmac(credentials.api_key, secret, recv_window=recv_window)


__all__ = [
    "BinanceEd25519", "BinanceHmac", "BybitHmac", "CoinbaseExchangeHmac", "HeaderHmac", "OkxHmac",
    "PrehashHmac", "QueryEd25519", "QueryHmac",
    "binance_signer", "hmac_sha256_hex", "is_pem", "load_ed25519_seed",
]

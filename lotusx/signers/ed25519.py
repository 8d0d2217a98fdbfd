"""Ed25519 query signer (Binance Ed25519 API keys), via pynacl.

Same payload as the HMAC query family; the signature is base64, and ``encode_query``
percent-encodes it (``+``, ``/``, ``=``) when it is placed in the query, as Binance requires.
Source: binance/binance-spot-api-docs rest-api.md, "SIGNED Endpoint Examples" / "Ed25519 Keys".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from lotusx.kernel.credentials import register_secret
from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request
from lotusx.signers.query import BINANCE_MAX_RECV_WINDOW, check_recv_window, sign_query, stamped_query

# PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410 §7): SEQUENCE { version 0, AlgorithmIdentifier
# id-Ed25519 (1.3.101.112), OCTET STRING { OCTET STRING (32 bytes) } }. Every unencrypted
# Ed25519 key without the optional public key is this prefix followed by the 32-byte seed.
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN = "-----BEGIN PRIVATE KEY-----"
_PEM_END = "-----END PRIVATE KEY-----"


def is_pem(key: str | bytes) -> bool:
    """True when ``key`` looks like a PEM block (of any kind)."""
    text = key.decode("ascii", "replace") if isinstance(key, bytes) else key
    return text.lstrip().startswith("-----BEGIN ")


def _seed_from_pem(pem: str) -> bytes:
    text = pem.strip()
    if not (text.startswith(_PEM_BEGIN) and text.endswith(_PEM_END)):
        # Encrypted keys and other PEM kinds are refused; never echo the key in the message.
        raise ConfigError("Ed25519 key: expected an unencrypted '-----BEGIN PRIVATE KEY-----' PEM block")
    body = "".join(text[len(_PEM_BEGIN):-len(_PEM_END)].split())
    if not body.isascii():
        # Checked first: b64decode would raise a ValueError chained to a UnicodeEncodeError holding the body.
        raise ConfigError("Ed25519 key: PEM body is not valid base64")
    try:
        der = base64.b64decode(body, validate=True)
    except binascii.Error:
        raise ConfigError("Ed25519 key: PEM body is not valid base64") from None
    if len(der) != len(_PKCS8_PREFIX) + 32 or not der.startswith(_PKCS8_PREFIX):
        raise ConfigError("Ed25519 key: PEM is not a PKCS#8 Ed25519 private key")
    return der[len(_PKCS8_PREFIX):]


def load_ed25519_seed(key: str | bytes) -> bytes:
    """The 32-byte seed from a PKCS#8 PEM (str or bytes), raw 32 bytes, or 64 hex characters."""
    if isinstance(key, bytes) and len(key) == 32:
        return key
    if is_pem(key):
        # "replace": a strict decode's UnicodeDecodeError would hold the whole key; a non-ASCII body is refused.
        return _seed_from_pem(key.decode("ascii", "replace") if isinstance(key, bytes) else key)
    text = key.decode("ascii", "replace") if isinstance(key, bytes) else key
    try:
        seed = bytes.fromhex(text.strip())
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ConfigError("Ed25519 key: expected PKCS#8 PEM, 32 raw bytes or 64 hex characters")
    return seed


@dataclass(frozen=True)
class QueryEd25519:
    """Base64 Ed25519 signature over ``query + body``, appended as the last query parameter."""

    api_key: str = field(repr=False)
    signing_key: SigningKey = field(repr=False)
    recv_window: int | None = None
    key_header: str = "X-MBX-APIKEY"
    signature_param: str = "signature"
    timestamp_param: str = "timestamp"
    recv_window_param: str = "recvWindow"

    def __post_init__(self) -> None:
        register_secret(self.api_key)
        if self.recv_window is not None:  # None leaves it out: the venue's default
            check_recv_window(type(self).__name__, self.recv_window)

    @classmethod
    def from_key(cls, api_key: str, private_key: str | bytes, *, recv_window: int | None = None) -> QueryEd25519:
        """Build from a PEM, raw seed or hex private key (see :func:`load_ed25519_seed`).

        The key is registered with the log redactor, as given and as its seed's hex, as
        ``Credentials`` registers it: a signer built without them must not leave it showable.
        """
        seed = load_ed25519_seed(private_key)
        register_secret(private_key)
        register_secret(seed.hex())
        return cls(api_key, SigningKey(seed), recv_window=recv_window)

    def signature(self, payload: bytes) -> str:
        """Standard base64 of the 64-byte Ed25519 signature of ``payload``."""
        return base64.b64encode(self.signing_key.sign(payload).signature).decode("ascii")

    def sign(self, request: Request, timestamp_ms: int) -> Request:
        """A new request carrying timestamp, recvWindow, signature and the API key header."""
        query = stamped_query(request.query, timestamp_ms, recv_window=self.recv_window,
                              timestamp_param=self.timestamp_param, recv_window_param=self.recv_window_param)
        return sign_query(request, query, self.signature, self.signature_param, (self.key_header, self.api_key))


def BinanceEd25519(api_key: str, private_key: str | bytes, *,
                   recv_window: int | None = None) -> QueryEd25519:
    """Binance Ed25519 API keys: the Ed25519 query family with Binance's names."""
    if recv_window is not None:
        check_recv_window("BinanceEd25519", recv_window, most=BINANCE_MAX_RECV_WINDOW)
    return QueryEd25519.from_key(api_key, private_key, recv_window=recv_window)

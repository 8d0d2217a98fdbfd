"""Ed25519 signer: RFC 8032 vectors, Binance's connector vector, key loading and placement."""

from __future__ import annotations

import base64

import pytest
from nacl.signing import SigningKey

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request
from lotusx.signers import BinanceEd25519, QueryEd25519, load_ed25519_seed

# RFC 8032 §7.1 "Test Vectors for Ed25519", TEST 1-3: (secret key, public key, message, signature).
# https://www.rfc-editor.org/rfc/rfc8032#section-7.1
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]

# binance/binance-connector-python tests/lib/test_authentication.py, test_ed25519_signature:
# this PEM signs "type=SPOT&timestamp=1685686334211" to the base64 below.
CONNECTOR_PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIE4rJ0goma1nbu1d8T1dp//0pe40jnf8tghwRhsSY4Bk
-----END PRIVATE KEY-----"""
CONNECTOR_SIGNATURE = "E4nWIl3yUJgJFL6LoWImsrEwNegMiN9SN1FWKw+P3xXkJ2T/MtSq3Cg7fVnOGFWxTBX6vrTJJNoZnVtAgs1CAQ=="
API_KEY = "ed25519-api-key-for-tests"


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032, ids=["TEST1", "TEST2", "TEST3"])
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    """A hex seed loads to the RFC 8032 key pair and signs to the RFC 8032 signature."""
    signer = BinanceEd25519(API_KEY, secret)
    assert signer.signing_key.verify_key.encode().hex() == public
    assert base64.b64decode(signer.signature(bytes.fromhex(message))).hex() == signature


def test_binance_connector_vector_end_to_end() -> None:
    """The connector's PEM signs type=SPOT at 1685686334211 to its published signature."""
    request = Request(method="GET", path="/sapi/v1/asset/x", query=(("type", "SPOT"),))
    signed = BinanceEd25519(API_KEY, CONNECTOR_PEM).sign(request, 1685686334211)
    assert signed.query == (("type", "SPOT"), ("timestamp", "1685686334211"), ("signature", CONNECTOR_SIGNATURE))


def test_signature_is_percent_encoded_in_the_query() -> None:
    """The base64 signature's '+', '/' and '=' are URL-encoded on the wire, as Binance requires."""
    request = Request(method="GET", path="/sapi/v1/asset/x", query=(("type", "SPOT"),))
    signed = BinanceEd25519(API_KEY, CONNECTOR_PEM).sign(request, 1685686334211)
    assert signed.query_string == (
        "type=SPOT&timestamp=1685686334211&signature=E4nWIl3yUJgJFL6LoWImsrEwNegMiN9SN1FWKw%2BP3xXkJ2T"
        "%2FMtSq3Cg7fVnOGFWxTBX6vrTJJNoZnVtAgs1CAQ%3D%3D")


def test_recv_window_timestamp_and_key_header() -> None:
    """recvWindow then timestamp then signature, and the key in X-MBX-APIKEY."""
    signed = BinanceEd25519(API_KEY, CONNECTOR_PEM, recv_window=5000).sign(
        Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),)), 77)
    assert [k for k, _ in signed.query] == ["symbol", "recvWindow", "timestamp", "signature"]
    assert dict(signed.query)["timestamp"] == "77"
    assert signed.header("X-MBX-APIKEY") == API_KEY


def test_signature_verifies_over_query_then_body() -> None:
    """The signed bytes are the query string as sent followed directly by the body."""
    signer = BinanceEd25519(API_KEY, CONNECTOR_PEM)
    signed = signer.sign(Request(method="POST", path="/x", query=(("a", "b c"),), body=b"q=1"), 5)
    payload = signed.query_string.rsplit("&signature=", 1)[0].encode() + b"q=1"
    signer.signing_key.verify_key.verify(payload, base64.b64decode(dict(signed.query)["signature"]))


def test_original_request_is_unchanged() -> None:
    """Signing returns a new request; the original has no timestamp, signature or key."""
    original = Request(method="GET", path="/x", query=(("type", "SPOT"),))
    BinanceEd25519(API_KEY, CONNECTOR_PEM).sign(original, 1)
    assert original.query == (("type", "SPOT"),) and original.headers == ()


class TestKeyLoading:
    SEED = bytes.fromhex(RFC8032[0][0])

    def test_pem_gives_the_seed_after_the_pkcs8_prefix(self) -> None:
        """PEM (str or bytes) -> the 32 bytes after the fixed 16-byte PKCS#8 prefix."""
        der = base64.b64decode(CONNECTOR_PEM.splitlines()[1])
        assert load_ed25519_seed(CONNECTOR_PEM) == der[16:]
        assert load_ed25519_seed(CONNECTOR_PEM.encode()) == der[16:]

    def test_raw_seed_bytes_and_hex_are_accepted(self) -> None:
        """32 raw bytes and 64 hex characters both load."""
        assert load_ed25519_seed(self.SEED) == self.SEED
        assert load_ed25519_seed(self.SEED.hex()) == self.SEED
        assert load_ed25519_seed(self.SEED.hex().encode()) == self.SEED

    def test_wrong_algorithm_prefix_is_rejected(self) -> None:
        """A PKCS#8 block whose prefix is not Ed25519's is refused."""
        der = bytearray(base64.b64decode(CONNECTOR_PEM.splitlines()[1]))
        der[11] = 0x6E  # OID 1.3.101.110 is X25519, not Ed25519
        pem = f"-----BEGIN PRIVATE KEY-----\n{base64.b64encode(bytes(der)).decode()}\n-----END PRIVATE KEY-----"
        with pytest.raises(ConfigError, match="not a PKCS#8 Ed25519"):
            load_ed25519_seed(pem)

    def test_encrypted_pem_is_rejected(self) -> None:
        """Encrypted (or other kinds of) PEM blocks are refused with a clear error."""
        with pytest.raises(ConfigError, match="unencrypted"):
            load_ed25519_seed("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----")

    def test_bad_base64_is_rejected(self) -> None:
        """A PEM body that is not base64 is refused."""
        with pytest.raises(ConfigError, match="base64"):
            load_ed25519_seed("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----")

    @pytest.mark.parametrize("key", ["abc", "zz" * 32, b"short", "00" * 31])
    def test_other_shapes_are_rejected(self, key: str | bytes) -> None:
        """Anything that is not PEM, 32 bytes or 64 hex characters is refused."""
        with pytest.raises(ConfigError, match="expected PKCS#8 PEM"):
            load_ed25519_seed(key)

    def test_errors_never_echo_the_key(self) -> None:
        """The error text does not contain the key material."""
        secret = "deadbeef" * 7
        with pytest.raises(ConfigError) as info:
            load_ed25519_seed(secret)
        assert secret not in str(info.value)


def test_repr_never_shows_the_private_key_or_api_key() -> None:
    """repr shows the configuration, not the key material."""
    signer = BinanceEd25519(API_KEY, CONNECTOR_PEM, recv_window=5000)
    text = repr(signer)
    assert API_KEY not in text and "SigningKey" not in text
    assert bytes(signer.signing_key).hex() not in text and "recv_window=5000" in text


def test_from_signing_key_directly() -> None:
    """The family accepts a pynacl SigningKey directly, for keys held elsewhere."""
    signer = QueryEd25519(API_KEY, SigningKey(bytes.fromhex(RFC8032[0][0])))
    assert base64.b64decode(signer.signature(b"")).hex() == RFC8032[0][3]

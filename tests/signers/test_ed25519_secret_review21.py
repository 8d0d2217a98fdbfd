"""An Ed25519 signer built without ``Credentials`` registers its private key with the redactor."""

from __future__ import annotations

import base64

from lotusx.log import scrub
from lotusx.signers import BinanceEd25519


def pem(seed: bytes) -> str:
    """``seed`` as an unencrypted PKCS#8 PEM block."""
    der = bytes.fromhex("302e020100300506032b657004220420") + seed
    return f"-----BEGIN PRIVATE KEY-----\n{base64.b64encode(der).decode()}\n-----END PRIVATE KEY-----\n"


def test_a_directly_built_signers_pem_key_and_its_seed_are_redacted() -> None:
    """BinanceEd25519(api_key, pem) alone: the PEM, and the seed in hex, are masked wherever logged."""
    seed = bytes(range(7, 39))
    BinanceEd25519("an-ed25519-api-key-0001", pem(seed))
    assert "PRIVATE KEY-----\n" + pem(seed).split("\n")[1] not in scrub(f"loaded {pem(seed)}")
    assert seed.hex() not in scrub(f"seed {seed.hex()}")


def test_a_directly_built_signers_hex_key_is_redacted() -> None:
    """BinanceEd25519(api_key, hex) alone: the hex key is masked wherever logged."""
    seed = bytes(range(101, 133))
    BinanceEd25519("an-ed25519-api-key-0002", seed.hex())
    assert seed.hex() not in scrub(f"loaded {seed.hex()}")

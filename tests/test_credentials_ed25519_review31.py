"""An Ed25519 key's raw seed is a documented secret: its type says so, and it signs."""

from __future__ import annotations

import typing

import pytest

import lotusx
from lotusx.kernel.credentials import Credentials


def test_credentials_secret_is_typed_to_take_an_ed25519_seed_as_bytes() -> None:
    """Credentials.secret is annotated str | bytes: a seed passes mypy --strict without a type: ignore."""
    assert typing.get_type_hints(Credentials)["secret"] == str | bytes


def test_credentials_keep_a_bytes_seed_out_of_their_repr() -> None:
    """A bytes secret is taken as given and never shown."""
    seed = bytes(range(32))
    creds = lotusx.Credentials("k" * 64, seed)
    assert creds.secret == seed and repr(seed) not in repr(creds)


def test_an_hmac_signer_asking_for_a_bytes_secret_is_told_to_pass_the_str() -> None:
    """Credentials.hmac_secret(): the str as given; bytes (an Ed25519 key) a ConfigError not showing them."""
    assert lotusx.Credentials("k" * 64, "s" * 64).hmac_secret() == "s" * 64
    seed = bytes(range(65, 97))
    with pytest.raises(lotusx.ConfigError, match="as a str") as caught:
        lotusx.Credentials("k" * 64, seed).hmac_secret()
    assert seed.decode() not in str(caught.value)

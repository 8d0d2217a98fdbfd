"""A credential that is not text (undecodable bytes, as os.environ gives them) is refused where it is given."""

from __future__ import annotations

import pytest

import lotusx

# What os.environ holds for an environment variable with bytes that are not UTF-8 (surrogateescape).
UNDECODABLE = b"sk-live-\xff\xfe-0123456789".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("secret", [UNDECODABLE, "\ud800"])
def test_a_secret_with_undecodable_bytes_is_a_config_error_without_the_secret(secret: str) -> None:
    """ConfigError at construction, not a UnicodeEncodeError (holding the secret) at the first signed call."""
    with pytest.raises(lotusx.ConfigError, match="secret") as raised:
        lotusx.Credentials(api_key="my-api-key", secret=secret)
    assert secret not in str(raised.value) and "sk-live" not in str(raised.value)


def test_a_passphrase_with_undecodable_bytes_is_a_config_error() -> None:
    """The passphrase, sent in a header, is checked the same way."""
    with pytest.raises(lotusx.ConfigError, match="passphrase"):
        lotusx.Credentials(api_key="my-api-key", secret="s3cret-value", passphrase=UNDECODABLE)

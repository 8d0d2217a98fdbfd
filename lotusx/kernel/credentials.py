"""API credentials whose secrets never show in reprs, logs or errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import is_text, not_text

_SECRETS: set[str] = set()
# Longest first: a secret that holds another registered one must be masked whole, or the
# redactor would leave the rest of it around the shorter one's mask.
_LONGEST_FIRST: tuple[str, ...] = ()


def known_secrets() -> frozenset[str]:
    """Every registered secret and its URL-encoded forms; the log redactor scrubs them anywhere."""
    return frozenset(_SECRETS)


def secrets_longest_first() -> tuple[str, ...]:
    """:func:`known_secrets` in the order the redactor masks them: longest first."""
    return _LONGEST_FIRST


def register_secret(value: str | bytes) -> None:
    """Add a value (a listen key, a JWT) that the log redactor must scrub wherever it appears."""
    if isinstance(value, bytes):
        # An Ed25519 key may be bytes (PEM or raw). The redactor matches text, and shows logged
        # bytes decoded this same way; a bytes entry would make it raise on every event.
        value = value.decode("utf-8", "replace")
    if len(value) >= 8:  # shorter values would redact ordinary words and numbers
        # Its percent-encoded forms too (a query string, a form body): a base64 secret or a
        # passphrase holds '+', '/', '=' or spaces, and would pass the redactor once encoded.
        _SECRETS.update((value, quote(value, safe=""), quote_plus(value, safe="")))
        global _LONGEST_FIRST
        _LONGEST_FIRST = tuple(sorted(_SECRETS, key=len, reverse=True))


def _check_given(name: str, value: object) -> None:
    """A ``ConfigError`` for a key or secret that is missing: ``None`` (an unset environment variable) or empty."""
    if not isinstance(value, str | bytes) or not value:
        shown = ("None (an environment variable not set?)" if value is None else
                 "empty" if isinstance(value, str | bytes) else f"a {type(value).__name__}, not a str")
        raise ConfigError(f"Credentials: {name} is {shown}: pass the key and secret the venue issued")


def _check_text(name: str, value: object) -> None:
    """A ``ConfigError`` for a str that cannot be sent; signing would raise a UnicodeEncodeError holding it."""
    if isinstance(value, str) and not is_text(value):
        raise not_text(f"Credentials: {name}")


@dataclass(frozen=True)
class Credentials:
    """An API key and its secret (HMAC secret, or Ed25519 private key as PEM or raw bytes).

    ``repr`` shows only the first four characters of the key (none of a key under 16
    characters). The key and the passphrase travel in headers or queries: whitespace around
    them, or a control character in them (a key read from a file with its newline), is a
    ``ConfigError`` here, not an error deep in the HTTP client at the first call, nor a
    signature the venue refuses.
    """

    api_key: str
    secret: str | bytes = field(repr=False)  # bytes: an Ed25519 key's PEM or raw 32-byte seed
    passphrase: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for field_name, given in (("api_key", self.api_key), ("secret", self.secret)):
            _check_given(field_name, given)
        for name, value in (("api_key", self.api_key), ("secret", self.secret), ("passphrase", self.passphrase)):
            _check_text(name, value)
        for value in (self.api_key, self.secret, self.passphrase):
            if value:
                register_secret(value)
        for name, value in (("api_key", self.api_key), ("passphrase", self.passphrase)):
            if value and (value != value.strip() or not value.isprintable()):
                # The value itself is never shown: it is a credential.
                raise ConfigError(f"Credentials: {name} has whitespace around it or a control character in it "
                                  "(a newline read from a file?)")

    def hmac_secret(self) -> str:
        """The secret as an HMAC key: the str the venue issued; bytes (an Ed25519 key) are a ``ConfigError``."""
        if isinstance(self.secret, bytes):
            raise ConfigError("Credentials: the secret is bytes (an Ed25519 key?), but this venue signs with HMAC: "
                              "pass the secret the venue issued, as a str")
        return self.secret

    def __repr__(self) -> str:
        # Four characters of a real key (tens of characters) say which key it is; of a short one, too much.
        return f"Credentials(api_key='{self.api_key[:4] if len(self.api_key) >= 16 else ''}…')"

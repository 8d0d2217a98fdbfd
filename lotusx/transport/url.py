"""The one check of a URL a transport is given: that a socket could be opened to its host and port."""

from __future__ import annotations

from yarl import URL

from lotusx.kernel.errors import ConfigError
from lotusx.log import scrub, without_password


def parsed_url(url: str, name: str) -> URL:
    """``url`` parsed; a ``ConfigError`` naming ``name`` if its host or port cannot be.

    Checked where the URL is given: else the HTTP client raises a ``ValueError`` (a bracket
    never closed, a port past 65535) at the first call, or the resolver a ``UnicodeError`` (an
    empty or over-long DNS label), and a stream retries that for ever as a failed connect.
    """
    try:
        parsed = URL(url)
        (parsed.raw_host or "").encode("idna")  # what the resolver does with the host
    except ValueError as exc:  # UnicodeError is one
        raise ConfigError(f"{name} is not a valid URL ({scrub(str(exc))}): got {scrub(without_password(url))!r}") \
            from None
    return parsed

"""The one check of a URL a transport is given: that a socket could be opened to its host and port."""

from __future__ import annotations

from collections.abc import Callable

from yarl import URL

from lotusx.kernel.errors import ConfigError
from lotusx.log import REDACTED, scrub, without_password


def parsed_url(url: str, name: str, shown: Callable[[str], str] | None = None) -> URL:
    """``url`` parsed; a ``ConfigError`` naming ``name`` if its host or port cannot be.

    Checked where the URL is given: else the HTTP client raises a ``ValueError`` (a bracket
    never closed, a port past 65535) at the first call, or the resolver a ``UnicodeError`` (an
    empty or over-long DNS label), and a stream retries that for ever as a failed connect.
    ``shown`` is how the error shows ``url`` (default: its password masked).
    """
    try:
        parsed = URL(url)
        (parsed.raw_host or "").encode("idna")  # what the resolver does with the host
    except ValueError as exc:  # UnicodeError is one
        text = shown(url) if shown is not None else scrub(without_password(url))
        raise ConfigError(f"{name} is not a valid URL ({scrub(str(exc))}): got {text!r}") from None
    return parsed


def proxy_url(proxy: str | None) -> str | None:
    """``proxy`` checked: ``None``, or an ``http(s)://[user:password@]host:port`` URL; else a ``ConfigError``.

    Checked where it is given, as :func:`parsed_url` is; its password never shows in the error.
    """
    if proxy is None:
        return None
    if not (isinstance(proxy, str) and proxy.lower().startswith(("http://", "https://"))):
        shown = _proxy_shown(proxy) if isinstance(proxy, str) else type(proxy).__name__
        raise ConfigError(f"proxy must be an http:// or https:// URL (http://[user:password@]host:port), got {shown!r}")
    parsed_url(proxy, "proxy (percent-encode a '/', '?' or '#' in its password)", shown=_proxy_shown)
    return proxy


def _proxy_shown(proxy: str) -> str:
    """``proxy`` without its user info: a password holding '/', '?' or '#' unencoded defeats
    :func:`without_password`, which stops there as a URL's authority does."""
    scheme, separator, rest = proxy.partition("://")
    if "@" in rest:
        rest = REDACTED + "@" + rest.rpartition("@")[2]
    shown: str = scrub(scheme + separator + rest)
    return shown

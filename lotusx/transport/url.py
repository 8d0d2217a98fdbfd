"""The one check of a URL a transport is given: that a socket could be opened to its host and port."""

from __future__ import annotations

from yarl import URL

from lotusx.kernel.errors import AuthenticationError, ConfigError, ConnectError, LotusXError
from lotusx.log import REDACTED, scrub, without_password


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


def proxy_url(proxy: str | None) -> str | None:
    """``proxy`` checked: ``None``, or an ``http(s)://[user:password@]host:port`` URL; else a ``ConfigError``.

    Checked where it is given, as :func:`parsed_url` is; its password never shows in the error.
    """
    if proxy is None:
        return None
    if not (isinstance(proxy, str) and proxy.lower().startswith(("http://", "https://"))):
        shown = _proxy_shown(proxy) if isinstance(proxy, str) else type(proxy).__name__
        raise ConfigError(f"proxy must be an http:// or https:// URL (http://[user:password@]host:port), got {shown!r}")
    try:
        parsed = URL(proxy)
        (parsed.raw_host or "").encode("idna")  # as parsed_url checks, with the password hidden as below
    except ValueError as exc:
        raise ConfigError(f"proxy is not a valid URL ({scrub(str(exc))}): got {_proxy_shown(proxy)!r} "
                          "(percent-encode a '/', '?' or '#' in its password)") from None
    return proxy


def _proxy_shown(proxy: str) -> str:
    """``proxy`` without its user info: a password holding '/', '?' or '#' unencoded defeats
    :func:`without_password`, which stops there as a URL's authority does."""
    scheme, separator, rest = proxy.partition("://")
    if "@" in rest:
        rest = REDACTED + "@" + rest.rpartition("@")[2]
    shown: str = scrub(scheme + separator + rest)
    return shown


def proxy_refused(where: str, status: int) -> LotusXError:
    """What a proxy's refusal means; shared by both transports.

    A 407 is the proxy's credentials, which no reconnect or retry changes: fatal, as a venue's
    401 is. Any other refusal (a 502: the proxy cannot reach the venue) is a failed connect:
    nothing reached the venue.
    """
    if status == 407:
        return AuthenticationError(f"{where}: the proxy refused its credentials (HTTP 407): check the proxy URL's "
                                   "user and password", status=407)
    return ConnectError(f"{where}: the proxy refused the connection (HTTP {status})", status=status)

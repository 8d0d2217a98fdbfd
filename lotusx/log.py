"""Structured logging with secret redaction.

Every LotusX log event goes through :func:`redact`, which removes API keys, secrets,
signatures, listen keys and JWTs: by field name (``signature``, ``X-MBX-APIKEY``, ...) and
by value (any secret a :class:`~lotusx.Credentials` holds, a signer was built with, or
:func:`~lotusx.register_secret` was given, wherever it appears inside a string).
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import structlog

from lotusx.kernel.credentials import secrets_longest_first

REDACTED = "[REDACTED]"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_SECRET_KEYS = re.compile(
    r"(api[-_]?key|secret|signature|sign|passphrase|password|token|jwt|listen[-_]?key|authorization|"
    r"x-mbx-apikey|x-bapi-api-key|x-bapi-sign|private[-_]?key)",
    re.IGNORECASE,
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
# ``name=value`` in a query or form, and ``"name": "value"`` in a JSON text (a WebSocket API request's params).
_QUERY_SECRET = re.compile(r"((?:signature|apiKey|listenKey|api_key|sign)(?:=|\"\s*:\s*\"))[^&\s\"']+",
                           re.IGNORECASE)


def scrub(value: Any) -> Any:
    """``value`` with every known secret, JWT and signature parameter masked (recursively)."""
    if isinstance(value, str):
        for secret in secrets_longest_first():
            if secret in value:
                value = value.replace(secret, REDACTED)
        value = _JWT.sub(REDACTED, value)
        return _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, value)
    if isinstance(value, bytes):
        return scrub(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        # Keys are scrubbed too: a mapping may be keyed by a listen key or an API key.
        return {scrub(k): REDACTED if isinstance(k, str) and _SECRET_KEYS.search(k) else scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and _SECRET_KEYS.search(value[0]):
            return (value[0], REDACTED)
        items = [scrub(v) for v in value]
        # A namedtuple takes its fields as arguments, not one iterable.
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    if value is None or isinstance(value, int | float):  # bool is an int
        return value
    if isinstance(value, Mapping):
        # Another mapping (aiohttp's CIMultiDict of headers, a mappingproxy): masked by field name
        # like a dict; its repr would show a signature header an unregistered value cannot mask.
        return scrub(dict(value.items()))
    # Anything else (a set, a bytearray, a Struct holding a listen key) is rendered from its
    # repr by the app's renderer, after redaction: kept as is only if that repr shows no secret.
    text = repr(value)
    cleaned = scrub(text)
    return value if cleaned == text else cleaned


_USERINFO_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#@]*@")


def without_password(url: str) -> str:
    """``url`` with the password of its user info (``https://user:pw@host``) masked, for reprs and errors."""
    return _USERINFO_PASSWORD.sub(rf"\g<1>{REDACTED}@", url)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every field of the event."""
    for key, value in list(event_dict.items()):
        if _SECRET_KEYS.search(key) and key != "event":
            event_dict[key] = REDACTED
        else:
            event_dict[key] = scrub(value)
    return event_dict


class RedactingLogger:
    """A structlog-style logger whose events are redacted before the app's pipeline sees them.

    It forwards each cleaned event to ``structlog.get_logger(name)``, so whatever processors
    and renderer the application configured (now or later) apply, and none of them ever
    sees a secret.
    """

    def __init__(self, name: str = "lotusx", context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}
        self._target = structlog.get_logger(name)
        self._probe: _Probe | None = None  # what ``enabled`` asks, for the configuration it was built for

    def bind(self, **values: Any) -> RedactingLogger:
        """A logger with ``values`` added to every event."""
        return RedactingLogger(self._name, {**self._context, **values})

    def enabled(self, method: str) -> bool:
        """Whether events of level ``method`` ("info", ...) pass the configured level filter.

        Callers building costly fields for an event check this first; ``_log`` checks it too.
        """
        if not structlog.is_configured():
            # An app that set up no logging gets warnings and errors, not an info line on stdout
            # for every REST call (structlog's default prints every level).
            return _LEVELS[method] >= logging.WARNING
        config = structlog.get_config()  # public, though it copies: structlog's own object is private
        probe = self._probe
        if probe is None or probe[0] is not config["wrapper_class"] or probe[1] is not config["logger_factory"]:
            probe = self._probe = _probe(self._name, config)
        return probe[2] is None or bool(probe[2](_LEVELS[method]))

    def _log(self, method: str, event: str, values: dict[str, Any]) -> None:
        # Filtered events cost nothing more: redaction walks every field, so check the level first.
        if not self.enabled(method):
            return
        fields = {**self._context, **values, "event": event}
        exc_info = fields.pop("exc_info", None)
        if exc_info:
            # Rendered here, then redacted: left to the app's format_exc_info, a scrubbed exc_info
            # (a string) would make it render sys.exc_info() as it is, secrets and all.
            fields["exception"] = _traceback_text(exc_info)
        clean = redact(None, method, fields)
        getattr(self._target, method)(clean.pop("event"), **clean)

    def debug(self, event: str, **values: Any) -> None:
        """Log at debug level."""
        self._log("debug", event, values)

    def info(self, event: str, **values: Any) -> None:
        """Log at info level."""
        self._log("info", event, values)

    def warning(self, event: str, **values: Any) -> None:
        """Log at warning level."""
        self._log("warning", event, values)

    def error(self, event: str, **values: Any) -> None:
        """Log at error level."""
        self._log("error", event, values)

    def __repr__(self) -> str:
        return f"RedactingLogger({self._name!r})"


# (wrapper class, logger factory, the is_enabled_for of a logger they built, or None when it has none)
_Probe = tuple[Any, Any, Callable[[int], bool] | None]


def _probe(name: str, config: Mapping[str, Any]) -> _Probe:
    """How to ask a logger ``config`` builds for ``name`` whether a level is enabled.

    Asked of a built logger, not of the wrapper class: stdlib's BoundLogger (structlog 26.1+)
    asks its ``logging.Logger``, so calling its ``is_enabled_for`` without an instance raised.
    Built once per configuration: asking the lazy proxy would build a logger each time.
    """
    wrapper, factory = config["wrapper_class"], config["logger_factory"]
    if getattr(wrapper, "is_enabled_for", None) is None:
        return wrapper, factory, None
    is_enabled_for = structlog.get_logger(name).bind().is_enabled_for
    try:
        is_enabled_for(logging.DEBUG)
    except AttributeError:  # stdlib's BoundLogger over a logger without isEnabledFor (structlog's PrintLogger)
        return wrapper, factory, None  # structlog itself logs every level then: so do we
    return wrapper, factory, is_enabled_for


def _traceback_text(exc_info: Any) -> str:
    """``exc_info`` (an exception, an exc_info tuple, or True: the one being handled) as traceback text."""
    if isinstance(exc_info, BaseException):
        return "".join(traceback.format_exception(exc_info))
    kind, value, tb = exc_info if isinstance(exc_info, tuple) else sys.exc_info()
    return "".join(traceback.format_exception(kind, value, tb)) if value is not None else ""


def get_logger(name: str = "lotusx", **initial: Any) -> RedactingLogger:
    """The logger every LotusX module uses: redacted whatever the app configured."""
    return RedactingLogger(name, initial)


__all__ = ["REDACTED", "RedactingLogger", "get_logger", "redact", "scrub"]

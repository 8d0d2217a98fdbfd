"""``RestClient``: the typed façade over a transport and its layer stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import orjson
from typing_extensions import TypeVar

from lotusx.kernel.classify import Classifier, http_errors
from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import ANONYMOUS, Endpoint, Request, Response, encode_query
from lotusx.kernel.service import Layer, Service, stack

# Any when ``type=`` is left out: ``x = await client.get(path)`` needs no annotation under mypy --strict.
T = TypeVar("T", default=Any)
Params = Sequence[tuple[str, Any]] | Mapping[str, Any]

_JSON = (("Content-Type", "application/json"),)
_FORM = (("Content-Type", "application/x-www-form-urlencoded"),)


MOST_DIGITS = 20
"""Whole digits, and fraction digits (trailing zeros aside), a decimal sent may have: Binance refuses
more (-1100, legal range '^([0-9]{1,20})(\\.[0-9]{1,20})?$'), and no venue lists an amount that needs them."""


def param_value(value: Any) -> str:
    """Render a parameter for the wire: exact decimals without exponent, booleans lower-case.

    A ``Decimal`` that is not finite, or has more than :data:`MOST_DIGITS` whole or fraction
    digits, is a ``ConfigError``: never "NaN", and never a billion digits written out.
    """
    if type(value) is Decimal:  # every amount: first, before the three isinstance checks below
        return _plain(value)
    if isinstance(value, str):
        # A str subclass (a ``class Side(str, Enum)`` member) as its text: formatted, it would be "Side.BUY".
        return str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, float):
        raise ConfigError(f"a float ({value!r}) is not sent as a parameter: money is exact, "
                          f"pass Decimal({str(value)!r})")
    return str(value)


def _plain(value: Decimal) -> str:
    # str() is a third of format(value, "f") and writes the same digits unless it would
    # use an exponent (a positive one, or a value under 1E-6): then format() writes it out,
    # once the exponent is known to be in bounds (format would write out all of 1E+999999999).
    text = str(value)
    if "E" in text or not value.is_finite():
        if not value.is_finite():
            raise ConfigError(f"{value} is not sent: a Decimal parameter must be finite")
        if not value:
            return "0"
        if not -MOST_DIGITS <= value.adjusted() < MOST_DIGITS:
            raise _too_long(value)
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    # Every order's amounts pass here: a text of 20 characters cannot hold more
    # than 20 whole or 20 fraction digits, so only a longer one is taken apart.
    if len(text) > MOST_DIGITS:
        whole, _, fraction = text.partition(".")
        if len(whole) - whole.startswith("-") > MOST_DIGITS or len(fraction) > MOST_DIGITS:
            raise _too_long(value)
    return "0" if text == "-0" else text  # a negative zero is zero: no venue reads "-0"


def _too_long(value: Decimal) -> ConfigError:
    text = str(value)
    shown = text if len(text) <= 60 else f"{text[:40]}..."  # the value may be a megabyte of digits
    return ConfigError(f"{shown} is not sent: more than {MOST_DIGITS} whole or {MOST_DIGITS} fraction digits "
                       "(quantize it to the symbol's tick or step size)")


def pairs(params: Params | None) -> tuple[tuple[str, str], ...]:
    """Ordered ``(name, value)`` pairs; ``None`` values are left out."""
    if not params:
        return ()
    items = params.items() if isinstance(params, Mapping) else params
    # Most values (symbols, sides, ids) are already strings: rendered without a call.
    return tuple([(name, value if type(value) is str else param_value(value))
                  for name, value in items if value is not None])


def _json_default(value: Any) -> Any:
    # orjson asks here for Decimal (msgspec would write 1E-8): render it exactly, no exponent.
    if isinstance(value, Decimal):
        return param_value(value)
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value, builtin_types=(Decimal,))
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def json_body(value: Any) -> bytes:
    """``value`` as compact JSON; Decimals become exact strings without exponent.

    A value JSON cannot carry (a str with undecodable bytes, an int past 64 bits) is a
    ``ConfigError``: nothing is sent. A value of a type no body takes is a ``TypeError``, a
    programming error.
    """
    try:
        return orjson.dumps(value, default=_json_default)
    except orjson.JSONEncodeError as exc:
        if isinstance(exc.__cause__, TypeError):  # raised by _json_default
            raise
        if isinstance(exc.__cause__, ConfigError):  # a Decimal param_value refused
            raise exc.__cause__ from None
        # orjson's message names the kind, never the value; its cause may hold the value.
        raise ConfigError(f"cannot send this body as JSON: {exc}") from None


async def _closed(request: Request) -> Response:
    """The service of a closed client: swapped in by ``aclose``, so an open one pays no check per call."""
    raise ConfigError(f"{request.method} {request.path}: this client is closed (the `async with` block of the "
                      "RestClient, or of the lotusx.connect(...) that made it, has ended): open a new one")


class RestClient:
    """Calls a service stack and decodes responses into typed models.

    ``RestClient(AiohttpRest(url), stack(Retry(...), RateLimit(...), Sign(...), Trace(...)))``.
    Any error response that reached here (no ``MapErrors`` in the stack) is still raised as a
    typed error by ``classify``, never decoded as if it were data.
    """

    def __init__(self, transport: Service, layers: Layer | None = None, *,
                 classify: Classifier = http_errors) -> None:
        self.transport = transport
        self.layers = layers if layers is not None else stack()
        self.classify = classify
        self.service: Service = self.layers(transport)

    async def send(self, request: Request) -> Response:
        """Send ``request`` through the stack; raise the typed error of a failed response."""
        response = await self.service(request)
        error = self.classify(request, response)
        if error is not None:
            raise error
        return response

    async def call(self, request: Request, type: type[T] = Any) -> T:  # type: ignore[assignment]
        """Send ``request`` and decode the body into ``type``."""
        return (await self.send(request)).decode(type)

    async def get(self, path: str, params: Params | None = None, *, type: type[T] = Any,  # type: ignore[assignment]
                  endpoint: Endpoint = ANONYMOUS, headers: tuple[tuple[str, str], ...] = ()) -> T:
        """GET ``path`` with query ``params``."""
        return await self.call(Request(method="GET", path=path, query=pairs(params), headers=headers,
                                       endpoint=endpoint), type)

    async def delete(self, path: str, params: Params | None = None, *, type: type[T] = Any,  # type: ignore[assignment]
                     endpoint: Endpoint = ANONYMOUS, headers: tuple[tuple[str, str], ...] = ()) -> T:
        """DELETE ``path`` with query ``params``."""
        return await self.call(Request(method="DELETE", path=path, query=pairs(params), headers=headers,
                                       endpoint=endpoint), type)

    async def post(self, path: str, body: Any = None, *, form: Params | None = None,
                   params: Params | None = None, type: type[T] = Any,  # type: ignore[assignment]
                   endpoint: Endpoint = ANONYMOUS, headers: tuple[tuple[str, str], ...] = ()) -> T:
        """POST a JSON ``body`` (or a urlencoded ``form``) to ``path``."""
        return await self.call(self._with_body("POST", path, body, form, params, endpoint, headers), type)

    async def put(self, path: str, body: Any = None, *, form: Params | None = None,
                  params: Params | None = None, type: type[T] = Any,  # type: ignore[assignment]
                  endpoint: Endpoint = ANONYMOUS, headers: tuple[tuple[str, str], ...] = ()) -> T:
        """PUT a JSON ``body`` (or a urlencoded ``form``) to ``path``."""
        return await self.call(self._with_body("PUT", path, body, form, params, endpoint, headers), type)

    @staticmethod
    def _with_body(method: str, path: str, body: Any, form: Params | None, params: Params | None,
                   endpoint: Endpoint, headers: tuple[tuple[str, str], ...]) -> Request:
        if form is not None:
            data: bytes | None = encode_query(pairs(form)).encode()
            headers = _FORM + headers
        elif body is not None:
            data = json_body(body)
            headers = _JSON + headers
        else:
            data = None
        return Request(method=method, path=path, query=pairs(params), body=data, headers=headers,
                       endpoint=endpoint)

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: every later call raises ``ConfigError``."""
        return self.service is _closed

    async def aclose(self) -> None:
        """Close the transport, if it owns resources; later calls raise ``ConfigError``, never reopen it."""
        self.service = _closed
        aclose = getattr(self.transport, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"RestClient({self.transport!r}, {self.layers!r})"

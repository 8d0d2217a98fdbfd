"""Service, Layer, Middleware and their composition.

A ``Service`` is one REST call; a ``Layer`` wraps a service (tower's ``Layer``); a
``Middleware`` is aiohttp's ``async def mw(request, call_next)`` shape, adapted with
:func:`around`. In ``stack(a, b, c)`` the first listed is outermost: a request flows
``a -> b -> c -> inner`` and the response flows back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import FunctionType, MethodType
from typing import TypeAlias, cast

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request, Response

Service: TypeAlias = Callable[[Request], Awaitable[Response]]
Layer: TypeAlias = Callable[[Service], Service]
Middleware: TypeAlias = Callable[[Request, Service], Awaitable[Response]]


@dataclass(frozen=True, repr=False)
class Stack:
    """An ordered composition of layers; itself a layer, so stacks nest."""

    layers: tuple[Layer, ...] = ()

    def __call__(self, inner: Service) -> Service:
        for layer in reversed(self.layers):
            inner = _wrap(layer, inner)
        return inner

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        # A layer written as a plain function shows as its name, not as "<function f at 0x...>".
        shown = (callable_name(layer) if isinstance(layer, FunctionType | MethodType) else repr(layer)
                 for layer in self.layers)
        return f"stack({', '.join(shown)})"


def callable_name(value: object) -> str:
    """How a stack's repr names a function: its qualified name, less where it was defined (``<locals>``)."""
    name = getattr(value, "__qualname__", None)
    return name.rpartition(".<locals>.")[2] if isinstance(name, str) else repr(value)


_HOW = ("a layer takes the inner service and returns a new one; a middleware "
        "`async def mw(request, call_next)` goes in as around(mw)")


def _wrap(layer: Layer, inner: Service) -> Service:
    """``layer(inner)``, or a ``ConfigError`` saying what a layer is when ``layer`` is not one."""
    name = callable_name(layer)
    try:
        service: object = layer(inner)
    except TypeError as exc:  # a middleware called as a layer: "missing 1 required positional argument"
        raise ConfigError(f"{name} is not a layer ({exc}): {_HOW}") from exc
    if not callable(service):
        close = getattr(service, "close", None)
        if close is not None:  # a coroutine a middleware with defaults returned: never awaited, not warned of
            close()
        raise ConfigError(f"{name} is not a layer: it returned {type(service).__name__}, not a service: {_HOW}")
    return cast(Service, service)


def stack(*layers: Layer | None) -> Stack:
    """Compose ``layers``, first listed outermost; ``None`` entries are skipped.

    Nested stacks are flattened, so ``repr`` shows the flat list a request passes through.
    ``stack()`` is the identity layer.
    """
    flat: list[Layer] = []
    for layer in layers:
        if layer is None:
            continue
        if isinstance(layer, Stack):
            flat.extend(layer.layers)
        else:
            flat.append(layer)
    return Stack(tuple(flat))


@dataclass(frozen=True)
class Around:
    """A layer built from a middleware; see :func:`around`."""

    middleware: Middleware

    def __call__(self, inner: Service) -> Service:
        middleware = self.middleware

        async def service(request: Request) -> Response:
            response = await middleware(request, inner)
            if response is None:
                # A TypeError, outside the LotusXError tree: the request may have reached the venue
                # (Retry makes an order's such error an AmbiguousOrderState), so no ConfigError.
                raise TypeError(f"middleware {callable_name(middleware)} returned None, not a Response: end it "
                                "with `return await call_next(request)`")
            return response

        return service

    def __repr__(self) -> str:
        return f"around({callable_name(self.middleware)})"


def around(middleware: Middleware) -> Layer:
    """Adapt ``async def mw(request, call_next) -> Response`` into a layer.

    Code before ``await call_next(request)`` runs on the way in, code after it on the way
    out. A middleware may call ``call_next`` with a new request (add a header), return its
    own response without calling it (short-circuit), or raise (the error propagates to the
    outer layers exactly as raised; ``Retry`` turns an order placement's error from outside the
    ``LotusXError`` tree into ``AmbiguousOrderState``, keeping its client order id). It must not
    call ``call_next`` more than once unless it means to retry.
    """
    return Around(middleware)

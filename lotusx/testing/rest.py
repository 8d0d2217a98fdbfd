"""Fake REST services: a routing handler and a fixed script."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable

from lotusx.kernel.errors import ConfigError
from lotusx.kernel.message import Request, Response

Handler = Callable[[Request], "Response | Awaitable[Response]"]


class FakeTransport:
    """A transport that answers with ``handler(request)``; sync or async handlers both work.

    ``requests`` records what reached it, after every layer, so a test can assert on the
    exact wire request (signature, headers, query order). A path without its leading ``/`` is
    refused with the ``ConfigError`` ``AiohttpRest`` raises: a test must not pass what production cannot.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def __call__(self, request: Request) -> Response:
        if request.path[:1] != "/":  # refused as AiohttpRest refuses it: a test must not pass what production cannot
            raise ConfigError(f"request path must start with '/', got {request.path.split('?', 1)[0][:60]!r}")
        self.requests.append(request)
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        return _checked(result, request, self)

    async def aclose(self) -> None:
        """Mark closed (so tests can check a client closes its transport)."""
        self.closed = True

    def __repr__(self) -> str:
        return f"FakeTransport({getattr(self.handler, '__qualname__', self.handler)})"


def _checked(result: object, request: Request, double: object) -> Response:
    """``result``, or a failed test saying the handler answered no ``Response`` (a forgotten ``return``)."""
    if not isinstance(result, Response):
        raise AssertionError(f"{double!r} answered {request.method} {request.path} with {type(result).__name__}, "
                             "not a lotusx.Response (a handler without `return`?)")
    return result


Step = Response | BaseException | Callable[[Request], "Response | Awaitable[Response]"]


class ScriptedService:
    """Answers the n-th request with the n-th step of ``script``.

    A step is a :class:`Response` (returned), an exception (raised) or a callable taking the
    request (its result returned). ``requests`` records every request seen. Running past the
    end of the script fails the test with an ``AssertionError``.
    """

    def __init__(self, script: Iterable[Step]) -> None:
        self.script = list(script)
        self.requests: list[Request] = []

    async def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        index = len(self.requests) - 1
        if index >= len(self.script):
            raise AssertionError(f"ScriptedService: unexpected request #{index + 1}: {request!r}")
        step = self.script[index]
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, Response):
            return step
        result = step(request)
        if inspect.isawaitable(result):
            result = await result
        return _checked(result, request, self)

    @property
    def remaining(self) -> int:
        """Steps not consumed yet."""
        return len(self.script) - len(self.requests)

    def __repr__(self) -> str:
        return f"ScriptedService({len(self.requests)}/{len(self.script)} used)"

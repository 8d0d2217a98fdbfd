"""Composition: stack(), around(), Stack repr."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lotusx import Request, Response, Service, around, stack
from lotusx.testing import ScriptedService

REQ = Request(method="GET", path="/ping")


@dataclass(frozen=True)
class Tag:
    """A layer that appends its name to the X-Trail header on the way in."""

    name: str
    level: int = 0

    def __call__(self, inner: Service) -> Service:
        async def service(request: Request) -> Response:
            trail = request.header("X-Trail") or ""
            headers = tuple(h for h in request.headers if h[0] != "X-Trail")
            return await inner(request.replace(headers=(*headers, ("X-Trail", trail + self.name))))

        return service


def ok(request: Request) -> Response:
    return Response(status=200, body=(request.header("X-Trail") or "").encode())


async def test_first_listed_layer_is_outermost() -> None:
    """A request passes the layers in the order they are listed."""
    service = stack(Tag("a"), Tag("b"), Tag("c"))(ScriptedService([ok]))
    assert (await service(REQ)).body == b"abc"


async def test_none_entries_are_skipped() -> None:
    """None in stack() means "no layer here" (an optional layer switched off)."""
    built = stack(Tag("a"), None, Tag("b"), None)
    assert len(built) == 2
    assert (await built(ScriptedService([ok]))(REQ)).body == b"ab"


async def test_stacks_nest_and_flatten() -> None:
    """A stack inside a stack behaves as its layers spliced in place."""
    nested = stack(Tag("a"), stack(Tag("b"), stack(Tag("c"))), Tag("d"))
    assert [layer.name for layer in nested] == ["a", "b", "c", "d"]  # type: ignore[attr-defined]
    assert (await nested(ScriptedService([ok]))(REQ)).body == b"abcd"


async def test_empty_stack_is_identity() -> None:
    """stack() with no layers returns the inner service itself."""
    inner = ScriptedService([ok])
    assert stack()(inner) is inner


def test_repr_is_flat_with_config() -> None:
    """repr shows one flat list with each layer's configuration."""
    nested = stack(Tag("a", level=1), stack(Tag("b"), None))
    assert repr(nested) == "stack(Tag(name='a', level=1), Tag(name='b', level=0))"


async def test_around_middleware_adds_a_header() -> None:
    """A middleware can pass a new request on to call_next."""

    async def add_header(request: Request, call_next: Service) -> Response:
        return await call_next(request.with_headers(("X-Trail", "mw")))

    inner = ScriptedService([ok])
    response = await stack(around(add_header))(inner)(REQ)
    assert response.body == b"mw"
    assert inner.requests[0].header("X-Trail") == "mw"


async def test_around_middleware_can_short_circuit() -> None:
    """A middleware that returns its own response never calls the inner service."""

    async def cached(request: Request, call_next: Service) -> Response:
        return Response(status=203, body=b"cached")

    inner = ScriptedService([])
    response = await stack(around(cached))(inner)(REQ)
    assert (response.status, response.body, inner.requests) == (203, b"cached", [])


async def test_around_middleware_error_propagates_unchanged() -> None:
    """An exception raised by a middleware reaches the caller as raised."""
    boom = RuntimeError("boom")

    async def failing(request: Request, call_next: Service) -> Response:
        raise boom

    inner = ScriptedService([])
    with pytest.raises(RuntimeError) as info:
        await stack(Tag("a"), around(failing))(inner)(REQ)
    assert info.value is boom
    assert inner.requests == []


async def test_around_sees_the_response_on_the_way_out() -> None:
    """Code after call_next runs on the way out with the inner response."""

    async def upgrade(request: Request, call_next: Service) -> Response:
        response = await call_next(request)
        return Response(status=response.status, body=response.body.upper())

    assert (await around(upgrade)(ScriptedService([ok]))(REQ.with_headers(("X-Trail", "x")))).body == b"X"


def test_around_repr_names_the_middleware() -> None:
    """repr(around(mw)) names the middleware function."""

    async def my_mw(request: Request, call_next: Service) -> Response:
        return await call_next(request)

    assert repr(stack(around(my_mw))) == "stack(around(my_mw))"  # not "test_...<locals>.my_mw"


def test_a_function_layer_shows_as_its_name() -> None:
    """A layer written as a plain function shows as its name in the stack, not as <function ... at 0x...>."""

    def passthrough(inner: Service) -> Service:
        return inner

    assert repr(stack(passthrough, Tag("a"))) == "stack(passthrough, Tag(name='a', level=0))"


def test_a_middleware_given_as_a_layer_is_a_config_error_saying_around() -> None:
    """stack(mw) without around(): a ConfigError when the stack is built, naming around(mw)."""
    from lotusx import ConfigError

    async def my_mw(request: Request, call_next: Service) -> Response:
        return await call_next(request)

    with pytest.raises(ConfigError, match=r"my_mw is not a layer .* goes in as around\(mw\)"):
        stack(my_mw)(ScriptedService([]))  # type: ignore[arg-type]

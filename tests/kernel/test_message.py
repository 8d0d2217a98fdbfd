"""Request, Endpoint and Response values."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lotusx import DecodeError, Endpoint, Idempotency, Request, Response, encode_query
from lotusx.kernel.message import extend_query, idempotency_of
from lotusx.testing import ScriptedService


class Price(msgspec.Struct):
    price: Decimal


def test_request_fields_cannot_be_assigned() -> None:
    """Request is frozen: assigning a field raises."""
    request = Request(method="GET", path="/a")
    with pytest.raises(AttributeError):
        request.path = "/b"  # type: ignore[misc]


def test_request_ext_is_read_only() -> None:
    """ext cannot be mutated in place, even when built from a dict."""
    source = {"k": 1}
    request = Request(method="GET", path="/a", ext=source)
    source["k"] = 2
    assert request.ext["k"] == 1
    with pytest.raises(TypeError):
        request.ext["k"] = 3  # type: ignore[index]


def test_endpoint_costs_are_read_only() -> None:
    """An endpoint's pool costs cannot be changed after declaration."""
    endpoint = Endpoint("order", costs={"ORDERS": 1})
    with pytest.raises(TypeError):
        endpoint.costs["ORDERS"] = 0  # type: ignore[index]


def test_with_helpers_return_new_requests() -> None:
    """with_query/with_headers/with_ext leave the original untouched."""
    original = Request(method="GET", path="/a", query=(("x", "1"),))
    changed = original.with_query(("y", "2")).with_headers(("H", "v")).with_ext(attempt=2)
    assert original.query == (("x", "1"),) and original.headers == () and dict(original.ext) == {}
    assert changed.query == (("x", "1"), ("y", "2"))
    assert changed.header("h") == "v" and changed.ext["attempt"] == 2


async def test_a_layer_cannot_change_what_another_attempt_sees() -> None:
    """Two attempts through a header-adding layer each start from the unchanged original."""

    def stamp(inner):  # type: ignore[no-untyped-def]
        async def service(request: Request) -> Response:
            return await inner(request.with_headers(("X-Stamp", str(len(request.headers)))))

        return service

    inner = ScriptedService([Response(status=200), Response(status=200)])
    service = stamp(inner)
    original = Request(method="GET", path="/a")
    await service(original)
    await service(original)
    assert [r.headers for r in inner.requests] == [(("X-Stamp", "0"),), (("X-Stamp", "0"),)]
    assert original.headers == ()


def test_query_encoding_keeps_order_and_percent_encodes() -> None:
    """encode_query keeps pair order and percent-encodes reserved and non-ASCII characters."""
    pairs = (("symbol", "BTC/USDT"), ("note", "a b&c=d"), ("name", "ü~-_."))
    assert encode_query(pairs) == "symbol=BTC%2FUSDT&note=a%20b%26c%3Dd&name=%C3%BC~-_."


def test_an_undeclared_read_is_safe_and_unsigned() -> None:
    """An endpoint is unsigned unless declared otherwise, and a GET on it is SAFE."""
    endpoint = Endpoint("depth", path="/api/v3/depth", costs={"REQUEST_WEIGHT": 5})
    request = Request(method="GET", path=endpoint.path, endpoint=endpoint)
    assert (endpoint.signed, idempotency_of(request)) == (False, Idempotency.SAFE)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_an_undeclared_write_is_unsafe(method: str) -> None:
    """A write on an endpoint that declares no idempotency (or on none: RestClient.post) is UNSAFE."""
    declared = Request(method=method, path="/api/v3/amend", endpoint=Endpoint("amend", method, "/api/v3/amend"))
    anonymous = Request(method=method, path="/api/v3/amend")
    assert idempotency_of(declared) is idempotency_of(anonymous) is Idempotency.UNSAFE


def test_a_declared_idempotency_is_kept() -> None:
    """A class the endpoint declares wins over its method's."""
    endpoint = Endpoint("cancel", "DELETE", "/api/v3/order", idempotency=Idempotency.SAFE)
    assert idempotency_of(Request(method="DELETE", path=endpoint.path, endpoint=endpoint)) is Idempotency.SAFE


def test_request_repr_hides_query_and_headers() -> None:
    """repr(Request) shows method, path and endpoint but no query or header values."""
    request = Request(method="GET", path="/a", query=(("signature", "deadbeef"),), headers=(("K", "key123"),))
    assert "deadbeef" not in repr(request) and "key123" not in repr(request)


def test_response_header_lookup_is_case_insensitive() -> None:
    """Response.header finds a header whatever its case."""
    response = Response(status=200, headers={"X-MBX-USED-WEIGHT-1M": "12"})
    assert response.header("x-mbx-used-weight-1m") == "12"
    assert response.header("missing") is None


def test_response_decodes_exact_decimals() -> None:
    """decode() turns JSON into the requested type with exact Decimal prices."""
    response = Response(status=200, body=b'{"price":"0.10000001"}')
    assert response.decode(Price).price == Decimal("0.10000001")
    assert response.ok


def test_response_decode_error_is_typed() -> None:
    """A body that does not match the type raises DecodeError."""
    with pytest.raises(DecodeError, match="Price"):
        Response(status=200, body=b'{"px":1}').decode(Price)


_TEXT = st.text(alphabet=st.sampled_from("aZ09_.~-=&/ %+ü?#"), max_size=6)


@settings(deadline=None)  # a 200 ms deadline per example is a timing test on a loaded machine
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=6))
def test_query_fast_path_equals_quoting_every_name_and_value(pairs: list[tuple[str, str]]) -> None:
    """The join-once fast path yields exactly what percent-encoding each name and value would."""
    expected = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    assert encode_query(tuple(pairs)) == expected


def _quoted(pairs: tuple[tuple[str, str], ...]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


@settings(deadline=None)  # a 200 ms deadline per example is a timing test on a loaded machine
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=4), st.lists(st.tuples(_TEXT, _TEXT), max_size=3))
def test_a_query_extended_from_its_text_encodes_as_the_whole_does(head: list[tuple[str, str]],
                                                                   more: list[tuple[str, str]]) -> None:
    """extend_query's text (the part's text, '&', the rest's) is the whole query percent-encoded,
    and it is what the request carrying that query sends."""
    pairs = tuple(head)
    encode_query(pairs)  # remembered, as a signer leaves it
    joined, text = extend_query(pairs, tuple(more))
    assert joined == pairs + tuple(more)
    assert text == _quoted(joined)
    assert Request(method="GET", path="/x", query=joined).query_string == _quoted(joined)


def test_a_query_extended_without_its_part_just_encoded_is_encoded_whole() -> None:
    """Another query encoded in between: the part is encoded afresh, never another query's text."""
    pairs = (("symbol", "A/B"),)
    encode_query((("other", "x"),))
    assert extend_query(pairs, (("b", "2"),))[1] == "symbol=A%2FB&b=2"
    assert Request(method="GET", path="/x").query_string == ""
    assert extend_query((), ())[1] == ""


def test_the_remembered_encoding_belongs_to_that_very_tuple() -> None:
    """After one query is encoded, another query (then the first again) gets its own text."""
    first = (("symbol", "A/B"),)
    assert encode_query(first) == "symbol=A%2FB"
    assert encode_query((("symbol", "C"),)) == "symbol=C"
    assert encode_query(first) == "symbol=A%2FB"


def test_with_ext_keeps_ext_read_only_and_the_original_unchanged() -> None:
    """with_ext returns a copy whose ext is a new read-only mapping; the original keeps its own."""
    request = Request(method="GET", path="/x", ext={"a": 1})
    copy = request.with_ext(b=2)
    assert dict(copy.ext) == {"a": 1, "b": 2} and dict(request.ext) == {"a": 1}
    with pytest.raises(TypeError):
        copy.ext["c"] = 3  # type: ignore[index]


def test_with_ext_overrides_existing_keys_and_starts_from_an_empty_ext() -> None:
    """A value given to with_ext wins over the same key already in ext; an empty ext just takes the values."""
    request = Request(method="GET", path="/x", ext={"attempt": 1, "a": 1})
    assert dict(request.with_ext(attempt=2).ext) == {"attempt": 2, "a": 1}
    fresh = Request(method="GET", path="/x").with_ext(attempt=1)
    assert dict(fresh.ext) == {"attempt": 1}
    with pytest.raises(TypeError):
        fresh.ext["attempt"] = 2  # type: ignore[index]

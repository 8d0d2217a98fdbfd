"""lotusx.testing.conformance: the rules every venue declaration must keep, each with a venue that breaks it."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lotusx import Credentials, Endpoint, Idempotency, NewOrder, Request, Response, Service, http_errors
from lotusx.exchanges import binance, bybit
from lotusx.exchanges.binance import endpoints as binance_ep
from lotusx.exchanges.bybit import endpoints as bybit_ep
from lotusx.layers import Pool, RemainingHeader, UsedHeader
from lotusx.layers.ratelimit import ENDPOINT_POOL
from lotusx.signers import QueryHmac
from lotusx.testing import check_venue, endpoints_in, venue_problems
from lotusx.venue import Parts, Venue


class Toy:
    """A connector with the whole common API, each method taking the call DESIGN.md shows."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    async def get_order_book(self, symbol: str, depth: int = 100) -> Any: ...
    async def get_ticker(self, symbol: str) -> Any: ...
    async def get_trades(self, symbol: str, limit: int = 500) -> Any: ...
    async def place_order(self, order: NewOrder) -> Any: ...
    async def cancel_order(self, symbol: str, *, order_id: str | int | None = None) -> Any: ...
    async def get_order(self, symbol: str, *, client_order_id: str | None = None) -> Any: ...
    async def get_open_orders(self, symbol: str | None = None) -> Any: ...
    async def get_balances(self) -> Any: ...

    async def watch_order_book(self, symbol: str, depth: int | None = 20) -> AsyncIterator[Any]:
        yield None

    async def watch_trades(self, symbol: str) -> AsyncIterator[Any]:
        yield None

    async def watch_orders(self) -> AsyncIterator[Any]:
        yield None

    async def aclose(self) -> None: ...


async def _server_time(call: Service) -> int:
    return 0


def _signer(credentials: Credentials) -> QueryHmac:
    return QueryHmac(credentials.api_key, credentials.hmac_secret())


async def _reconcile(signed: Service, placed: Request) -> Response | None:
    return None


W = "WEIGHT"
TOY = Venue(name="toy", rest_url="https://toy.example", ws_url="wss://toy.example", pools=(Pool(W, 10, 1),),
            classify=http_errors, signer=_signer, server_time=_server_time, connector=Toy,
            usage=(UsedHeader("X-USED-", W),), reconcile=_reconcile)
PLACE = Endpoint("place", "POST", "/order", costs={W: 1}, signed=True, idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
BOOK = Endpoint("book", "GET", "/book", costs={W: 2})
GOOD = (PLACE, BOOK)


def _only_category(category: bybit_ep.Category) -> list[Endpoint]:
    """Bybit's endpoints a connector of ``category`` sends: the module's shared ones and its own trade endpoints."""
    other = bybit_ep.LINEAR if category is bybit_ep.SPOT else bybit_ep.SPOT
    theirs = [getattr(other, f.name) for f in dataclasses.fields(other)]
    return [endpoint for endpoint in endpoints_in(bybit_ep) if endpoint not in theirs]


SHIPPED = [binance.VENUE, bybit.VENUE, bybit.VENUE_LINEAR]
SHIPPED_IDS = ["binance", "bybit", "bybit-linear"]


@pytest.mark.parametrize("venue", SHIPPED, ids=SHIPPED_IDS)
def test_the_shipped_venues_conform(venue: Venue) -> None:
    """Binance, Bybit spot and Bybit linear keep every rule, each checked with the endpoints it declares."""
    check_venue(venue)


@pytest.mark.parametrize(("venue", "expected"), [
    (binance.VENUE, endpoints_in(binance_ep)),
    (bybit.VENUE, _only_category(bybit_ep.SPOT)),
    (bybit.VENUE_LINEAR, _only_category(bybit_ep.LINEAR)),
], ids=SHIPPED_IDS)
def test_each_shipped_venue_declares_exactly_its_own_endpoints(venue: Venue, expected: list[Endpoint]) -> None:
    """Binance: its module's every endpoint; each Bybit category: the shared ones and its own, none of the other's."""
    assert sorted(map(repr, venue.endpoints)) == sorted(map(repr, expected))


def test_a_venue_declaring_no_endpoints_and_given_none_is_a_problem() -> None:
    """Nothing to check is not a pass: the rules on costs, paths and idempotency would hold vacuously."""
    assert venue_problems(TOY) == ["toy declares no endpoints: declare Venue.endpoints or pass endpoints="]


def test_the_declared_endpoints_are_checked_by_default() -> None:
    """Venue.endpoints is the table checked when none is passed."""
    venue = dataclasses.replace(TOY, endpoints=(*GOOD, Endpoint("typo", "GET", "/x", costs={"WIEGHT": 1})))
    assert venue_problems(venue) == ["endpoint 'typo' costs 1 in pool 'WIEGHT', which toy does not declare: every "
                                     "call to it raises ConfigError"]


def test_endpoints_passed_explicitly_are_checked_instead_of_the_declared_ones() -> None:
    """endpoints= (a module or the endpoints themselves) still works, and is what is checked."""
    venue = dataclasses.replace(TOY, endpoints=GOOD)
    problems = venue_problems(venue, (*GOOD, Endpoint("rel", "GET", "api/x", costs={W: 1})))
    assert problems == ["endpoint 'rel' has path 'api/x': a path starts with '/'"]


def test_the_shipped_venues_conform_with_their_tables_passed_as_before() -> None:
    """check_venue(VENUE, endpoints), as written before Venue.endpoints: a module, or the endpoints themselves."""
    check_venue(bybit.VENUE, _only_category(bybit_ep.SPOT))
    check_venue(binance.VENUE, binance_ep)


def test_a_conforming_toy_venue_has_no_problems() -> None:
    """The toy venue the failing examples below start from keeps every rule."""
    assert venue_problems(TOY, GOOD) == []


def test_endpoints_in_finds_module_endpoints_and_those_in_its_tables() -> None:
    """Module-level endpoints and those held in a module-level dict (Binance's depth weights), each once."""
    found = endpoints_in(binance_ep)
    assert binance_ep.PLACE_ORDER in found and binance_ep.depth(5000) in found
    assert all(found.count(endpoint) == 1 for endpoint in found)


def test_check_venue_raises_one_assertion_error_listing_every_problem() -> None:
    """Two broken endpoints: one AssertionError naming both, so one run shows the whole to-do list."""
    broken = (Endpoint("a", "GET", "/a", costs={"NOPE": 1}), Endpoint("b", "GET", "b", costs={W: 1}))
    with pytest.raises(AssertionError) as failed:
        check_venue(TOY, (*GOOD, *broken))
    assert "2 problems" in str(failed.value)
    assert "'a'" in str(failed.value) and "'b'" in str(failed.value)


def test_a_cost_in_an_undeclared_pool_is_a_problem() -> None:
    """The limiter refuses such a call with ConfigError, but only when it is first made (a withdrawal, months later)."""
    problems = venue_problems(TOY, (*GOOD, Endpoint("typo", "GET", "/x", costs={"WIEGHT": 1})))
    assert problems == ["endpoint 'typo' costs 1 in pool 'WIEGHT', which toy does not declare: every call to it "
                        "raises ConfigError"]


def test_a_cost_over_a_pools_limit_is_a_problem() -> None:
    """A cost above one window's limit (of a pool declared in two windows) could never be sent."""
    venue = dataclasses.replace(TOY, pools=(Pool(W, 1000, 60), Pool(W, 10, 1)))
    problems = venue_problems(venue, (*GOOD, Endpoint("heavy", "GET", "/x", costs={W: 11})))
    assert problems == ["endpoint 'heavy' costs 11 in pool WEIGHT 10/1s, over its limit: it could never be sent"]


def test_one_name_for_two_paths_is_a_problem() -> None:
    """Metrics, logs and per-endpoint pools key on the name: two paths under one name are counted as one."""
    problems = venue_problems(TOY, (*GOOD, Endpoint("book", "GET", "/other", costs={W: 1})))
    assert problems == ["endpoint name 'book' is used for GET /book and GET /other: metrics, logs and "
                        "per-endpoint pools key on the name, give each its own"]


def test_one_name_for_one_path_at_several_weights_is_no_problem() -> None:
    """Binance's depth: one endpoint, declared once per weight its limit parameter costs."""
    assert venue_problems(TOY, (*GOOD, Endpoint("book", "GET", "/book", costs={W: 5}))) == []


def test_a_path_without_its_slash_is_a_problem() -> None:
    """The transport refuses a path without its leading '/' at the first call."""
    problems = venue_problems(TOY, (*GOOD, Endpoint("rel", "GET", "api/x", costs={W: 1})))
    assert problems == ["endpoint 'rel' has path 'api/x': a path starts with '/'"]


def test_a_method_that_is_no_upper_case_http_method_is_a_problem() -> None:
    """Retry reads GET, HEAD and OPTIONS as reads by exact name: 'get' would be classed a write."""
    problems = venue_problems(TOY, (*GOOD, Endpoint("lower", "get", "/x", costs={W: 1})))
    assert problems == ["endpoint 'lower' has method 'get': use one of CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, "
                        "POST, PUT (upper case)"]


def test_a_write_without_a_declared_idempotency_is_a_problem() -> None:
    """A write left None is never re-sent, and a placement left None loses its client id on a 5xx: say which."""
    problems = venue_problems(TOY, (*GOOD, Endpoint("cancel", "DELETE", "/order", costs={W: 1}, signed=True)))
    assert problems == ["endpoint 'cancel' (DELETE) declares no idempotency: say SAFE, SAFE_WITH_CLIENT_ID or "
                        "UNSAFE (left None, it is UNSAFE: never re-sent once it may have reached the venue)"]


def test_a_write_declared_unsafe_is_no_problem() -> None:
    """UNSAFE said explicitly is a decision, not an oversight."""
    cancel = Endpoint("cancel", "DELETE", "/order", costs={W: 1}, signed=True, idempotency=Idempotency.UNSAFE)
    assert venue_problems(TOY, (*GOOD, cancel)) == []


def test_a_usage_header_into_an_undeclared_pool_is_a_problem() -> None:
    """The limiter drops a venue's count for a pool it does not have, silently: the parser would read for nothing."""
    venue = dataclasses.replace(TOY, usage=(UsedHeader("X-USED-", "WEIGTH"),))
    assert venue_problems(venue, GOOD) == ["usage header parser UsedHeader reads into pool 'WEIGTH', which toy does "
                                           "not declare: the venue's counts are dropped"]


def test_a_usage_header_into_the_endpoints_own_pool_is_no_problem() -> None:
    """ENDPOINT_POOL (Bybit's per-endpoint limits) names the request's endpoint's pool, whichever it is."""
    venue = dataclasses.replace(TOY, usage=(RemainingHeader("R", "L", "T", pool=ENDPOINT_POOL),))
    assert venue_problems(venue, GOOD) == []


def test_a_reconcile_hook_without_a_placement_that_uses_it_is_a_problem() -> None:
    """Retry asks the hook only for SAFE_WITH_CLIENT_ID endpoints: a placement declared otherwise never uses it."""
    placed_unsafe = msgspec.structs.replace(PLACE, idempotency=Idempotency.UNSAFE)
    assert venue_problems(TOY, (placed_unsafe, BOOK)) == [
        "toy declares a reconcile hook, but no endpoint is SAFE_WITH_CLIENT_ID: Retry never asks it (is the "
        "order placement declared so?)"]


def test_a_placement_without_a_reconcile_hook_is_no_problem() -> None:
    """Without a hook a lost answer ends in AmbiguousOrderState, never re-sent: safe, if less convenient."""
    assert venue_problems(dataclasses.replace(TOY, reconcile=None), GOOD) == []


class _LeakyRepr(QueryHmac):
    def __repr__(self) -> str:
        return f"LeakyRepr({self.secret})"


def test_a_signer_showing_its_secret_is_a_problem() -> None:
    """A signer's repr ends up in tracebacks and debug logs."""
    venue = dataclasses.replace(TOY, signer=lambda c: _LeakyRepr(c.api_key, c.hmac_secret()))
    assert venue_problems(venue, GOOD) == ["the signer toy builds (_LeakyRepr) shows the secret in its repr or str"]


@dataclasses.dataclass(frozen=True)
class _SecretInHeader:
    secret: str = dataclasses.field(repr=False)

    def sign(self, request: Request, timestamp_ms: int) -> Request:
        return request.with_headers(("X-Secret", self.secret))


def test_a_signed_request_carrying_the_secret_is_a_problem() -> None:
    """A secret is signed with, never sent: in a header, a query or a body, any proxy or log sees it."""
    venue = dataclasses.replace(TOY, signer=lambda c: _SecretInHeader(c.hmac_secret()))
    assert venue_problems(venue, GOOD) == ["signing endpoint 'place' puts the secret in the request's headers"]


@dataclasses.dataclass(frozen=True)
class _Failing:
    def sign(self, request: Request, timestamp_ms: int) -> Request:
        raise ValueError("no")


def test_a_signer_that_cannot_sign_a_signed_endpoint_is_a_problem() -> None:
    """Signing each signed endpoint once, offline, finds the scheme's errors before the venue does."""
    venue = dataclasses.replace(TOY, signer=lambda c: _Failing())
    assert venue_problems(venue, GOOD) == ["signing endpoint 'place' raised ValueError"]


class _NoClose(Toy):
    aclose = None  # type: ignore[assignment]


def test_a_connector_without_aclose_is_a_problem() -> None:
    """lotusx.connect's `async with` ends by awaiting the connector's aclose()."""
    venue = dataclasses.replace(TOY, connector=_NoClose)
    assert venue_problems(venue, GOOD) == ["connector _NoClose has no async aclose(): lotusx.connect's "
                                           "`async with` awaits it on exit"]


class _NoTicker(Toy):
    get_ticker = None  # type: ignore[assignment]


def test_a_missing_common_method_is_a_problem() -> None:
    """Users write one strategy for every venue: a method it lacks is either written or listed with its reason."""
    venue = dataclasses.replace(TOY, connector=_NoTicker)
    assert venue_problems(venue, GOOD) == ["connector _NoTicker has no get_ticker(symbol): write it, or pass "
                                           "lacks={'get_ticker': 'why'}"]


def test_a_missing_common_method_listed_with_its_reason_is_no_problem() -> None:
    """lacks={name: reason}: a venue without tickers says so, once."""
    venue = dataclasses.replace(TOY, connector=_NoTicker)
    assert venue_problems(venue, GOOD, lacks={"get_ticker": "the venue has no ticker endpoint"}) == []


def test_a_method_listed_as_lacking_that_exists_is_a_problem() -> None:
    """The list of what is missing is kept true: a method written since is taken off it."""
    problems = venue_problems(TOY, GOOD, lacks={"get_ticker": "TODO"})
    assert problems == ["lacks names get_ticker, which connector Toy has: take it off the list"]


def test_a_lacks_entry_outside_the_common_api_is_a_problem() -> None:
    """A misspelt name in lacks would excuse nothing and hide the method it meant."""
    problems = venue_problems(TOY, GOOD, lacks={"get_tikcer": "TODO"})
    assert problems == ["lacks names 'get_tikcer', which is not in the common API (get_order_book, get_ticker, "
                        "get_trades, place_order, cancel_order, get_order, get_open_orders, get_balances, "
                        "watch_order_book, watch_trades, watch_orders)"]


class _OtherShape(Toy):
    async def get_trades(self, symbol: str, count: int = 50) -> Any: ...  # type: ignore[override]


def test_a_common_method_that_refuses_the_documented_call_is_a_problem() -> None:
    """`ex.get_trades("BTCUSDT", limit=50)` must work on every venue, as DESIGN.md §3 shows it."""
    venue = dataclasses.replace(TOY, connector=_OtherShape)
    assert venue_problems(venue, GOOD) == [
        "connector _OtherShape's get_trades does not take the documented call get_trades(symbol, limit=50)"]


class _SyncAndAwaited(Toy):
    def get_balances(self) -> Any: ...  # type: ignore[override]

    async def watch_trades(self, symbol: str) -> Any: ...  # type: ignore[override]


def test_a_get_that_is_not_async_and_a_watch_that_is_awaited_are_problems() -> None:
    """`await ex.get_balances()` needs a coroutine; `async for x in ex.watch_trades(...)` an async iterator."""
    venue = dataclasses.replace(TOY, connector=_SyncAndAwaited)
    assert venue_problems(venue, GOOD) == [
        "connector _SyncAndAwaited's get_balances is not async: callers await it",
        "connector _SyncAndAwaited's watch_trades is a coroutine function: callers `async for` over it, write it "
        "as an async generator"]


def test_a_connector_given_as_a_partial_is_read_through_it() -> None:
    """Bybit linear's connector is functools.partial(Bybit, category=LINEAR): its class is what is checked."""
    venue = dataclasses.replace(TOY, connector=functools.partial(_NoTicker))
    assert venue_problems(venue, GOOD, lacks={"get_ticker": "none"}) == []


def test_the_readme_block_runs_as_written_on_binance() -> None:
    """README "Testing your own layers": the check_venue block, with Binance's package for the reader's own."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    [code] = [block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL) if "check_venue" in block]
    code = code.replace("from lotusx_acme import", "from lotusx.exchanges.binance import")
    code = code.replace(', lacks={"watch_orders": "the venue has no private stream"}', "")
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    scope["test_acme_conforms"]()


@dataclasses.dataclass(frozen=True)
class _KeyBytesOnly:
    """A signer for Ed25519-style keys: given as bytes, never as a str."""

    key: bytes = dataclasses.field(repr=False)

    def sign(self, request: Request, timestamp_ms: int) -> Request:
        return request.with_query(("signature", "sig"))


def _bytes_only(credentials: Credentials) -> _KeyBytesOnly:
    if not isinstance(credentials.secret, bytes):
        raise TypeError("an Ed25519 key")
    return _KeyBytesOnly(credentials.secret)


def test_a_signer_the_dummy_credentials_cannot_build_is_a_problem_naming_the_way_out() -> None:
    """The default dummy secret is an HMAC-style str: a venue signing otherwise is told to pass credentials=."""
    venue = dataclasses.replace(TOY, signer=_bytes_only)
    [problem] = venue_problems(venue, GOOD)
    assert problem.startswith("building the signer of toy from Credentials(")
    assert problem.endswith("raised TypeError (a venue that signs otherwise passes credentials=...)")


def test_dummy_credentials_of_the_venues_kind_are_signed_with() -> None:
    """credentials=: the venue's kind of key, a throwaway one, checked as the default is."""
    venue = dataclasses.replace(TOY, signer=_bytes_only)
    assert venue_problems(venue, GOOD, credentials=Credentials("throwaway-key-0001", b"throwaway-seed-0001")) == []


def test_binance_conforms_with_an_ed25519_key_too() -> None:
    """Binance builds an Ed25519 signer for a PEM secret (and logs its WebSocket API sessions on): same rules."""
    from tests.signers.test_ed25519 import API_KEY, CONNECTOR_PEM  # a public test vector's key, not a secret

    check_venue(binance.VENUE, binance_ep, credentials=Credentials(API_KEY, CONNECTOR_PEM))

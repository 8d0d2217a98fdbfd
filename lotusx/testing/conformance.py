"""Conformance: the rules every venue declaration keeps, checked offline in one line.

::

    from lotusx.testing import check_venue
    from lotusx_acme import VENUE

    def test_acme_conforms() -> None:
        check_venue(VENUE)  # one AssertionError listing every problem

The endpoints checked are those the venue declares (``Venue.endpoints``), or ``endpoints=`` instead:
the module declaring them (every :class:`~lotusx.Endpoint` at its top level, or in a top-level dict,
tuple, list or set: see :func:`endpoints_in`) or any iterable of them. A venue declaring none and
given none is a problem, not a pass. The venue's own ``ws_trading`` connection endpoints are added.
:func:`venue_problems` returns the list instead of raising.

Each rule is one the kernel or its users depend on and that nothing checks before the call
that breaks it (the limiter refuses an unknown pool only when that endpoint is first called):

- every cost names a pool the venue declares, and fits every window of that pool;
- one endpoint name, one method and path (metrics, logs and per-endpoint pools key on the name;
  one endpoint declared at several weights, as Binance's depth, is fine);
- a path starts with ``/``; a method is an upper-case HTTP method (``CONNECT`` for what a
  WebSocket connection attempt charges);
- every write (POST, PUT, PATCH, DELETE) declares its idempotency: left ``None`` it is
  ``UNSAFE``, and a placement so left loses its client id on a lost answer;
- every usage header parser reads into a declared pool (or ``ENDPOINT_POOL``): the limiter
  drops a count for an unknown pool silently;
- a venue with a reconcile hook has a ``SAFE_WITH_CLIENT_ID`` endpoint, the only kind ``Retry``
  asks the hook for;
- the signers built from dummy credentials (an HMAC-style key; ``credentials=`` a throwaway key
  of another kind) show no secret in their repr or str, sign a request for every signed endpoint
  without raising, and put the secret in none of its query, headers or body;
- the connector class has an async ``aclose()`` (``lotusx.connect`` awaits it), and each method
  of the common API (``get_order_book``, ``get_ticker``, ``get_trades``, ``place_order``,
  ``cancel_order``, ``get_order``, ``get_open_orders``, ``get_balances``, ``watch_order_book``,
  ``watch_trades``, ``watch_orders``) takes the call Binance's and Bybit's take (:data:`CALLS`), is
  ``async def`` (``watch_*``: an async generator), or is listed in ``lacks={name: reason}``.

Not checked here: what the kernel refuses when the connector is built (a pool's limit or window
not positive, a pool declared twice: ``Limiter``), a ``SAFE_WITH_CLIENT_ID`` request without its
``ext["client_order_id"]`` (``Retry`` refuses it at the call), and a venue without a reconcile hook
(its lost placements end in ``AmbiguousOrderState``, never re-sent: safe).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import ModuleType

from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Endpoint, Idempotency, Request
from lotusx.layers.ratelimit import ENDPOINT_POOL
from lotusx.models import NewOrder
from lotusx.venue import Venue

__all__ = ["check_venue", "endpoints_in", "venue_problems"]

METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "CONNECT"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY = frozenset({"POST", "PUT", "PATCH"})
# Dummy credentials, long enough for the log redactor to register (it skips values under 8 characters).
KEY, SECRET = "conformance-key-000000001", "conformance-secret-00000001"
_ORDER = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.01"),
                  price=Decimal("50000"))
# The common API as the project design (DESIGN.md §3) calls it: name, the call (args, kwargs), how it reads.
CALLS: tuple[tuple[str, tuple[object, ...], dict[str, object], str], ...] = (
    ("get_order_book", ("BTCUSDT",), {"depth": 100}, "get_order_book(symbol, depth=100)"),
    ("get_ticker", ("BTCUSDT",), {}, "get_ticker(symbol)"),
    ("get_trades", ("BTCUSDT",), {"limit": 50}, "get_trades(symbol, limit=50)"),
    ("place_order", (_ORDER,), {}, "place_order(order)"),
    ("cancel_order", ("BTCUSDT",), {"order_id": "1"}, "cancel_order(symbol, order_id=...)"),
    ("get_order", ("BTCUSDT",), {"client_order_id": "c1"}, "get_order(symbol, client_order_id=...)"),
    ("get_open_orders", ("BTCUSDT",), {}, "get_open_orders(symbol)"),
    ("get_balances", (), {}, "get_balances()"),
    ("watch_order_book", ("BTCUSDT",), {}, "watch_order_book(symbol)"),
    ("watch_trades", ("BTCUSDT",), {}, "watch_trades(symbol)"),
    ("watch_orders", (), {}, "watch_orders()"),
)


def endpoints_in(module: ModuleType) -> list[Endpoint]:
    """Every :class:`Endpoint` at ``module``'s top level or in a top-level dict, tuple, list or set, each once."""
    found: list[Endpoint] = []
    for value in vars(module).values():
        items = value.values() if isinstance(value, Mapping) else value if isinstance(
            value, tuple | list | set | frozenset) else (value,)
        found.extend(item for item in items if isinstance(item, Endpoint) and item not in found)
    return found


def check_venue(venue: Venue, endpoints: ModuleType | Iterable[Endpoint] | None = None, *,
                lacks: Mapping[str, str] | None = None, credentials: Credentials | None = None) -> None:
    """Raise one ``AssertionError`` listing every problem :func:`venue_problems` finds; nothing if none."""
    problems = venue_problems(venue, endpoints, lacks=lacks, credentials=credentials)
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        raise AssertionError(f"{venue.name}: {len(problems)} problem{'s' if len(problems) > 1 else ''}\n{listed}")


def venue_problems(venue: Venue, endpoints: ModuleType | Iterable[Endpoint] | None = None, *,
                   lacks: Mapping[str, str] | None = None, credentials: Credentials | None = None) -> list[str]:
    """What ``venue`` (with its declared endpoints, or ``endpoints``: a module or the endpoints themselves)
    breaks, one line a problem.

    ``lacks``: common API methods the connector deliberately has not, each with its reason.
    ``credentials``: dummy ones its signer takes (default: an HMAC-style key and secret; a venue
    signing only with Ed25519 passes a throwaway PEM). Never real ones: the check signs with them.
    """
    if endpoints is None:
        declared = list(venue.endpoints)
    elif isinstance(endpoints, ModuleType):
        declared = endpoints_in(endpoints)
    else:
        declared = list(endpoints)
    # Nothing to check would pass every endpoint rule vacuously, and the reconcile rule would then
    # blame a placement that is merely undeclared: say what is missing instead.
    missing = [] if declared or endpoints is not None else [
        f"{venue.name} declares no endpoints: declare Venue.endpoints or pass endpoints="]
    trading = venue.ws_trading
    extra = () if trading is None else (trading.connect, trading.login_connect)
    listed = [*declared, *(e for e in extra if e is not None and e not in declared)]
    dummy = credentials or Credentials(KEY, SECRET)
    return [*missing, *_endpoint_problems(venue, listed), *_usage_problems(venue),
            *([] if missing else _reconcile_problems(venue, listed)), *_signer_problems(venue, listed, dummy),
            *_connector_problems(venue, dict(lacks or {}))]


def _endpoint_problems(venue: Venue, endpoints: list[Endpoint]) -> list[str]:
    problems: list[str] = []
    names = {pool.name for pool in venue.pools}
    paths: dict[str, tuple[str, str]] = {}
    for endpoint in endpoints:
        where = f"endpoint {endpoint.name!r}"
        for pool_name, cost in endpoint.costs.items():
            if pool_name not in names:
                problems.append(f"{where} costs {cost} in pool {pool_name!r}, which {venue.name} does not declare: "
                                "every call to it raises ConfigError")
            problems.extend(f"{where} costs {cost} in pool {pool}, over its limit: it could never be sent"
                            for pool in venue.pools if pool.name == pool_name and cost > pool.limit)
        if not endpoint.path.startswith("/"):
            problems.append(f"{where} has path {endpoint.path!r}: a path starts with '/'")
        if endpoint.method not in METHODS:
            problems.append(f"{where} has method {endpoint.method!r}: use one of {', '.join(sorted(METHODS))} "
                            "(upper case)")
        elif endpoint.method in WRITES and endpoint.idempotency is None:
            problems.append(f"{where} ({endpoint.method}) declares no idempotency: say SAFE, SAFE_WITH_CLIENT_ID or "
                            "UNSAFE (left None, it is UNSAFE: never re-sent once it may have reached the venue)")
        first = paths.setdefault(endpoint.name, (endpoint.method, endpoint.path))
        if first != (endpoint.method, endpoint.path):
            problems.append(f"endpoint name {endpoint.name!r} is used for {' '.join(first)} and {endpoint.method} "
                            f"{endpoint.path}: metrics, logs and per-endpoint pools key on the name, give each its own")
    return problems


def _usage_problems(venue: Venue) -> list[str]:
    names = {pool.name for pool in venue.pools} | {ENDPOINT_POOL}
    problems = []
    for parser in venue.usage:
        pool = getattr(parser, "pool", None)  # UsedHeader's and RemainingHeader's; a parser of one's own may have none
        if isinstance(pool, str) and pool not in names:
            problems.append(f"usage header parser {type(parser).__name__} reads into pool {pool!r}, which "
                            f"{venue.name} does not declare: the venue's counts are dropped")
    return problems


def _reconcile_problems(venue: Venue, endpoints: list[Endpoint]) -> list[str]:
    if venue.reconcile is None or any(e.idempotency is Idempotency.SAFE_WITH_CLIENT_ID for e in endpoints):
        return []
    return [f"{venue.name} declares a reconcile hook, but no endpoint is SAFE_WITH_CLIENT_ID: Retry never asks it "
            "(is the order placement declared so?)"]


def _signer_problems(venue: Venue, endpoints: list[Endpoint], credentials: Credentials) -> list[str]:
    secret = credentials.secret.decode("utf-8", "replace") if isinstance(credentials.secret, bytes) else (
        credentials.secret)
    problems = []
    builders = [("signer", venue.signer)]
    if venue.ws_trading is not None:
        builders.append(("ws_trading signer", venue.ws_trading.signer))
    signers = {}
    for what, build in builders:
        try:
            built = signers[what] = build(credentials)
        except Exception as exc:  # its message is not shown: it may hold the secret
            problems.append(f"building the {what} of {venue.name} from {credentials!r} raised {type(exc).__name__} "
                            "(a venue that signs otherwise passes credentials=...)")
            continue
        if secret in repr(built) or secret in str(built):
            problems.append(f"the {what} {venue.name} builds ({type(built).__name__}) shows the secret in its "
                            "repr or str")
    signer = signers.get("signer")
    if signer is None:
        return problems  # said above
    for endpoint in endpoints:
        if not endpoint.signed:
            continue
        body = b'{"symbol":"BTCUSDT"}' if endpoint.method in _BODY else None
        request = Request(method=endpoint.method, path=endpoint.path, query=(("symbol", "BTCUSDT"),), body=body,
                          endpoint=endpoint)
        try:
            signed = signer.sign(request, 1_700_000_000_000)
        except Exception as exc:  # its message is not shown: it may hold the secret
            problems.append(f"signing endpoint {endpoint.name!r} raised {type(exc).__name__}")
            continue
        for part, text in (("query", signed.query_string + repr(signed.query)), ("headers", repr(signed.headers)),
                           ("body", (signed.body or b"").decode("utf-8", "replace"))):
            if secret in text:
                problems.append(f"signing endpoint {endpoint.name!r} puts the secret in the request's {part}")
    return problems


def _connector_problems(venue: Venue, lacks: dict[str, str]) -> list[str]:
    cls = venue.connector
    while isinstance(cls, functools.partial):  # Bybit linear: partial(Bybit, category=LINEAR)
        cls = cls.func
    if not isinstance(cls, type):
        return [f"{venue.name}'s connector is {cls!r}, not a class (or a functools.partial of one): "
                "its methods cannot be checked"]
    name = cls.__name__
    common = [call[0] for call in CALLS]
    problems = [f"lacks names {method!r}, which is not in the common API ({', '.join(common)})"
                for method in lacks if method not in common]
    if not inspect.iscoroutinefunction(getattr(cls, "aclose", None)):
        problems.append(f"connector {name} has no async aclose(): lotusx.connect's `async with` awaits it on exit")
    for method, args, kwargs, shown in CALLS:
        function = getattr(cls, method, None)
        if function is None:
            if method not in lacks:
                problems.append(f"connector {name} has no {_bare(shown)}: write it, or pass "
                                f"lacks={{{method!r}: 'why'}}")
            continue
        if method in lacks:
            problems.append(f"lacks names {method}, which connector {name} has: take it off the list")
        try:
            inspect.signature(function).bind(None, *args, **kwargs)
        except TypeError:
            problems.append(f"connector {name}'s {method} does not take the documented call {shown}")
        if method.startswith("watch_"):
            if inspect.iscoroutinefunction(function):
                problems.append(f"connector {name}'s {method} is a coroutine function: callers `async for` over "
                                "it, write it as an async generator")
        elif not inspect.iscoroutinefunction(function):
            problems.append(f"connector {name}'s {method} is not async: callers await it")
    return problems


def _bare(shown: str) -> str:
    """``get_trades(symbol, limit=50)`` -> ``get_trades(symbol)``: the call's required part."""
    head, _, params = shown.partition("(")
    kept = [p for p in params.rstrip(")").split(", ") if p and "=" not in p]
    return f"{head}({', '.join(kept)})"

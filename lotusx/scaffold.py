"""``lotusx new-exchange NAME``: a new venue as its own package, registered through the entry points.

The package it writes is a working connector for a simple, Binance-like REST dialect (server
time, a depth snapshot, signed order placement and cancel) with a test that runs it offline
against a fake venue (``lotusx.testing.FakeTransport``). Every venue fact to check is marked
``TODO``. Once installed (``pip install -e``), ``lotusx.connect(NAME, ...)`` finds it.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from lotusx import __version__
from lotusx.kernel.errors import ConfigError

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
# The connector class is spelt from the venue name and sits beside these imports in the generated
# __init__.py and connector.py: a venue called ``order`` would write ``class Order`` over lotusx's.
_IMPORTED = frozenset({"Credentials", "DecodeError", "Levels", "NewOrder", "Order", "OrderBook", "Parts", "QueryHmac",
                       "Request", "Service", "ServerTime", "Side", "Venue"})


@dataclass(frozen=True)
class Names:
    """How one venue name is spelt in the files: ``acme-fx`` -> ``lotusx_acme_fx``, ``AcmeFx``, ``ACME-FX``."""

    venue: str

    @property
    def package(self) -> str:
        """The import package."""
        return "lotusx_" + self.venue.replace("-", "_")

    @property
    def dist(self) -> str:
        """The distribution (and directory) name."""
        return "lotusx-" + self.venue

    @property
    def cls(self) -> str:
        """The connector class."""
        return "".join(part.capitalize() for part in self.venue.split("-"))

    @property
    def upper(self) -> str:
        """For header names (dashes kept: proxies drop headers with underscores)."""
        return self.venue.upper()

    def fill(self, template: str) -> str:
        """``template`` with this venue's spellings in place of the ``__...__`` tokens."""
        return (template.replace("__lotusx_version__", __version__).replace("__package__", self.package)
                .replace("__dist__", self.dist).replace("__Venue__", self.cls).replace("__VENUE__", self.upper)
                .replace("__venue__", self.venue))


def new_exchange(name: str, into: Path) -> Path:
    """Write the package for venue ``name`` into ``into / "lotusx-<name>"``; return that directory.

    ``ConfigError`` for a name that is not lower-case letters, digits and dashes, for one whose
    connector class would be a keyword or a name the generated code imports, for the name of a
    venue already installed, and for a directory that already exists (nothing is overwritten).
    """
    if not _NAME.fullmatch(name):
        raise ConfigError(f"venue name {name!r}: use lower-case letters, digits and single dashes, and start with "
                          "a letter (it spells a Python package and class), e.g. 'acme'")
    cls = Names(name).cls
    if keyword.iskeyword(cls) or cls in _IMPORTED:
        raise ConfigError(f"venue name {name!r} would name the connector class {cls!r}, which Python or the "
                          "generated code already uses: pick another name, e.g. 'acme'")
    installed = sorted(point.name for point in entry_points(group="lotusx.exchanges"))
    if name in installed:
        raise ConfigError(f"a venue named {name!r} is already installed ({', '.join(installed)}): pick another name")
    names = Names(name)
    root = into / names.dist
    if root.exists():
        raise ConfigError(f"{root} already exists: remove it or pick another directory (--dir)")
    for relative, template in FILES.items():
        path = root / names.fill(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(names.fill(template), encoding="utf-8")
    return root


FILES: dict[str, str] = {}

FILES["pyproject.toml"] = '''\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "__dist__"
version = "0.1.0"
description = "__Venue__ for LotusX"
requires-python = ">=3.11"
dependencies = ["lotusx>=__lotusx_version__"]  # the API this package was generated against

[project.optional-dependencies]
dev = ["pytest>=8", "pytest-asyncio>=0.24"]

# How lotusx.connect("__venue__") finds this venue: no registry to edit, no import-time magic.
[project.entry-points."lotusx.exchanges"]
__venue__ = "__package__:VENUE"

[tool.setuptools.packages.find]
include = ["__package__*"]

# LotusX's own lint settings: without them ruff's defaults disagree with the code written here.
[tool.ruff]
line-length = 120
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "ASYNC", "S", "RUF", "SIM", "PT"]
ignore = ["S101"]

[tool.ruff.lint.per-file-ignores]
"tests/**" = ["S105", "S106"]

[tool.mypy]
strict = true

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
testpaths = ["tests"]
pythonpath = ["."]
'''

FILES["README.md"] = '''\
# __dist__

__Venue__ for [LotusX](https://pypi.org/project/lotusx/), generated by `lotusx new-exchange __venue__`.

```sh
pip install -e '.[dev]'   # registers "__venue__" in the lotusx.exchanges entry points
pytest                    # the connector against a fake venue, offline
```

```python
async with lotusx.connect("__venue__", credentials=lotusx.Credentials(api_key=..., secret=...)) as ex:
    book = await ex.get_order_book("BTCUSDT", depth=20)
```

Fill in every `TODO` from the venue's API documentation:

- `__package__/endpoints.py`: paths, what each call costs in which rate-limit pool, the pools, and
  `ENDPOINTS`, the table of every endpoint the connector sends (`VENUE.endpoints`, which the tests check).
- `__package__/errors.py`: the venue's error codes, mapped onto the `lotusx.LotusXError` tree.
- `__package__/__init__.py`: base URLs, the signing scheme (`lotusx.signers` has the common
  families), and a `reconcile` query once order placement must survive a lost answer.
- `__package__/schemas.py` and `connector.py`: the venue's fields, mapped onto `lotusx.models`; its
  side and status words onto lotusx's in `SIDES` and `STATUSES`.

Transport, retries, rate limits, clock sync, signing and tracing come from LotusX's canonical
stack: the connector only builds requests and maps fields.
'''

FILES["__package__/__init__.py"] = '''\
"""__Venue__, declared for LotusX: URLs, limit pools, endpoints, error map, signer, server time, connector.

``lotusx.connect("__venue__", ...)`` builds it once this package is installed (see the entry
point in pyproject.toml). Generated by ``lotusx new-exchange __venue__``: check every TODO.
"""

from __future__ import annotations

from lotusx import Credentials, Request, Service
from lotusx.signers import QueryHmac
from lotusx.venue import Venue

from __package__ import endpoints as ep
from __package__.connector import __Venue__
from __package__.errors import classify
from __package__.schemas import ServerTime


def signer(credentials: Credentials) -> QueryHmac:
    """HMAC-SHA256 of the query, appended as ``signature``; the key in a header.

    TODO: the venue's scheme. lotusx.signers has the query, header and prehash HMAC families
    and Ed25519; pick one and set its names (header, parameters, recvWindow).
    """
    return QueryHmac(credentials.api_key, credentials.hmac_secret(), recv_window=5000, key_header="X-__VENUE__-APIKEY")


async def server_time(call: Service) -> int:
    """The venue's time in milliseconds, read on an unlayered service: the clock sync's sample."""
    response = await call(Request(method="GET", path=ep.TIME.path, endpoint=ep.TIME))
    return response.decode(ServerTime).serverTime


VENUE = Venue(
    name="__venue__",
    rest_url="https://api.__venue__.example",  # TODO: the venue's REST base URL (scheme://host[:port])
    ws_url="wss://stream.__venue__.example",  # TODO: the venue's WebSocket base URL
    pools=ep.LIMITS,
    endpoints=ep.ENDPOINTS,  # every endpoint the connector sends: lotusx.testing.check_venue checks these
    classify=classify,
    signer=signer,
    server_time=server_time,
    connector=__Venue__,
    # TODO: usage=(...), the venue's rate-limit usage headers (lotusx.layers.UsedHeader,
    # RemainingHeader), if it sends any: the limiter then follows the venue's own count.
    # TODO: reconcile=..., a query for an order by its client id. Without it a placement whose
    # answer was lost ends in lotusx.AmbiguousOrderState instead of being looked up (never re-sent).
)

__all__ = ["VENUE", "__Venue__"]
'''

# PEP 561: without it, the installed package is untyped to its users' mypy (import-not-found).
FILES["__package__/py.typed"] = ""

FILES["__package__/endpoints.py"] = '''\
"""__Venue__ endpoints: path, method, what each call costs in which pool, signed or not, idempotency.

TODO: every figure from the venue's API documentation (its limits page and each endpoint's weight).
"""

from __future__ import annotations

from lotusx import Endpoint, Idempotency
from lotusx.layers import Pool

WEIGHT = "REQUEST_WEIGHT"
ORDERS = "ORDERS"

LIMITS = (Pool(WEIGHT, 1200, 60), Pool(ORDERS, 10, 1))  # TODO: the venue's pools

TIME = Endpoint("time", "GET", "/api/v1/time", costs={WEIGHT: 1})
DEPTH = Endpoint("depth", "GET", "/api/v1/depth", costs={WEIGHT: 5})
PLACE_ORDER = Endpoint("place_order", "POST", "/api/v1/order", costs={WEIGHT: 1, ORDERS: 1}, signed=True,
                       idempotency=Idempotency.SAFE_WITH_CLIENT_ID)
# UNSAFE: never re-sent once it may have reached the venue. Declare it SAFE only with
# lotusx.account.cancel_once around the call, or a re-sent cancel of a cancelled order reads
# "unknown order" to the caller. Every write says its class (lotusx.testing.check_venue asks).
CANCEL_ORDER = Endpoint("cancel_order", "DELETE", "/api/v1/order", costs={WEIGHT: 1}, signed=True,
                        idempotency=Idempotency.UNSAFE)

# The venue's endpoint table (VENUE.endpoints): add each endpoint you declare above, or it goes unchecked.
ENDPOINTS = (TIME, DEPTH, PLACE_ORDER, CANCEL_ORDER)
'''

FILES["__package__/errors.py"] = '''\
"""__Venue__ error bodies -> the lotusx.LotusXError tree; HTTP statuses for the rest.

TODO: the venue's error format and codes. Whatever is not mapped here falls to
lotusx.http_errors (429 RateLimited, 5xx ServerError, 401/403 AuthenticationError, ...).
"""

from __future__ import annotations

import msgspec
from lotusx import (
    AuthenticationError,
    InsufficientBalance,
    InvalidSignature,
    LotusXError,
    NotFound,
    Request,
    Response,
    TimestampOutOfWindow,
    chain,
    http_errors,
)


class _Body(msgspec.Struct):
    code: int
    msg: str = ""


_decode = msgspec.json.Decoder(_Body).decode
_CODES: dict[int, type[LotusXError]] = {  # TODO: the venue's codes
    1001: AuthenticationError,
    1002: InvalidSignature,
    1003: TimestampOutOfWindow,
    2001: NotFound,
    2002: InsufficientBalance,
}


def venue_errors(request: Request, response: Response) -> LotusXError | None:
    """The error a ``{"code": ..., "msg": ...}`` body means; ``None`` when it is not one (HTTP decides).

    Not under a 5xx: the venue failed, so a write's outcome is unknown whatever code it names; a
    refusal's code read there would report an order that may have executed as not placed.
    """
    if not 400 <= response.status < 500 or not response.body.startswith(b"{"):
        return None
    try:
        body = _decode(response.body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    kind = _CODES.get(body.code)
    if kind is None:
        return None
    return kind(f"{request.method} {request.path}", code=body.code, venue_message=body.msg, response=response)


classify = chain(venue_errors, http_errors)
'''

FILES["__package__/schemas.py"] = '''\
"""__Venue__ wire formats, decoded once at the edge with msgspec. TODO: the venue's field names."""

from __future__ import annotations

from decimal import Decimal

import msgspec


class ServerTime(msgspec.Struct):
    serverTime: int


class Depth(msgspec.Struct):
    lastUpdateId: int
    bids: list[tuple[str, str]]  # decimal strings, exact: lotusx.ws.Levels reads them as Decimals
    asks: list[tuple[str, str]]


class OrderResult(msgspec.Struct):
    orderId: int | str
    clientOrderId: str
    symbol: str
    side: str
    type: str
    status: str
    price: Decimal
    origQty: Decimal
    executedQty: Decimal
'''

FILES["__package__/connector.py"] = '''\
"""``__Venue__``: the public API over the stack lotusx.connect builds. Requests and field mapping only."""

from __future__ import annotations

from lotusx import DecodeError, NewOrder, Order, OrderBook, Request, pairs
from lotusx.kernel.ids import client_order_id
from lotusx.models import Side
from lotusx.venue import Parts
from lotusx.ws import Levels

from __package__ import endpoints as ep
from __package__ import schemas as s

# The venue's words -> lotusx's (Binance's), which users compare against and lotusx.account reads
# (TERMINAL, cancel_once wants "CANCELED"). TODO: every spelling of the venue's side and status enums.
SIDES: dict[str, Side] = {"BUY": "BUY", "SELL": "SELL"}
STATUSES: dict[str, str] = {"NEW": "NEW", "PARTIALLY_FILLED": "PARTIALLY_FILLED", "FILLED": "FILLED",
                            "CANCELED": "CANCELED", "REJECTED": "REJECTED", "EXPIRED": "EXPIRED"}


class __Venue__:
    """__Venue__. Built by ``lotusx.connect("__venue__", ...)`` from the :class:`~lotusx.venue.Parts` it wires.

    TODO: streams (watch_order_book, watch_trades, ...): see lotusx.exchanges.binance.streams for a
    dialect (subscribe, ack, ping) and frame pipeline (Parse into the venue's event types).

    TODO, the rest of what users call on Binance's and Bybit's connectors (same names, same models;
    lotusx.exchanges.binance.connector has each): get_ticker, get_trades, get_instruments,
    get_order, get_open_orders, get_fills, get_fee_rates, get_balances, cancel_all_orders,
    amend_order, place_orders, cancel_orders, amend_orders, withdraw, and on derivatives get_positions /
    watch_positions.
    """

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.rest = parts.rest
        self.metrics = parts.metrics

    async def get_server_time(self) -> int:
        """Venue time in milliseconds."""
        return (await self.rest.get(ep.TIME.path, endpoint=ep.TIME, type=s.ServerTime)).serverTime

    async def get_order_book(self, symbol: str, depth: int = 100) -> OrderBook:
        """A REST snapshot of ``depth`` levels per side, best first."""
        raw = await self.rest.get(ep.DEPTH.path, {"symbol": symbol, "limit": depth}, endpoint=ep.DEPTH, type=s.Depth)
        return OrderBook(symbol=symbol, sequence=raw.lastUpdateId, bids=Levels(raw.bids), asks=Levels(raw.asks))

    async def place_order(self, order: NewOrder) -> Order:
        """Place ``order``; its client order id (generated when missing) is what makes a retry safe."""
        cid = order.client_order_id or client_order_id()
        query = pairs([("symbol", order.symbol), ("side", order.side), ("type", order.type),
                       ("timeInForce", order.time_in_force), ("quantity", order.quantity), ("price", order.price),
                       ("newClientOrderId", cid)])
        request = Request(method="POST", path=ep.PLACE_ORDER.path, query=query, endpoint=ep.PLACE_ORDER,
                          ext={"client_order_id": cid})
        return _order(await self.rest.call(request, s.OrderResult))

    async def cancel_order(self, symbol: str, *, order_id: str | int) -> Order:
        """Cancel by the venue's order id."""
        return _order(await self.rest.delete(ep.CANCEL_ORDER.path, {"symbol": symbol, "orderId": order_id},
                                             endpoint=ep.CANCEL_ORDER, type=s.OrderResult))

    async def aclose(self) -> None:
        """Close the REST pool."""
        await self.rest.aclose()

    async def __aenter__(self) -> __Venue__:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"__Venue__({self.rest!r})"


def _order(r: s.OrderResult) -> Order:
    side = SIDES.get(r.side)
    if side is None:  # an Order saying "buy" would pass every check that compares with "BUY"
        raise DecodeError(f"__venue__ order side {r.side[:20]!r} is not in SIDES (__package__/connector.py): "
                          "add the venue's spelling")
    # A status not in the table is passed on as the venue spells it: the order exists, whatever its word.
    return Order(order_id=str(r.orderId), client_order_id=r.clientOrderId, symbol=r.symbol, side=side, type=r.type,
                 status=STATUSES.get(r.status, r.status), price=r.price, quantity=r.origQty,
                 filled_quantity=r.executedQty)
'''

FILES["tests/test___package__.py"] = '''\
"""__Venue__ against a fake venue (lotusx.testing.FakeTransport): offline, no sockets."""

from __future__ import annotations

import hashlib
import hmac
import json
import tomllib
from decimal import Decimal
from importlib.metadata import EntryPoint
from pathlib import Path

import lotusx
import pytest
from lotusx import Credentials, NewOrder, Request, Response
from lotusx.testing import FakeTransport, check_venue

from __package__ import VENUE

KEY, SECRET = "test-key-0000000000001", "test-secret-00000000001"
ORDER = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.01"),
                 price=Decimal("100"))


def signed_by_us(request: Request) -> bool:
    """Our key, and a signature the venue would accept from our secret.

    TODO: the venue's scheme, as __package__.signer signs; here the hex HMAC-SHA256 of the query
    before ``&signature=`` (and the body), the key in X-__VENUE__-APIKEY.
    """
    unsigned, _, signature = request.query_string.rpartition("&signature=")
    expected = hmac.new(SECRET.encode(), unsigned.encode() + (request.body or b""), hashlib.sha256).hexdigest()
    return request.header("X-__VENUE__-APIKEY") == KEY and hmac.compare_digest(signature, expected)


def fake_venue(request: Request) -> Response:
    """Answers as the venue documents it (TODO: keep these in step with the real payloads)."""
    if request.path == "/api/v1/time":
        return Response(status=200, body=b'{"serverTime": 1700000000000}')
    if request.path == "/api/v1/depth":
        return Response(status=200, body=b'{"lastUpdateId": 7, "bids": [["100.5", "2"]], "asks": [["100.6", "3"]]}')
    if request.path == "/api/v1/order" and request.method == "GET":
        # A lookup by client id (a reconcile hook's) finds nothing here: the lost answer below stays
        # lost. TODO: the venue's "no such order" answer.
        return Response(status=400, body=b'{"code": 2001, "msg": "unknown order"}')
    if request.path == "/api/v1/order":
        asked = dict(request.query)
        if not signed_by_us(request):
            return Response(status=401, body=b'{"code": 1001, "msg": "invalid key or signature"}')
        order = {"orderId": 1, "clientOrderId": asked.get("newClientOrderId", "c"), "symbol": asked["symbol"],
                 "side": asked.get("side", "BUY"), "type": asked.get("type", "LIMIT"),
                 "status": "NEW" if request.method == "POST" else "CANCELED",
                 "price": asked.get("price", "100"), "origQty": asked.get("quantity", "1"), "executedQty": "0"}
        return Response(status=200, body=json.dumps(order).encode())
    return Response(status=404)


# The common API (lotusx.testing.conformance) this connector has not written yet: take each off once written.
LACKS = {name: "TODO" for name in ("get_ticker", "get_trades", "get_order", "get_open_orders", "get_balances",
                                   "watch_order_book", "watch_trades", "watch_orders")}


def test_the_declaration_keeps_the_rules_every_venue_keeps() -> None:
    """Pools and costs, each write's idempotency, a signer that never sends its secret, the common API's calls."""
    check_venue(VENUE, lacks=LACKS)


def test_lotusx_connect_finds_this_venue_by_its_name() -> None:
    """pyproject.toml registers VENUE under VENUE.name: what lotusx.connect("__venue__") loads once installed."""
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    registered = pyproject["project"]["entry-points"]["lotusx.exchanges"]
    assert {name: EntryPoint(name, value, "lotusx.exchanges").load() for name, value in registered.items()} == {
        VENUE.name: VENUE}


async def test_a_book_and_an_order_placed_and_cancelled() -> None:
    """The declaration wires a working connector: exact book, signed order, typed answers."""
    transport = FakeTransport(fake_venue)
    async with lotusx.connect(VENUE, credentials=Credentials(KEY, SECRET), transport=transport) as ex:
        book = await ex.get_order_book("BTCUSDT", depth=5)
        assert book.best_bid == (Decimal("100.5"), Decimal("2"))
        order = await ex.place_order(ORDER)
        assert (order.status, order.quantity) == ("NEW", Decimal("0.01"))
        cancelled = await ex.cancel_order("BTCUSDT", order_id=order.order_id)
        assert cancelled.status == "CANCELED"
    placed = next(r for r in transport.requests if r.method == "POST")
    assert dict(placed.query)["newClientOrderId"] == order.client_order_id  # the id a lost answer is found by


async def test_a_venue_error_is_typed() -> None:
    """A key the venue refuses: its error body becomes the typed LotusXError, with the venue's code."""
    async with lotusx.connect(VENUE, credentials=Credentials(KEY + "x", SECRET),
                              transport=FakeTransport(fake_venue)) as ex:
        with pytest.raises(lotusx.AuthenticationError) as refused:
            await ex.cancel_order("BTCUSDT", order_id=1)
    assert refused.value.code == 1001


async def test_an_order_whose_answer_is_lost_is_never_sent_twice() -> None:
    """A 503 on placement may have executed: never re-sent, the order is reported ambiguous (its client id kept).

    Holds with a reconcile hook too, as long as the fake venue cannot find the order.
    """
    def answer_lost(request: Request) -> Response:
        return Response(status=503) if request.method == "POST" else fake_venue(request)

    transport = FakeTransport(answer_lost)
    async with lotusx.connect(VENUE, credentials=Credentials(KEY, SECRET), transport=transport) as ex:
        with pytest.raises(lotusx.AmbiguousOrderState) as lost:
            await ex.place_order(ORDER)
    placed = [r for r in transport.requests if r.method == "POST"]
    assert len(placed) == 1
    assert lost.value.client_order_id == dict(placed[0].query)["newClientOrderId"]
'''

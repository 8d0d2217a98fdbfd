"""The mistakes a new user makes first: each is a ConfigError saying what to do, before anything is sent."""

from __future__ import annotations

import asyncio
import warnings
from decimal import Decimal
from typing import Any

import pytest

import lotusx
from lotusx import ConfigError, Credentials, Request, Response, RestClient, Service, Timeout, around, stack
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.bybit import Bybit
from lotusx.testing import FakeClock, FakeTransport, FakeWs
from lotusx.ws import Backoff, ReconnectWs

CREDS = Credentials(api_key="mistake-test-key-0001", secret="mistake-test-secret-0001")
BOOK = b'{"lastUpdateId":7,"bids":[["1.5","2"]],"asks":[["1.6","3"]]}'


def binance(request: Request) -> Response:
    """A fake Binance that knows the server time and a book."""
    if request.path == "/api/v3/time":
        return Response(status=200, body=b'{"serverTime": 1700000000000}')
    return Response(status=200, body=BOOK)


def connect(**options: Any) -> lotusx.connect:
    options.setdefault("transport", FakeTransport(binance))
    return lotusx.connect("binance", clock=FakeClock(), **options)


async def tag(request: Request, call_next: Service) -> Response:
    return await call_next(request.with_headers(("X-Tag", "1")))


async def tag_with_default(request: Request, call_next: Service | None = None) -> Response:
    raise AssertionError("never called")


@pytest.mark.parametrize(("options", "says"), [
    ({"credentials": ("key", "secret")}, r"credentials must be lotusx.Credentials\(api_key=.*\), got tuple"),
    ({"outer": around(tag)}, r"outer= takes a sequence of layers, e.g. outer=\[around\(my_middleware\)\]"),
    ({"inner": [tag]}, r"tag is not a layer .* a middleware `async def mw\(request, call_next\)` goes in as around"),
    ({"outer": [tag_with_default]}, "tag_with_default is not a layer: it returned coroutine, not a service"),
    ({"ws_url": "127.0.0.1:9443"}, "ws_url must be a base URL starting ws:// or wss://"),
    ({"ws_api_url": "https://ws-api.example"}, "ws_api_url must be a base URL starting ws:// or wss://"),
    ({"rate_limit_storage": "memroy://"}, r"use memory://, or redis://host:6379 to share limits"),
    ({"rest_url": "127.0.0.1:8080"}, r"rest_url must be a base URL starting http:// or https:// \(scheme://host\[:port\]\)"),
])
async def test_a_wrong_option_is_refused_at_connect(options: dict[str, Any], says: str) -> None:
    """Refused when the connector is opened, not at the first call or stream, and saying what to pass."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine a middleware returned is closed, never "never awaited"
        with pytest.raises(ConfigError, match=says):
            async with connect(**options):
                pass


@pytest.mark.parametrize(("fields", "says"), [
    ({"api_key": "", "secret": "s"}, "Credentials: api_key is empty"),
    ({"api_key": "k" * 16, "secret": None}, r"Credentials: secret is None \(an environment variable not set\?\)"),
])
def test_missing_credentials_are_refused_when_made(fields: dict[str, Any], says: str) -> None:
    """An empty key, or a secret read from an unset environment variable, fails at Credentials()."""
    with pytest.raises(ConfigError, match=says):
        Credentials(**fields)


async def test_a_signed_call_without_credentials_says_to_pass_them_and_sends_nothing() -> None:
    """Not an unsigned request the venue answers with "API-key format invalid": nothing leaves."""
    transport = FakeTransport(binance)
    async with connect(transport=transport) as ex:
        with pytest.raises(ConfigError, match=r"needs an API key, .* pass credentials=lotusx.Credentials"):
            await ex.get_balances()
        with pytest.raises(ConfigError, match="pass credentials="):
            await ex.place_order(lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                                 quantity=Decimal("1"), price=Decimal("1")))
        with pytest.raises(ConfigError, match=r"the user data stream .* needs an API key"):
            await anext(ex.watch_orders())
        await ex.get_order_book("BTCUSDT", depth=5)  # public calls are fine
    assert [r.path for r in transport.requests] == ["/api/v3/depth"]


async def test_a_closed_connector_refuses_calls_and_streams_and_stays_closed() -> None:
    """After its `async with` block: a ConfigError, never a silently reopened (and leaked) pool or socket."""
    transport = FakeTransport(binance)
    async with connect(transport=transport, credentials=CREDS) as ex:
        await ex.get_order_book("BTCUSDT", depth=5)
    sent = len(transport.requests)
    with pytest.raises(ConfigError, match="this client is closed"):
        await ex.get_order_book("BTCUSDT", depth=5)
    with pytest.raises(ConfigError, match=r"this binance connector is closed .* open a new one"):
        await anext(ex.watch_order_book("BTCUSDT"))
    with pytest.raises(ConfigError, match="this binance connector is closed"):
        await ex.subscribe(["btcusdt@trade"])
    with pytest.raises(ConfigError, match="this binance connector is closed"):
        await anext(ex.watch_orders())
    assert len(transport.requests) == sent


async def test_a_closed_rest_client_refuses_calls() -> None:
    """RestClient too: a call after its `async with` block is a ConfigError."""
    async with RestClient(FakeTransport(binance)) as client:
        assert not client.closed
    assert client.closed
    with pytest.raises(ConfigError, match="closed"):
        await client.get("/api/v3/depth")


@pytest.mark.parametrize("venue", ["binance", "bybit"])
@pytest.mark.parametrize(("call", "says"), [
    (lambda ex: ex.get_order_book("BTCUSDT", depth=0), "depth must be a whole number >= 1, got 0"),
    (lambda ex: ex.get_order_book("BTCUSDT", depth=-1), "depth must be a whole number >= 1, got -1"),
    (lambda ex: ex.get_trades("BTCUSDT", limit=0), "limit must be a whole number >= 1, got 0"),
    (lambda ex: anext(ex.watch_order_book("BTCUSDT", depth=0)), r"depth must be .* \(or None: every level\), got 0"),
])
async def test_a_depth_or_limit_below_one_is_refused(venue: str, call: Any, says: str) -> None:
    """depth=0 would have been an empty book, silently (the venue's own bounds are the venue's to tell)."""
    transport = FakeTransport(binance)
    async with lotusx.connect(venue, transport=transport, clock=FakeClock()) as ex:
        with pytest.raises(ConfigError, match=says):
            await call(ex)
    assert transport.requests == []


@pytest.mark.parametrize("connector", [Binance, Bybit])
def test_a_connector_built_by_hand_from_a_rest_client_says_how_to_customise_it(connector: Any) -> None:
    """Binance(rest) is not how a connector is built: the error names outer=/inner=/transport=."""
    with pytest.raises(ConfigError, match=r"takes the Parts that lotusx.connect builds, got RestClient: .* outer="):
        connector(RestClient(FakeTransport(binance)))


async def test_the_connectors_stack_repr_names_every_layer_and_its_config() -> None:
    """No `<function ...>` or `<locals>` in the stack a user prints: the reconcile query and classifiers by name."""
    async with connect(credentials=CREDS, outer=[around(tag)]) as ex:
        shown = repr(ex.rest.layers)
    assert shown.startswith("stack(around(tag), Retry(policy=RetryPolicy(max_attempts=3")
    assert "reconcile=lotusx.exchanges.binance.reconcile" in shown
    assert shown.endswith("MapErrors(chain(venue_errors, http_errors)))")
    assert "<function" not in shown and "<locals>" not in shown


async def test_without_credentials_the_stack_shows_where_signed_calls_stop() -> None:
    """The credential-less stack shows NoCredentials where ClockSync would be: nothing signed is charged or sent."""
    async with connect() as ex:
        names = [type(layer).__name__ for layer in ex.rest.layers]
    assert names == ["Retry", "NoCredentials", "RateLimit", "Trace", "MapErrors"]


def test_a_session_passed_where_its_factory_goes_is_refused() -> None:
    """ReconnectWs(FakeWs()) (or AiohttpWs(url)) is refused at once, showing the factory form."""
    with pytest.raises(ConfigError, match=r"e.g. ReconnectWs\(lambda: AiohttpWs\(url\), ...\), got a FakeWs"):
        ReconnectWs(FakeWs())  # type: ignore[arg-type]


async def test_a_subscribe_that_never_connected_says_why() -> None:
    """No answer in time because no connection ever opened: the Timeout carries the last connect failure."""
    async with ReconnectWs(lambda: FakeWs(fail_connect=1), backoff=Backoff(base=0.01, cap=0.01),
                           subscribe_timeout=0.2) as ws:
        with pytest.raises(Timeout, match=r"no connection to the venue within 0.2 s, .* FakeWs: connect refused"):
            await ws.subscribe(["btcusdt@trade"])


async def test_stack_keeps_a_plain_layer_and_its_service() -> None:
    """The checks cost nothing to a real layer: stack(around(mw)) still builds and runs."""
    service = stack(around(tag))(FakeTransport(lambda request: Response(status=200, body=b"{}")))
    assert (await asyncio.wait_for(service(Request(method="GET", path="/x")), 1)).status == 200


@pytest.mark.parametrize("venue", ["binance", "bybit"])
async def test_closing_the_connector_ends_the_streams_it_opened(venue: str) -> None:
    """A watcher in another task ends (its `async for` finishes) when the connector's `async with` block does."""
    from lotusx.sim import serve

    async def drain(stream: Any) -> int:
        count = 0
        async for _ in stream:
            count += 1
        return count

    async with serve(venues=(venue,)) as sim:
        keys = sim.api_keys(venue)
        async with lotusx.connect(venue, credentials=Credentials(api_key=keys.hmac_key, secret=keys.hmac_secret),
                                  rest_url=sim.rest_url(venue), ws_url=sim.ws_url(venue)) as ex:
            watchers = [asyncio.create_task(drain(ex.watch_order_book("BTCUSDT"))),
                        asyncio.create_task(drain(ex.watch_trades("BTCUSDT"))),
                        asyncio.create_task(drain(ex.watch_orders()))]
            await asyncio.sleep(0.5)
            assert not any(watcher.done() for watcher in watchers)
            assert len(ex.parts.streams) == 3
        counts = await asyncio.wait_for(asyncio.gather(*watchers), 5)
    assert counts[0] > 0


async def test_connect_used_without_async_with_says_how_to_use_it() -> None:
    """`ex = lotusx.connect(...)` then `ex.get_order_book`, or `await lotusx.connect(...)`: the `async with` form."""
    opening = lotusx.connect("binance", transport=FakeTransport(binance))
    with pytest.raises(ConfigError, match=r"`async with lotusx.connect\(...\) as ex:`, then ex.get_order_book"):
        opening.get_order_book  # noqa: B018
    assert not hasattr(opening, "get_order_book")  # still an AttributeError to introspection
    with pytest.raises(ConfigError, match=r"is not awaited: use `async with lotusx.connect"):
        await opening

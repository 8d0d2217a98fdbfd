"""lotusx.connect: venue lookup, the canonical stack, outer/inner user layers, pool overrides."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest

import lotusx
from lotusx import ConfigError, Credentials, Request, Response, Service, around
from lotusx.exchanges.binance.endpoints import ACCOUNT
from lotusx.layers.limiter import Pool
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, FakeTransport
from lotusx.venue import find_venue

CREDS = Credentials(api_key="venue-test-key-0001", secret="venue-test-secret-0001")


def venue_app(statuses: list[int]):  # type: ignore[no-untyped-def]
    """A fake Binance: server time, and depth answers scripted by ``statuses``."""

    def handler(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        status = statuses.pop(0) if statuses else 200
        body = b'{"lastUpdateId":7,"bids":[["1.5","2"]],"asks":[["1.6","3"]]}' if status == 200 else b"{}"
        return Response(status=status, body=body)

    return handler


def counting(seen: list[str], name: str):  # type: ignore[no-untyped-def]
    async def middleware(request: Request, call_next: Service) -> Response:
        seen.append(name)
        return await call_next(request)

    middleware.__qualname__ = name
    return around(middleware)


async def test_connect_finds_the_venue_by_entry_point_name() -> None:
    """connect("binance") builds the connector over an injected transport."""
    transport = FakeTransport(venue_app([]))
    async with lotusx.connect("binance", transport=transport, clock=FakeClock()) as ex:
        book = await ex.get_order_book("BTCUSDT", depth=5)
    assert book.sequence == 7 and str(book.bids[0][0]) == "1.5"
    assert transport.requests[0].query == (("symbol", "BTCUSDT"), ("limit", "5"))
    assert transport.closed


async def test_outer_layers_see_one_call_and_inner_layers_every_attempt() -> None:
    """A 503 then a 200: the outer layer runs once, the inner layer twice."""
    seen: list[str] = []
    async with lotusx.connect("binance", transport=FakeTransport(venue_app([503])), clock=FakeClock(),
                              outer=[counting(seen, "outer")], inner=[counting(seen, "inner")]) as ex:
        await ex.get_order_book("BTCUSDT", depth=5)
        layers = repr(ex.rest.layers)
    assert seen == ["outer", "inner", "inner"]
    assert layers.startswith("stack(around(outer), Retry(") and "Trace(exchange='binance'" in layers
    assert layers.index("around(inner)") < layers.index("MapErrors(")


async def test_rate_limit_overrides_replace_a_pool() -> None:
    """rate_limits replaces a named pool; an unknown pool name is a ConfigError."""
    async with lotusx.connect("binance", transport=FakeTransport(venue_app([])), clock=FakeClock(),
                              rate_limits={"REQUEST_WEIGHT": [Pool("REQUEST_WEIGHT", 10, 60)]}, max_wait=1.0) as ex:
        assert "REQUEST_WEIGHT 10/60s" in repr(ex.rest.layers)
        assert "REQUEST_WEIGHT 6000/60s" not in repr(ex.rest.layers)
        await ex.get_order_book("BTCUSDT", depth=5)  # weight 5 + 5 fits in 10
        await ex.get_order_book("BTCUSDT", depth=5)
        with pytest.raises(lotusx.RateLimited):
            await ex.get_order_book("BTCUSDT", depth=5)  # the window is full and max_wait is exceeded
    with pytest.raises(ConfigError, match="unknown pools"):
        async with lotusx.connect("binance", transport=FakeTransport(venue_app([])),
                                  rate_limits={"NOPE": [Pool("NOPE", 1, 1)]}):
            pass


async def test_signed_calls_carry_the_key_and_a_signature() -> None:
    """With credentials, signed endpoints are signed at the synced venue time."""
    transport = FakeTransport(lambda r: Response(status=200, body=b'{"serverTime": 1700000000000}')
                              if r.path == "/api/v3/time" else Response(status=200, body=b'{"balances": []}'))
    async with lotusx.connect("binance", credentials=CREDS, transport=transport, clock=FakeClock()) as ex:
        assert await ex.get_balances() == {}
    sent = transport.requests[-1]
    assert sent.header("X-MBX-APIKEY") == CREDS.api_key
    assert sent.query[-1][0] == "signature" and ("timestamp", "1700000000000") in sent.query


async def test_the_ws_api_url_is_the_venues_own_by_default() -> None:
    """With no URL given, Binance's WebSocket API base is the real one (the connector appends /ws-api/v3)."""
    async with lotusx.connect("binance", transport=FakeTransport(venue_app([])), clock=FakeClock()) as ex:
        assert ex.parts.ws_api_url == "wss://ws-api.binance.com:443"


async def test_the_ws_api_url_can_be_given() -> None:
    """ws_api_url=... overrides the venue's WebSocket API base, like ws_url does the streams' base."""
    async with lotusx.connect("binance", transport=FakeTransport(venue_app([])), clock=FakeClock(),
                              ws_url="ws://127.0.0.1:1", ws_api_url="ws://127.0.0.1:2/") as ex:
        assert (ex.parts.ws_url, ex.parts.ws_api_url) == ("ws://127.0.0.1:1", "ws://127.0.0.1:2")


async def test_a_given_ws_url_stands_in_for_a_missing_ws_api_url() -> None:
    """Pointed at a test server by ws_url alone, the connector never opens the real venue's WebSocket API."""
    async with lotusx.connect("binance", transport=FakeTransport(venue_app([])), clock=FakeClock(),
                              ws_url="ws://127.0.0.1:1") as ex:
        assert ex.parts.ws_api_url == "ws://127.0.0.1:1"


def test_unknown_venue_is_a_config_error() -> None:
    """An unknown venue name lists the installed ones."""
    with pytest.raises(ConfigError, match="binance"):
        find_venue("no-such-venue")


def test_bybit_linear_is_found_by_name() -> None:
    """"bybit-linear" resolves to the linear declaration of the Bybit venue."""
    from lotusx.exchanges.bybit import VENUE_LINEAR

    assert find_venue("bybit-linear") is VENUE_LINEAR


async def test_trace_logs_the_usage_headers_the_venue_declares() -> None:
    """The venue's usage-header names reach Trace, so each attempt logs the venue's counters."""
    from structlog.testing import capture_logs

    def handler(request: Request) -> Response:
        return Response(status=200, body=b'{"lastUpdateId":7,"bids":[],"asks":[]}',
                        headers={"X-MBX-USED-WEIGHT-1M": "5", "Server": "sim"})

    with capture_logs() as logs:
        async with lotusx.connect("binance", transport=FakeTransport(handler), clock=FakeClock()) as ex:
            await ex.get_order_book("BTCUSDT", depth=5)
    traced = [entry for entry in logs if entry["event"] == "rest.request"]
    assert traced[0]["rate_limit"] == {"x-mbx-used-weight-1m": "5"}


def weighing_venue(clock: FakeClock, weights: Counter[int], *, skew: float = 0.0, rejections: int = 0):  # type: ignore[no-untyped-def]
    """A fake Binance that counts REQUEST_WEIGHT per minute of its own clock (``skew`` ahead of ours).

    It reports no usage headers, so only charging can keep the limiter honest; it rejects the
    first ``rejections`` account calls with -1021 (timestamp outside recvWindow).
    """

    def handler(request: Request) -> Response:
        venue_now = clock.time() + skew
        weights[int(venue_now // 60)] += WEIGHTS[request.path]
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": %d}' % int(venue_now * 1000))
        if weights["rejected"] < rejections:
            weights["rejected"] += 1
            return Response(status=400, body=b'{"code":-1021,"msg":"Timestamp outside of the recvWindow."}')
        return Response(status=200, body=b'{"balances": []}')

    return handler


WEIGHTS = {"/api/v3/time": 1, "/api/v3/account": 20}  # GET /api/v3/account is weight 20


def budget(weight: int) -> dict[str, list[Pool]]:
    return {"REQUEST_WEIGHT": [Pool("REQUEST_WEIGHT", weight, 60)]}


async def test_clock_sync_samples_are_charged_to_the_limiter() -> None:
    """Five server-time samples (weight 5) plus the account call (20) do not fit a budget of 24."""
    clock, weights = FakeClock(1_700_000_040.0), Counter[int]()
    async with lotusx.connect("binance", credentials=CREDS, transport=FakeTransport(weighing_venue(clock, weights)),
                              clock=clock, rate_limits=budget(24), max_wait=0.0) as ex:
        with pytest.raises(lotusx.RateLimited):
            await ex.get_balances()
    assert weights[int(clock.time() // 60)] == 5


async def test_a_resend_after_a_timestamp_rejection_is_charged_to_the_limiter() -> None:
    """ClockSync's re-send goes through RateLimit: 5 + 20, a resync's 5, then 20 more would pass 40."""
    clock, weights = FakeClock(1_700_000_040.0), Counter[int]()
    venue = weighing_venue(clock, weights, rejections=1)
    async with lotusx.connect("binance", credentials=CREDS, transport=FakeTransport(venue), clock=clock,
                              rate_limits=budget(40), max_wait=0.0) as ex:
        with pytest.raises(lotusx.RateLimited):
            await ex.get_balances()
    assert weights[int(clock.time() // 60)] == 30


async def test_the_limiters_windows_follow_the_venues_clock() -> None:
    """Once synced to a venue 2 s ahead of us, no venue minute receives more than the budget of 40."""
    clock, weights = FakeClock(1_700_000_040.0 + 10.0), Counter[int]()
    venue = weighing_venue(clock, weights, skew=2.0)
    async with lotusx.connect("binance", credentials=CREDS, transport=FakeTransport(venue), clock=clock,
                              rate_limits=budget(40), max_wait=0.0) as ex:
        await ex.get_balances()  # the first signed call syncs the clock
        for at in (58.5, 58.6, 60.3, 60.4):  # local times; all in the venue's next minute
            await clock.advance(1_700_000_040.0 + at - clock.time())
            with contextlib.suppress(lotusx.RateLimited):
                await ex.get_balances()
    assert max(weights.values()) <= 40, weights


def account_query() -> Request:
    """GET /api/v3/account (weight 20) as a connector sends it through ``Parts.signed``."""
    return Request(method="GET", path=ACCOUNT.path, endpoint=ACCOUNT)


async def test_calls_through_the_unretried_signed_service_are_charged_to_the_limiter() -> None:
    """Parts.signed (reconcile queries) charges the shared limiter: 5 + 20 there, then 20 more would pass 44."""
    clock, weights = FakeClock(1_700_000_040.0), Counter[int]()
    async with lotusx.connect("binance", credentials=CREDS, transport=FakeTransport(weighing_venue(clock, weights)),
                              clock=clock, rate_limits=budget(44), max_wait=0.0) as ex:
        await ex.parts.signed(account_query())
        with pytest.raises(lotusx.RateLimited):
            await ex.get_balances()
    assert weights[int(clock.time() // 60)] == 25


async def test_calls_through_the_unretried_signed_service_are_traced() -> None:
    """A reconcile query through Parts.signed shows in lotusx_requests_total like any other request."""
    metrics = Metrics()

    def handler(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000040000}')
        return Response(status=200, body=b'{"balances": []}')

    async with lotusx.connect("binance", credentials=CREDS, transport=FakeTransport(handler),
                              clock=FakeClock(1_700_000_040.0), metrics=metrics) as ex:
        await ex.parts.signed(account_query())
    labels = {"exchange": "binance", "endpoint": "account", "status_class": "2xx"}
    assert metrics.registry.get_sample_value("lotusx_requests_total", labels) == 1


async def test_the_unretried_signed_service_learns_from_usage_headers() -> None:
    """A venue count of 40 read from a Parts.signed answer leaves no room for a weight-20 call in 40."""

    def handler(request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000040000}')
        return Response(status=200, body=b'{"balances": []}', headers={"X-MBX-USED-WEIGHT-1M": "40"})

    async with lotusx.connect("binance", credentials=CREDS, transport=FakeTransport(handler),
                              clock=FakeClock(1_700_000_040.0), rate_limits=budget(40), max_wait=0.0) as ex:
        await ex.parts.signed(account_query())
        with pytest.raises(lotusx.RateLimited):
            await ex.get_balances()


@pytest.mark.parametrize("api_key", ["key-from-a-file\n", " padded-key", "in\x00side-key"])
def test_an_api_key_with_whitespace_or_a_control_character_is_a_config_error(api_key: str) -> None:
    """A key read with its newline fails at Credentials(), naming the field and never the value."""
    with pytest.raises(lotusx.ConfigError, match="api_key") as info:
        lotusx.Credentials(api_key=api_key, secret="s" * 64)
    assert api_key.strip() not in str(info.value)


def test_a_passphrase_with_a_trailing_newline_is_a_config_error() -> None:
    """The passphrase travels in a header too: the same check."""
    with pytest.raises(lotusx.ConfigError, match="passphrase"):
        lotusx.Credentials(api_key="k" * 64, secret="s" * 64, passphrase="pass-phrase\r\n")


def test_a_pem_secret_keeps_its_newlines() -> None:
    """Secrets are not checked: an Ed25519 key in PEM form is lines of text."""
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
    assert lotusx.Credentials(api_key="k" * 64, secret=pem).secret == pem

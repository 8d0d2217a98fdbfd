"""The RateLimit layer: charge before calling, learn from usage headers, cool off on pushback."""

from __future__ import annotations

import asyncio

import pytest
from limits.aio.storage import MemoryStorage

from lotusx.kernel.errors import ConfigError, InvalidRequest, IpBanned, RateLimited
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.kernel.service import stack
from lotusx.layers.ratelimit import Limiter, Pool, RateLimit, RemainingHeader, Usage, UsedHeader, UsedHeaders
from lotusx.metrics import Metrics
from lotusx.testing import FakeClock, ScriptedService

T0 = 1_700_000_040.0  # a whole minute since the epoch
WEIGHT = Pool("REQUEST_WEIGHT", 20, 60)
ORDERS_10S = Pool("ORDERS", 5, 10)
ORDERS_1D = Pool("ORDERS", 100, 86_400)
ORDER = Endpoint("new_order", "POST", "/api/v3/order", costs={"REQUEST_WEIGHT": 1, "ORDERS": 1}, signed=True)
DEPTH = Endpoint("depth", "GET", "/api/v3/depth", costs={"REQUEST_WEIGHT": 5})
# Header names from https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
BINANCE_USAGE = (UsedHeader("X-MBX-USED-WEIGHT-", "REQUEST_WEIGHT"), UsedHeader("X-MBX-ORDER-COUNT-", "ORDERS"))
# Header names from https://bybit-exchange.github.io/docs/v5/rate-limit
BYBIT_USAGE = (RemainingHeader("X-Bapi-Limit-Status", "X-Bapi-Limit", "X-Bapi-Limit-Reset-Timestamp", "ORDERS"),)
OK = Response(status=200, body=b"{}")


def request(endpoint: Endpoint) -> Request:
    return Request(method=endpoint.method, path=endpoint.path, endpoint=endpoint)


def limiter(clock: FakeClock, max_wait: float = 120.0, metrics: Metrics | None = None) -> Limiter:
    return Limiter([WEIGHT, ORDERS_10S, ORDERS_1D], key="test", clock=clock, max_wait=max_wait, guard=0.0,
                   metrics=metrics, exchange="demo")


async def test_charges_the_endpoint_costs_and_calls_inner() -> None:
    """Each call charges its endpoint's costs to every pool, then reaches the inner service."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    inner = ScriptedService([OK, OK])
    service = RateLimit(lim)(inner)
    await service(request(ORDER))
    await service(request(DEPTH))
    assert len(inner.requests) == 2
    assert [await lim.used(p) for p in (WEIGHT, ORDERS_10S, ORDERS_1D)] == [6, 1, 1]


async def test_waits_for_the_window_then_proceeds() -> None:
    """A call that does not fit sleeps until the window resets and is then sent."""
    clock = FakeClock(T0 + 30)
    inner = ScriptedService([OK] * 5)
    service = RateLimit(limiter(clock))(inner)
    for _ in range(5):
        await service(request(DEPTH))
    assert clock.slept == [pytest.approx(30.0)]
    assert len(inner.requests) == 5


async def test_exceeding_max_wait_raises_rate_limited_and_never_sends() -> None:
    """It never fires and hopes: beyond max_wait the call fails locally, unsent."""
    clock = FakeClock(T0 + 30)
    inner = ScriptedService([OK] * 4)
    service = RateLimit(limiter(clock, max_wait=10.0))(inner)
    for _ in range(4):
        await service(request(DEPTH))
    with pytest.raises(RateLimited) as caught:
        await service(request(DEPTH))
    assert caught.value.pool == "REQUEST_WEIGHT"
    assert len(inner.requests) == 4


async def test_undeclared_pool_in_endpoint_costs_is_a_config_error() -> None:
    """An endpoint charging a pool the limiter lacks fails before it is sent."""
    inner = ScriptedService([])
    service = RateLimit(limiter(FakeClock(T0)))(inner)
    with pytest.raises(ConfigError, match="RAW_REQUESTS"):
        await service(request(Endpoint("x", costs={"RAW_REQUESTS": 1})))
    assert inner.requests == []


async def test_used_weight_header_pulls_the_count_up() -> None:
    """X-MBX-USED-WEIGHT-1M above our count raises the 60 s REQUEST_WEIGHT window to it."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    inner = ScriptedService([Response(status=200, headers={"X-MBX-USED-WEIGHT-1M": "17"})])
    await RateLimit(lim, usage=BINANCE_USAGE)(inner)(request(DEPTH))
    assert await lim.used(WEIGHT) == 17


async def test_used_header_never_pulls_the_count_down() -> None:
    """A venue count below ours leaves ours as it is."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    inner = ScriptedService([Response(status=200, headers={"x-mbx-used-weight-1m": "1"})])
    await RateLimit(lim, usage=BINANCE_USAGE)(inner)(request(DEPTH))
    assert await lim.used(WEIGHT) == 5


async def test_order_count_headers_update_the_window_they_name() -> None:
    """X-MBX-ORDER-COUNT-10S and -1D feed the 10 s and the daily ORDERS pools separately."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    headers = {"X-MBX-ORDER-COUNT-10S": "3", "X-MBX-ORDER-COUNT-1D": "42", "X-MBX-USED-WEIGHT-1M": "2"}
    inner = ScriptedService([Response(status=200, headers=headers)])
    await RateLimit(lim, usage=BINANCE_USAGE)(inner)(request(ORDER))
    assert [await lim.used(p) for p in (WEIGHT, ORDERS_10S, ORDERS_1D)] == [2, 3, 42]


async def test_malformed_or_unmatched_usage_headers_are_ignored() -> None:
    """Junk values, unknown intervals and windows we do not track leave counts untouched."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    headers = {"X-MBX-USED-WEIGHT-1M": "lots", "X-MBX-USED-WEIGHT-1Y": "9", "X-MBX-USED-WEIGHT-5M": "9"}
    inner = ScriptedService([Response(status=200, headers=headers)])
    await RateLimit(lim, usage=BINANCE_USAGE)(inner)(request(DEPTH))
    assert await lim.used(WEIGHT) == 5


async def test_remaining_header_pulls_up_to_limit_minus_remaining() -> None:
    """Bybit's remaining and limit headers give the used count of the pool."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    headers = {"X-Bapi-Limit-Status": "1", "X-Bapi-Limit": "5", "X-Bapi-Limit-Reset-Timestamp": str(int(T0 * 1000))}
    inner = ScriptedService([Response(status=200, headers=headers)])
    await RateLimit(lim, usage=BYBIT_USAGE)(inner)(request(ORDER))
    assert await lim.used(ORDERS_10S) == 4
    assert clock.slept == []


async def test_remaining_zero_cools_the_pool_off_until_the_reset_timestamp() -> None:
    """An exhausted Bybit pool holds its next call until X-Bapi-Limit-Reset-Timestamp."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    reset_ms = str(int((T0 + 2.5) * 1000))
    headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "5", "X-Bapi-Limit-Reset-Timestamp": reset_ms}
    inner = ScriptedService([Response(status=200, headers=headers), OK])
    service = RateLimit(lim, usage=BYBIT_USAGE)(inner)
    await service(request(ORDER))
    await service(request(ORDER))
    assert clock.slept[0] == pytest.approx(2.5)


async def test_remaining_header_absent_changes_nothing() -> None:
    """A response without the headers is not a usage report."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    await RateLimit(lim, usage=BYBIT_USAGE)(ScriptedService([OK]))(request(ORDER))
    assert await lim.used(ORDERS_10S) == 1


async def test_429_cools_off_only_that_requests_pools_and_is_reraised() -> None:
    """RateLimited from the venue holds back its own pools for retry_after; other pools flow."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    inner = ScriptedService([RateLimited("429", retry_after=7.0), OK, OK])
    service = RateLimit(lim)(inner)
    with pytest.raises(RateLimited):
        await service(request(Endpoint("o", costs={"ORDERS": 1})))
    await service(request(DEPTH))
    assert clock.slept == []
    await service(request(Endpoint("o", costs={"ORDERS": 1})))
    assert clock.slept == [pytest.approx(7.0)]


async def test_429_naming_a_pool_cools_off_just_that_pool() -> None:
    """When the venue says which pool overflowed, only that pool waits."""
    clock = FakeClock(T0)
    inner = ScriptedService([RateLimited("429", retry_after=3.0, pool="ORDERS"), OK, OK])
    service = RateLimit(limiter(clock))(inner)
    with pytest.raises(RateLimited):
        await service(request(ORDER))
    await service(request(DEPTH))
    await service(request(ORDER))
    assert clock.slept == [pytest.approx(3.0)]


async def test_429_naming_an_undeclared_pool_cools_off_the_requests_pools() -> None:
    """A pool name we do not track falls back to the pools the request charged."""
    clock = FakeClock(T0)
    inner = ScriptedService([RateLimited("429", retry_after=3.0, pool="RAW_REQUESTS"), OK, OK])
    service = RateLimit(limiter(clock))(inner)
    with pytest.raises(RateLimited):
        await service(request(DEPTH))
    await service(request(Endpoint("o", costs={"ORDERS": 1})))
    assert clock.slept == []
    await service(request(DEPTH))
    assert clock.slept == [pytest.approx(3.0)]


async def test_429_on_a_free_endpoint_cools_off_every_pool() -> None:
    """Throttled on a call that charges nothing, we hold back everything rather than guess."""
    clock = FakeClock(T0)
    inner = ScriptedService([RateLimited("429", retry_after=2.0), OK])
    service = RateLimit(limiter(clock))(inner)
    with pytest.raises(RateLimited):
        await service(request(Endpoint("ping")))
    await service(request(Endpoint("o", costs={"ORDERS": 1})))
    assert clock.slept == [pytest.approx(2.0)]


async def test_usage_headers_on_an_error_response_are_learned_too() -> None:
    """A 429 response's X-MBX-USED-WEIGHT-1M still pulls the local count up."""
    clock = FakeClock(T0)
    lim = limiter(clock)
    throttled = Response(status=429, headers={"X-MBX-USED-WEIGHT-1M": "19", "Retry-After": "1"})
    inner = ScriptedService([RateLimited("429", retry_after=1.0, response=throttled)])
    with pytest.raises(RateLimited):
        await RateLimit(lim, usage=BINANCE_USAGE)(inner)(request(DEPTH))
    assert await lim.used(WEIGHT) == 19


async def test_other_errors_pass_through_without_cool_off() -> None:
    """A non-throttle error is re-raised and leaves every pool open."""
    clock = FakeClock(T0)
    inner = ScriptedService([InvalidRequest("400"), OK])
    service = RateLimit(limiter(clock))(inner)
    with pytest.raises(InvalidRequest):
        await service(request(DEPTH))
    await service(request(DEPTH))
    assert clock.slept == []


async def test_418_cools_off_every_pool_until_the_ban_ends() -> None:
    """IpBanned holds back every pool of the key, even ones the banned call never used."""
    clock = FakeClock(T0)
    inner = ScriptedService([IpBanned("418", retry_after=40.0), OK])
    service = RateLimit(limiter(clock))(inner)
    with pytest.raises(IpBanned):
        await service(request(DEPTH))
    await service(request(Endpoint("o", costs={"ORDERS": 1})))
    assert clock.slept == [pytest.approx(40.0)]


async def test_418_without_retry_after_uses_ban_seconds() -> None:
    """A ban of unknown length lasts ``ban_seconds``; past max_wait the call fails as IpBanned."""
    clock = FakeClock(T0)
    inner = ScriptedService([IpBanned("418")])
    service = RateLimit(limiter(clock, max_wait=60.0), ban_seconds=300.0)(inner)
    with pytest.raises(IpBanned):
        await service(request(DEPTH))
    with pytest.raises(IpBanned) as caught:
        await service(request(DEPTH))
    assert caught.value.retry_after == pytest.approx(300.0)
    assert len(inner.requests) == 1


async def test_venue_pushback_is_counted_as_venue_throttling() -> None:
    """rate_limited{source="venue"} counts 429s per pool."""
    clock = FakeClock(T0)
    metrics = Metrics()
    inner = ScriptedService([RateLimited("429", retry_after=1.0)])
    with pytest.raises(RateLimited):
        await RateLimit(limiter(clock, metrics=metrics))(inner)(request(DEPTH))
    labels = {"exchange": "demo", "pool": "REQUEST_WEIGHT", "source": "venue"}
    assert metrics.registry.get_sample_value("lotusx_rate_limited_total", labels) == 1


def test_repr_shows_pools_and_storage_without_the_password() -> None:
    """repr(stack) lets a user see the pools and where they are counted, never the secret."""
    lim = Limiter([WEIGHT, ORDERS_10S], "redis://user:pa55word@10.0.0.1:6379/2", key="binance")
    text = repr(stack(RateLimit(lim, usage=BINANCE_USAGE)))
    assert "REQUEST_WEIGHT 20/60s" in text
    assert "redis://user:***@10.0.0.1:6379/2" in text
    assert "UsedHeader(prefix='X-MBX-USED-WEIGHT-', pool='REQUEST_WEIGHT')" in text
    assert "pa55word" not in text


def test_used_header_matches_names_case_insensitively() -> None:
    """Any case of the family's names maps to its window; other names to None."""
    parser = UsedHeader("X-MBX-USED-WEIGHT-", "REQUEST_WEIGHT")
    assert [parser.window(n) for n in ("x-mbx-used-weight-1m", "X-MBX-USED-WEIGHT-1M", "X-MBX-USED-WEIGHT-2h",
                                       "X-MBX-USED-WEIGHT-", "X-MBX-USED-WEIGHT-1W", "Date")] == [
        60, 60, 7200, None, None, None]
    assert parser == UsedHeader("X-MBX-USED-WEIGHT-", "REQUEST_WEIGHT")  # the reader is not part of equality


def test_used_headers_remember_a_bounded_number_of_names() -> None:
    """A venue inventing header names on every answer cannot grow the name memo without bound."""
    reader = UsedHeaders(*BINANCE_USAGE)
    for i in range(1000):
        assert reader.read(Response(status=200, headers={f"X-Invented-{i}": "1"})) == []
    answer = Response(status=200, headers={"X-MBX-USED-WEIGHT-1M": "7", "X-MBX-ORDER-COUNT-10S": "2"})
    assert reader.read(answer) == [Usage("REQUEST_WEIGHT", 7, per_seconds=60), Usage("ORDERS", 2, per_seconds=10)]
    assert len(reader._hits) == 256


class CountedHeaders(dict[str, str]):
    """Response headers counting the walks over them."""

    walks = 0

    def items(self):  # type: ignore[override]
        self.walks += 1
        return super().items()


async def test_rate_limit_reads_all_used_header_families_in_one_walk() -> None:
    """Binance's weight and order-count families are read in one pass over the headers, not one each."""
    headers = CountedHeaders({"Date": "x", "X-MBX-USED-WEIGHT-1M": "3", "X-MBX-ORDER-COUNT-10S": "2"})
    lim = Limiter([WEIGHT, ORDERS_10S], "memory://", clock=FakeClock(T0))
    service = RateLimit(lim, usage=BINANCE_USAGE)(ScriptedService([Response(status=200, headers=headers)]))
    await service(request(ORDER))
    assert await lim.used(WEIGHT) == 3 and await lim.used(ORDERS_10S) == 2
    assert headers.walks == 1


class ReadLog:
    """A usage parser noting each response it reads."""

    names = ("X-Read",)

    def __init__(self) -> None:
        self.read_from: list[Response] = []

    def read(self, response: Response) -> list[Usage]:
        self.read_from.append(response)
        return []


async def test_memory_learns_from_a_good_answer_after_handing_it_back() -> None:
    """memory://: the caller has the answer first; the usage headers are read at the loop's next turn."""
    parser = ReadLog()
    answer = await RateLimit(limiter(FakeClock(T0)), usage=(parser,))(ScriptedService([OK]))(request(DEPTH))
    assert answer is OK and parser.read_from == []
    await asyncio.sleep(0)
    assert parser.read_from == [OK]


async def test_other_storage_learns_before_handing_the_answer_back() -> None:
    """A storage other processes may read learns first: they see the venue's count at once."""
    parser = ReadLog()
    lim = Limiter([WEIGHT], storage=MemoryStorage(), key="test", clock=FakeClock(T0), guard=0.0)
    await RateLimit(lim, usage=(parser,))(ScriptedService([OK]))(request(DEPTH))
    assert parser.read_from == [OK]


async def test_an_error_answer_is_learned_from_before_it_is_raised() -> None:
    """A refusal's usage headers are in before the caller sees the error (it may retry at once)."""
    parser = ReadLog()
    refused = Response(status=400, body=b"{}")
    inner = ScriptedService([InvalidRequest("bad", response=refused)])
    with pytest.raises(InvalidRequest):
        await RateLimit(limiter(FakeClock(T0)), usage=(parser,))(inner)(request(DEPTH))
    assert parser.read_from == [refused]


async def test_a_call_waiting_for_room_heeds_an_answer_that_came_in_while_it_slept() -> None:
    """memory://: a waiting call re-checks only after learning what answers meanwhile reported."""
    clock = FakeClock(T0, auto_advance=False)
    lim = limiter(clock)
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    reset_ms = str(int((T0 + 30) * 1000))
    exhausted = Response(status=200, headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "5",
                                              "X-Bapi-Limit-Reset-Timestamp": reset_ms})
    sent: list[float] = []

    async def venue(_: Request) -> Response:
        sent.append(clock.time())
        if len(sent) == 1:
            await gate  # the first order's answer (ORDERS exhausted until T0 + 30) is on its way
            return exhausted
        return OK

    service = RateLimit(lim, usage=BYBIT_USAGE)(venue)
    await lim.acquire({"ORDERS": 4})
    first = asyncio.ensure_future(service(request(ORDER)))  # the fifth order of the 10 s window
    second = asyncio.ensure_future(service(request(ORDER)))  # waits for the next 10 s window
    await clock.advance(0)
    gate.set_result(None)  # the answer arrives as the second order's wait ends
    await clock.advance(10.5)
    assert sent == [T0]  # not sent into the venue's reset time
    await clock.advance(19.5)
    await asyncio.gather(first, second)
    assert sent == [T0, pytest.approx(T0 + 30)]


async def test_an_answer_learned_after_a_boundary_counts_in_the_window_it_came_in() -> None:
    """memory://: a report the loop gets to only after the minute turned fills its own minute, not the next."""
    clock = FakeClock(T0 + 59.5)
    lim = limiter(clock)
    full = Response(status=200, headers={"X-MBX-USED-WEIGHT-1M": "20"})
    service = RateLimit(lim, usage=BINANCE_USAGE)(ScriptedService([full, OK]))
    await service(request(DEPTH))
    await clock.advance(1.0)  # the loop was busy: its next turn comes a second later
    await service(request(DEPTH))
    assert clock.slept == []
    assert await lim.used(WEIGHT) == 5


@pytest.mark.parametrize("ban_seconds", [float("nan"), float("inf"), -1.0])
def test_a_ban_length_that_is_no_number_of_seconds_is_refused_when_built(ban_seconds: float) -> None:
    """ban_seconds NaN, infinite or negative is a ConfigError at once, not a ban dropped on the first 418."""
    with pytest.raises(ConfigError, match="ban_seconds"):
        RateLimit(limiter(FakeClock(T0)), ban_seconds=ban_seconds)

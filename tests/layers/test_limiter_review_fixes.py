"""The limiter against odd venue times, failing storage, bad settings and reports near a boundary."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest
from redis_server import RedisServer, free_port

from lotusx.kernel.classify import http_errors
from lotusx.kernel.errors import ConfigError, ConnectError, IpBanned, RateLimited
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.limiter import MAX_COOL_OFF
from lotusx.layers.ratelimit import Limiter, Pool, RateLimit, RemainingHeader, Usage, UsedHeader
from lotusx.testing import FakeClock, ScriptedService

T0 = 1_700_000_040.0  # a whole minute since the epoch
WEIGHT = Pool("REQUEST_WEIGHT", 10, 60)
CREATE = Pool("order_create", 10, 1)
ORDER = Endpoint("order_create", "POST", "/v5/order/create", costs={"REQUEST_WEIGHT": 1, "order_create": 1},
                 signed=True)
BINANCE = (UsedHeader("X-MBX-USED-WEIGHT-", "REQUEST_WEIGHT"),)
# Header names from https://bybit-exchange.github.io/docs/v5/rate-limit
BYBIT = (RemainingHeader("X-Bapi-Limit-Status", "X-Bapi-Limit", "X-Bapi-Limit-Reset-Timestamp", "<endpoint>"),)
PLACED = Response(status=200, body=b'{"orderId":1}', headers={"X-MBX-USED-WEIGHT-1M": "4"})


def request() -> Request:
    return Request(method=ORDER.method, path=ORDER.path, endpoint=ORDER)


def limiter(clock: FakeClock, storage: str = "memory://", max_wait: float = 30.0) -> Limiter:
    return Limiter([WEIGHT, CREATE], storage, key="t", clock=clock, guard=0.0, max_wait=max_wait)


def throttled(retry_after: str, status: int = 429) -> RateLimited:
    error = http_errors(request(), Response(status=status, headers={"Retry-After": retry_after}))
    assert isinstance(error, RateLimited)
    return error


# ===== venue times =====

async def test_a_garbled_reset_timestamp_does_not_lose_a_placed_order() -> None:
    """A 400-digit X-Bapi-Limit-Reset-Timestamp is ignored; the order's 200 reaches the caller."""
    lim = limiter(FakeClock(T0))
    headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10", "X-Bapi-Limit-Reset-Timestamp": "9" * 400}
    placed = Response(status=200, body=b'{"retCode":0}', headers=headers)
    assert await RateLimit(lim, usage=BYBIT)(ScriptedService([placed]))(request()) is placed
    assert await lim.used(CREATE) == 10  # still learned: the endpoint's window is full


async def test_an_infinite_retry_after_cools_off_until_the_window_resets() -> None:
    """Retry-After 1e999 (inf) counts as no Retry-After: the pools reopen with the venue's next window."""
    clock = FakeClock(T0 + 30)
    lim = limiter(clock)
    with pytest.raises(RateLimited):
        await RateLimit(lim)(ScriptedService([throttled("1e999")]))(request())
    await lim.acquire(ORDER.costs)  # the 1 s order_create window decides: a 1 s wait
    assert clock.slept == [pytest.approx(1.0)]


async def test_an_infinite_retry_after_on_an_ip_ban_lasts_ban_seconds() -> None:
    """A 418 with Retry-After inf bans for ``ban_seconds``, as a 418 without Retry-After does."""
    clock = FakeClock(T0)
    lim = limiter(clock, max_wait=0.0)
    with pytest.raises(IpBanned):
        await RateLimit(lim, ban_seconds=300.0)(ScriptedService([throttled("inf", status=418)]))(request())
    with pytest.raises(IpBanned) as caught:
        await lim.acquire(ORDER.costs)
    assert caught.value.retry_after == pytest.approx(300.0)


@pytest.mark.parametrize("seconds", [float("nan"), -5.0])
async def test_a_nan_or_negative_cool_off_lasts_until_the_window_resets(seconds: float) -> None:
    """Nonsense seconds count as none given: the cool-off ends with the pool's current window."""
    clock = FakeClock(T0 + 0.5)
    lim = Limiter([WEIGHT], clock=clock, guard=0.0, max_wait=0.0)
    await lim.cool_off(["REQUEST_WEIGHT"], seconds)
    with pytest.raises(RateLimited) as caught:
        await lim.acquire({"REQUEST_WEIGHT": 1})
    assert caught.value.retry_after == pytest.approx(59.5)


async def test_a_cool_off_never_exceeds_the_cap() -> None:
    """A Retry-After of 1e300 s cools off for MAX_COOL_OFF (three days, Binance's longest ban)."""
    clock = FakeClock(T0)
    lim = limiter(clock, max_wait=0.0)
    await lim.cool_off(None, 1e300)
    with pytest.raises(IpBanned) as caught:
        await lim.acquire(ORDER.costs)
    assert caught.value.retry_after == pytest.approx(MAX_COOL_OFF) == 3 * 86_400


@pytest.mark.redis
async def test_an_infinite_retry_after_on_redis_reraises_the_venue_error(redis: RedisServer) -> None:
    """With Redis storage the 429 with Retry-After inf still reaches the caller as the venue's error."""
    error = throttled("1e999")
    with pytest.raises(RateLimited) as caught:
        await RateLimit(limiter(FakeClock(T0), redis.url))(ScriptedService([error]))(request())
    assert caught.value is error


@pytest.mark.redis
async def test_an_ip_ban_in_redis_holds_back_another_processs_call_that_charges_nothing(redis: RedisServer) -> None:
    """The 418 one process got bans the IP for all of them: another's call without costs is refused too."""
    await limiter(FakeClock(T0), redis.url).cool_off(None, 120.0)
    clock = FakeClock(T0)
    with pytest.raises(IpBanned):
        await limiter(clock, redis.url).acquire({})
    assert clock.slept == []


# ===== storage failures =====

@pytest.mark.redis
async def test_a_placed_order_is_returned_when_redis_drops_while_it_is_in_flight(redis: RedisServer) -> None:
    """Learning from the 200 fails on the dead storage; the caller still gets the venue's answer."""
    lim = limiter(FakeClock(T0), redis.url, max_wait=1.0)

    def venue(_: Request) -> Response:
        redis.stop()
        return PLACED

    assert await RateLimit(lim, usage=BINANCE)(ScriptedService([venue]))(request()) is PLACED
    assert lim.learning_failures == 1


@pytest.mark.redis
async def test_a_venue_error_is_reraised_when_redis_drops_while_it_is_in_flight(redis: RedisServer) -> None:
    """A 429 arriving after Redis died is re-raised as is, and this process still cools off."""
    lim = limiter(FakeClock(T0), redis.url, max_wait=0.0)
    error = throttled("120")

    def venue(_: Request) -> Response:
        redis.stop()
        raise error

    with pytest.raises(RateLimited) as caught:
        await RateLimit(lim, usage=BINANCE)(ScriptedService([venue]))(request())
    assert caught.value is error
    with pytest.raises(RateLimited) as cooling:  # refused by the local cool-off, before any storage call
        await lim.acquire(ORDER.costs)
    assert cooling.value.retry_after == pytest.approx(120.0)


@pytest.mark.redis
async def test_a_used_count_beyond_64_bits_is_learned_as_a_full_window(redis: RedisServer) -> None:
    """X-MBX-USED-WEIGHT-1M: 99999999999999999999 fills the window instead of failing in Redis."""
    lim = limiter(FakeClock(T0), redis.url, max_wait=1.0)
    placed = Response(status=200, body=b"{}", headers={"X-MBX-USED-WEIGHT-1M": "9" * 20})
    assert await RateLimit(lim, usage=BINANCE)(ScriptedService([placed]))(request()) is placed
    assert await lim.used(WEIGHT) == WEIGHT.limit
    assert lim.learning_failures == 0


async def test_a_failing_usage_parser_does_not_lose_the_response() -> None:
    """A connector's parser that raises is counted as a learning failure; the response is returned."""

    class Broken:
        names = ("X-Broken",)

        def read(self, response: Response) -> Iterator[Usage]:
            raise ArithmeticError("garbled")

    lim = limiter(FakeClock(T0))
    assert await RateLimit(lim, usage=(Broken(),))(ScriptedService([PLACED]))(request()) is PLACED
    await asyncio.sleep(0)  # memory:// learns at the loop's next turn
    assert lim.learning_failures == 1


async def test_an_unreachable_redis_is_a_connect_error_without_the_password() -> None:
    """acquire on a Redis nobody listens on raises ConnectError (nothing sent), password masked."""
    lim = Limiter([WEIGHT], f"redis://:s3cret@127.0.0.1:{free_port()}", key="t", max_wait=1.0)
    with pytest.raises(ConnectError) as caught:
        await lim.acquire({"REQUEST_WEIGHT": 1})
    assert "s3cret" not in str(caught.value) and ":***@127.0.0.1" in str(caught.value)


@pytest.mark.parametrize("learn", [lambda lim: lim.cool_off(None, 10.0),
                                   lambda lim: lim.sync(Usage("REQUEST_WEIGHT", 3))])
async def test_learning_on_an_unreachable_redis_is_a_connect_error_without_the_password(
        learn: Callable[[Limiter], Awaitable[None]]) -> None:
    """A ban or a venue count written by a Redis script fails as acquire does: ConnectError, password masked."""
    lim = Limiter([WEIGHT], f"redis://:s3cret@127.0.0.1:{free_port()}", key="t")
    with pytest.raises(ConnectError) as caught:
        await learn(lim)
    assert "s3cret" not in str(caught.value) and ":***@127.0.0.1" in str(caught.value)


def test_a_malformed_storage_uri_is_a_config_error_without_the_password() -> None:
    """An unclosed IPv6 bracket is a ConfigError, not urllib's ValueError, and hides the credentials."""
    with pytest.raises(ConfigError) as caught:
        Limiter([WEIGHT], "redis://admin:s3cret@[::1:6379")
    assert "s3cret" not in str(caught.value) and "admin" not in str(caught.value)


# ===== settings =====

@pytest.mark.parametrize("setting", [{"guard": float("nan")}, {"max_wait": float("nan")},
                                     {"guard": float("inf")}, {"max_wait": float("inf")}])
def test_a_nan_or_infinite_setting_is_a_config_error(setting: dict[str, float]) -> None:
    """NaN slips through every comparison and inf waits out a three-day ban: both are refused."""
    with pytest.raises(ConfigError, match="finite"):
        Limiter([WEIGHT], **setting)


def test_pool_parse_of_bad_text_is_a_config_error() -> None:
    """Pool.parse raises ConfigError, naming the pool, for text limits cannot read."""
    with pytest.raises(ConfigError, match="REQUEST_WEIGHT"):
        Pool.parse("REQUEST_WEIGHT", "lots per minute")


# ===== reports near a window boundary =====

async def test_a_report_read_in_the_guard_band_pulls_up_both_windows() -> None:
    """Read 0.1 s before the boundary (guard 0.25 s) the venue may already count the next minute."""
    clock = FakeClock(T0 + 59.9)
    lim = Limiter([WEIGHT], clock=clock, guard=0.25, max_wait=0.0)
    await lim.sync(Usage("REQUEST_WEIGHT", 10, per_seconds=60))
    await clock.advance(0.4)  # past the guard band, inside the next minute
    with pytest.raises(RateLimited):
        await lim.acquire({"REQUEST_WEIGHT": 1})


async def test_a_report_read_in_the_guard_band_pulls_up_memory_counts_without_an_await() -> None:
    """sync_nowait covers both windows of the guard band too."""
    clock = FakeClock(T0 + 60.1)
    lim = Limiter([WEIGHT], clock=clock, guard=0.25, max_wait=0.0)
    assert lim.sync_nowait(Usage("REQUEST_WEIGHT", 7, per_seconds=60))
    await clock.advance(-0.2)  # local clock stepped back into the previous minute
    assert await lim.used(WEIGHT) == 7

"""get_fills / get_order_history: a `since` no history walk can start at is a ConfigError saying why, at once."""

from __future__ import annotations

import time

import pytest

import lotusx
from lotusx.sim import serve

VENUES = ("binance", "bybit")


async def refusal(venue: str, call: str, **kwargs: object) -> tuple[lotusx.ConfigError, int]:
    """The ConfigError of ``ex.<call>("BTCUSDT", **kwargs)`` on the sim, and how many requests went before it."""
    async with serve(venues=(venue,)) as sim:
        keys = sim.api_keys(venue)
        async with lotusx.connect(venue, credentials=lotusx.Credentials(keys.hmac_key, keys.hmac_secret),
                                  rest_url=sim.rest_url(venue)) as ex:
            with pytest.raises(lotusx.ConfigError) as caught:
                await getattr(ex, call)("BTCUSDT", **kwargs)
            sent = int(sum(sample.value for metric in ex.metrics.registry.collect()
                           if metric.name == "lotusx_requests" for sample in metric.samples
                           if sample.name == "lotusx_requests_total"))
    return caught.value, sent


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("call", ["get_fills", "get_order_history"])
async def test_since_in_seconds_is_refused_naming_the_unit(venue: str, call: str) -> None:
    """since=time.time() (seconds, not ms) walks from 1970 in thousands of requests: refused, naming ms."""
    error, sent = await refusal(venue, call, since=int(time.time()))
    assert "in ms" in str(error) and "seconds" in str(error)
    assert sent <= 1  # at most the venue's time, asked to know where "now" is


@pytest.mark.parametrize("venue", VENUES)
async def test_a_float_since_is_a_config_error_not_a_type_error(venue: str) -> None:
    """since=1.7e12 (a float) is refused with what to pass, not a TypeError from range()."""
    error, _ = await refusal(venue, "get_fills", since=time.time() * 1000 - 60_000)
    assert "an int" in str(error)


@pytest.mark.parametrize("venue", VENUES)
async def test_a_negative_since_is_refused_before_the_venue_is_asked(venue: str) -> None:
    """since=-5: a ConfigError here, not the venue's parameter error after a request."""
    error, sent = await refusal(venue, "get_fills", since=-5, until=1000)
    assert "-5" in str(error) and sent == 0

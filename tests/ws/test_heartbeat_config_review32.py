"""A heartbeat that could never tell a live link from a dead one is refused when it is made."""

from __future__ import annotations

import math

import pytest

from lotusx import ConfigError
from lotusx.ws import Heartbeat


@pytest.mark.parametrize("config", [
    {"idle_timeout": 0}, {"idle_timeout": math.nan}, {"idle_timeout": math.inf},
    {"pong_timeout": -1}, {"pong_timeout": math.nan},
    {"interval": 0}, {"interval": math.nan}, {"interval": -5},
])
def test_a_timing_that_is_no_positive_finite_number_is_a_config_error(config: dict[str, float]) -> None:
    """Zero idle (reconnect at once, forever), NaN (a dead link never found), zero interval (a ping storm): refused."""
    with pytest.raises(ConfigError, match="Heartbeat"):
        Heartbeat(**config)


def test_no_pings_at_all_is_still_a_heartbeat() -> None:
    """interval=None (the venue pings, we answer) stays allowed."""
    assert Heartbeat(interval=None, idle_timeout=30).interval is None

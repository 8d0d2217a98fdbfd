"""Backoff refuses delays no sleep can take, as Heartbeat, RetryPolicy and Timeout do."""

import math

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.ws.backoff import Backoff


class TestBackoffRefusesNonsense:
    @pytest.mark.parametrize("field", ["base", "cap", "healthy_after"])
    @pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
    def test_a_negative_nan_or_infinite_delay_is_a_config_error(self, field: str, value: float) -> None:
        """Backoff refuses a delay that is no finite number of seconds >= 0 (a NaN or inf sleep never ends)."""
        with pytest.raises(ConfigError, match=field):
            Backoff(**{field: value})

    def test_zero_delays_stay_allowed(self) -> None:
        """Zero is a valid delay (tests reconnect at once)."""
        assert Backoff(base=0, cap=0, healthy_after=0).delay(3) == 0

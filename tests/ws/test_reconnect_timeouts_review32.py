"""ReconnectWs refuses an ack or subscribe timeout that is no positive finite seconds, as Heartbeat does."""

from __future__ import annotations

import math

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.testing import FakeWs
from lotusx.ws import ReconnectWs


class TestTimeouts:
    @pytest.mark.parametrize("name", ["ack_timeout", "subscribe_timeout"])
    @pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf])
    def test_a_timeout_that_is_no_positive_finite_seconds_is_refused(self, name: str, value: float) -> None:
        """A NaN timeout never fired (asyncio sleeps for ever on NaN): a silent venue hung subscribe() or the shard."""
        with pytest.raises(ConfigError, match=name):
            ReconnectWs(FakeWs, **{name: value})

    def test_positive_timeouts_are_taken(self) -> None:
        """Small positive timeouts stay allowed."""
        ws = ReconnectWs(FakeWs, ack_timeout=0.01, subscribe_timeout=0.01)
        assert (ws.ack_timeout, ws.subscribe_timeout) == (0.01, 0.01)

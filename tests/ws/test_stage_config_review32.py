"""Inflate and Dechunk refuse settings under which they could read no frame, with a ConfigError at construction."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.ws.dechunk import Dechunk
from lotusx.ws.deflate import Inflate


class TestInflateConfig:
    @pytest.mark.parametrize("max_size", [0, -1, math.nan, 1.5])
    def test_a_cap_that_is_no_positive_whole_size_is_refused(self, max_size: Any) -> None:
        """max_size=0 dropped every compressed frame as too large; a NaN failed every large frame with a TypeError."""
        with pytest.raises(ConfigError, match="max_size"):
            Inflate(max_size=max_size)

    def test_an_unknown_mode_is_refused(self) -> None:
        """A mispelt mode ("gz") was judged per frame on the fast path and a KeyError on the slow one."""
        with pytest.raises(ConfigError, match="mode"):
            Inflate(mode="gz")  # type: ignore[arg-type]


class TestDechunkConfig:
    @pytest.mark.parametrize(("field", "value"), [("max_size", 0), ("max_size", -5), ("max_pending", 0),
                                                  ("max_pending", -1), ("max_pending", math.inf)])
    def test_a_cap_that_is_no_positive_whole_number_is_refused(self, field: str, value: Any) -> None:
        """max_pending=0 raised StopIteration on every part (evicting from an empty buffer); max_size=0 dropped all."""
        with pytest.raises(ConfigError, match=field):
            Dechunk(**{field: value})

    def test_an_unknown_split_is_refused(self) -> None:
        """A mispelt split ("line") passed every batch on as one message, which then failed its schema."""
        with pytest.raises(ConfigError, match="split"):
            Dechunk(split="line")  # type: ignore[arg-type]

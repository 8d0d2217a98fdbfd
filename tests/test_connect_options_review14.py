"""Options a user reads from the environment or a config file, wrong, are ConfigErrors saying what to pass."""

from __future__ import annotations

from typing import Any

import pytest

import lotusx


async def _open(**options: Any) -> None:
    async with lotusx.connect("binance", rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1", **options):
        pass


@pytest.mark.parametrize("storage", [None, 6379])
async def test_a_rate_limit_storage_that_is_no_uri_is_a_config_error(storage: object) -> None:
    """rate_limit_storage=None (an unset environment variable) is refused on entering, not an AttributeError later."""
    with pytest.raises(lotusx.ConfigError, match="rate-limit storage"):
        await _open(rate_limit_storage=storage)


async def test_rate_limits_given_a_number_instead_of_pools_is_a_config_error() -> None:
    """rate_limits={'REQUEST_WEIGHT': 600} says it takes Pools, instead of "'int' object is not iterable"."""
    with pytest.raises(lotusx.ConfigError, match="Pool"):
        await _open(rate_limits={"REQUEST_WEIGHT": 600})


async def test_max_wait_given_as_text_is_a_config_error() -> None:
    """max_wait='5' (read from the environment) is refused with ConfigError, not a TypeError from a comparison."""
    with pytest.raises(lotusx.ConfigError, match="max_wait"):
        await _open(max_wait="5")

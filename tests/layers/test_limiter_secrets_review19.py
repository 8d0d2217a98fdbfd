"""Secrets review 19: a storage URI the limiter refuses is an error linking nothing that holds its password."""

from __future__ import annotations

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.layers import Limiter, Pool
from tests.transport.test_transport_secrets_review19 import chain_text


def test_an_unparsable_redis_uri_is_a_config_error_linking_no_password() -> None:
    """limits' own parse error (the whole URI) is not kept as the ConfigError's __context__."""
    with pytest.raises(ConfigError) as refused:
        Limiter([Pool("WEIGHT", 10, 1)], "redis://:hunter2-review19@127.0.0.1:notaport")
    assert "hunter2-review19" not in chain_text(refused.value)

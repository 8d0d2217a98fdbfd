"""A recv window no venue accepts is a ConfigError where the signer is built, not a refusal at every call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lotusx.kernel.errors import ConfigError
from lotusx.signers import BinanceEd25519, BinanceHmac, BybitHmac, HeaderHmac, QueryEd25519, QueryHmac

KEY, SECRET, SEED = "review16-api-key-0123456789", "review16-secret-0123456789", "11" * 32

SIGNERS: dict[str, Callable[[object], object]] = {
    "BinanceHmac": lambda window: BinanceHmac(KEY, SECRET, recv_window=window),  # type: ignore[arg-type]
    "BinanceEd25519": lambda window: BinanceEd25519(KEY, SEED, recv_window=window),  # type: ignore[arg-type]
    "BybitHmac": lambda window: BybitHmac(KEY, SECRET, recv_window=window),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("make", SIGNERS.values(), ids=SIGNERS.keys())
@pytest.mark.parametrize("window", [0, -5000, 5000.0, True, "5000"], ids=repr)
def test_a_recv_window_that_is_no_positive_whole_number_of_ms_is_refused(make: Callable[[object], object],
                                                                      window: object) -> None:
    """Zero would make every call a -1021 / 10002 that reads as clock skew; a float or a str is not the int asked."""
    with pytest.raises(ConfigError, match="recv_window"):
        make(window)


def test_bybit_needs_a_window_it_can_send() -> None:
    """Bybit signs the window it sends in a header: None would be signed and sent as the text 'None'."""
    with pytest.raises(ConfigError, match="recv_window"):
        SIGNERS["BybitHmac"](None)


@pytest.mark.parametrize("make", [SIGNERS["BinanceHmac"], SIGNERS["BinanceEd25519"]], ids=["hmac", "ed25519"])
def test_binance_refuses_a_recv_window_over_its_60000_ms_maximum(make: Callable[[object], object]) -> None:
    """rest-api.md "Timing security": the maximum recvWindow is 60000 ms; 60000 itself is fine."""
    make(60_000)
    with pytest.raises(ConfigError, match="60000"):
        make(60_001)


def test_the_families_take_any_positive_window() -> None:
    """The generic families know no venue's maximum: they only ask for a positive int."""
    assert QueryHmac(KEY, SECRET, recv_window=120_000).recv_window == 120_000
    assert QueryEd25519.from_key(KEY, SEED, recv_window=120_000).recv_window == 120_000
    assert HeaderHmac(KEY, SECRET, recv_window=120_000).recv_window == 120_000

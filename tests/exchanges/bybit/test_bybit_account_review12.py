"""Bybit account streams, review 12: a wallet push carries its creationTime, which orders balances."""

from __future__ import annotations

from bybit_helpers import payload

from lotusx.exchanges.bybit.streams import WalletMessage, bybit_frames
from lotusx.metrics import Metrics


def test_a_wallet_push_is_dated_by_its_creation_time() -> None:
    """The push's "creationTime" (docs v5/websocket/private/wallet) is the time its balances are ordered by."""
    [message] = bybit_frames(Metrics()).run(payload("ws_wallet.json"))
    assert isinstance(message, WalletMessage)
    assert message.time == 1700034722104

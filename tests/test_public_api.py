"""lotusx's public names: what DESIGN §3 promises is importable from the top package, and nothing listed is missing."""

from __future__ import annotations

import lotusx
import lotusx.layers
import lotusx.testing
import lotusx.ws

PROMISED = {
    "connect", "Credentials", "NewOrder", "Order", "OrderBook", "Ticker", "Trade", "Fill", "Balance", "Withdrawal",
    "stack", "around", "RestClient", "Request", "Response", "Service", "Layer", "Middleware", "MapErrors",
    "LotusXError", "ConfigError", "RateLimited", "IpBanned", "InvalidSignature", "TimestampOutOfWindow",
    "InsufficientBalance", "OrderRejected", "AmbiguousOrderState", "Timeout", "Disconnected", "NotFound",
    "Instrument", "OrderOutsideRules",
}


def test_every_listed_name_exists_and_the_promised_ones_are_listed() -> None:
    """__all__ of lotusx, lotusx.layers, lotusx.testing and lotusx.ws name only what is there."""
    for module in (lotusx, lotusx.layers, lotusx.testing, lotusx.ws):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing, (module.__name__, missing)
    assert set(lotusx.__all__) >= PROMISED


def test_every_error_is_a_lotusx_error() -> None:
    """Each error class exported is under LotusXError: `except lotusx.LotusXError` catches them all."""
    errors = [getattr(lotusx, name) for name in lotusx.__all__
              if isinstance(getattr(lotusx, name), type) and issubclass(getattr(lotusx, name), BaseException)]
    assert errors and all(issubclass(error, lotusx.LotusXError) for error in errors)


def test_the_connectors_take_the_same_calls() -> None:
    """Code written for one venue's connector calls the other's the same way (parameter names; defaults may differ)."""
    import inspect

    from lotusx.exchanges.binance import Binance
    from lotusx.exchanges.bybit import Bybit

    shared = {"get_order_book", "get_ticker", "get_trades", "get_instruments", "place_order", "cancel_order",
              "cancel_all_orders", "get_order", "get_open_orders", "get_fills", "get_fee_rates", "get_balances",
              "withdraw",
              "watch_order_book", "watch_order_books",
              "watch_trades", "watch_ticker", "watch_orders", "watch_fills", "watch_balances", "subscribe", "stream",
              "aclose"}
    for name in sorted(shared):
        ours, theirs = (list(inspect.signature(getattr(kind, name)).parameters) for kind in (Binance, Bybit))
        assert ours == theirs, name

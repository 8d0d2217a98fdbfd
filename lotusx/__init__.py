"""LotusX: one composable transport kernel for crypto-exchange connectors.

The public API: ``connect`` (a venue's connector, from its ``Venue`` declaration) and the
models connectors take and return (``Instrument``, ``NewOrder``, ``Amend``, ``Order``, ``CancelledOrder``,
``Fill``, ``FeeRate``, ``OrderBook``, ``Position``, ``Ticker``, ``Trade``, ``Balance``, ``Withdrawal``,
``WithdrawalStatus``); composition (``stack``, ``around``), the
request/response shapes, the ``RestClient`` façade, ``Credentials`` and the error tree rooted at
:class:`LotusXError`.
"""

from lotusx.kernel import *  # noqa: F403
from lotusx.kernel import __all__ as _kernel_all
from lotusx.models import (
    Amend,
    Balance,
    CancelledOrder,
    FeeRate,
    Fill,
    Instrument,
    NewOrder,
    Order,
    OrderBook,
    Position,
    Ticker,
    Trade,
    Withdrawal,
    WithdrawalStatus,
)
from lotusx.venue import Venue, connect

__all__ = [*_kernel_all, "Amend", "Balance", "CancelledOrder", "FeeRate", "Fill", "Instrument", "NewOrder", "Order",
           "OrderBook", "Position", "Ticker", "Trade", "Venue", "Withdrawal", "WithdrawalStatus", "connect"]
__version__ = "0.1.0"

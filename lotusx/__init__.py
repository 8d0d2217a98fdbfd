"""LotusX: one composable transport kernel for crypto-exchange connectors.

The public API: composition (``stack``, ``around``), the request/response shapes, the
``RestClient`` façade, ``Credentials`` and the error tree rooted at :class:`LotusXError`.
"""

from lotusx.kernel import *  # noqa: F403
from lotusx.kernel import __all__ as _kernel_all

__all__ = list(_kernel_all)
__version__ = "0.1.0"

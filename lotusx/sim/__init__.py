"""An embedded exchange simulator speaking the Binance spot and Bybit v5 dialects.

Run bots, tests, examples and benchmarks offline against real loopback sockets::

    async with lotusx.sim.serve(venues=("binance", "bybit"), seed=1, port=0) as sim:
        base = sim.rest_url("binance")          # http://127.0.0.1:<port>; append /api/v3/...
        keys = sim.api_keys("binance")          # the HMAC (and Ed25519) keys it accepts
        sim.chaos("binance").force_429 = 2      # live fault injection
        sim.engine("binance").books["BTCUSDT"]  # books, orders, balances for assertions

Each dialect is written from the venue's public API documentation and verifies signatures
itself (hmac, hashlib, pynacl), never through ``lotusx.signers``.
"""

from lotusx.sim.chaos import Chaos
from lotusx.sim.server import Sim, serve
from lotusx.sim.venue import ApiKeys, Limits, SimConfig

__all__ = ["ApiKeys", "Chaos", "Limits", "Sim", "SimConfig", "serve"]

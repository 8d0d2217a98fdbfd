"""Composable REST layers: retry, rate limit, sign, clock sync, trace, timeout.

Build a stack of your own from these (first listed is outermost)::

    from lotusx import MapErrors, RestClient, stack
    from lotusx.layers import Limiter, Pool, RateLimit, Retry, RetryPolicy, Sign, Trace

    client = RestClient(AiohttpRest(url), stack(Retry(RetryPolicy(max_attempts=3)),
                                                RateLimit(Limiter([Pool("WEIGHT", 1200, 60)])),
                                                Sign(signer), Trace("myvenue"), MapErrors()))

``Timeout`` here is the layer (a per-attempt time limit); the error it raises is
:class:`lotusx.Timeout`.
"""

from lotusx.layers.clock import ClockSync, ServerClock
from lotusx.layers.limiter import Limiter, Pool
from lotusx.layers.ratelimit import RateLimit, RemainingHeader, UsedHeader, UsedHeaders
from lotusx.layers.retry import Retry, RetryPolicy
from lotusx.layers.sign import NoCredentials, Sign
from lotusx.layers.timeout import Deadline, Timeout
from lotusx.layers.trace import Trace

__all__ = [
    "ClockSync", "Deadline", "Limiter", "NoCredentials", "Pool", "RateLimit", "RemainingHeader", "Retry",
    "RetryPolicy", "ServerClock", "Sign", "Timeout", "Trace", "UsedHeader", "UsedHeaders",
]

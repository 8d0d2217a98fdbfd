"""Atomic updates on the Redis behind a ``limits`` storage, for what several processes race on.

Recording a cool-off is a read, then a write: between the two another process may record a
longer one (ours would cut it short) or look at the key while we rewrite it (and send into a
ban). Pulling a count up to the venue's is a read, then a write too, and a process giving
back units lands anywhere around it. A Lua script runs as one step on the server, so nothing
lands in between.

``limits`` owns the connection (URI parsing, the driver, ``wrap_exceptions``) but has no public
way to run a script. This module is the one place that reaches inside it, checked against
limits 5.8.0 with coredis 5.7.0: an async ``RedisStorage`` keeps a ``CoredisBridge`` in
``.bridge``, whose ``get_connection()`` is the coredis client and whose ``prefixed_key()`` names
keys as ``incr``/``get`` do. For any other storage (a Redis cluster too), or a ``limits`` laid
out differently, :meth:`RedisScripts.of` returns ``None`` and the limiter keeps its
non-atomic calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.storage.redis.coredis import CoredisBridge
from limits.errors import StorageError

if TYPE_CHECKING:
    from coredis.commands import Script

# KEYS[1]: a cool-off key; ARGV[1]: how long it lasts, in ms. Create it, or lengthen it, never
# shorten it. PTTL is -1 for a key without expiry: it gets ours rather than lasting forever.
_EXTEND = """
if redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then return 1 end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 0
"""

# A window's count (KEYS[1]) may hold units a process took and is about to give back (its hit
# raced past the limit). So the venue's report is also kept beside it (KEYS[2]): a give-back
# must not take the count below it, whether the report came in before or after the hit.

# ARGV[1]: the count the venue reported, ARGV[2]: the window's expiry in s. Raise the count to
# the report, never lower it; INCRBY keeps a running expiry.
_RAISE = """
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
end
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count < tonumber(ARGV[1]) then
  count = redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]) - count)
  if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
end
return count
"""

# ARGV[1]: the units to give back. A count already gone went with its window: nothing to do.
_GIVE_BACK = """
local count = tonumber(redis.call('GET', KEYS[1]))
if not count then return 0 end
local left = math.max(count - tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[2]) or '0'))
if left ~= count then redis.call('INCRBY', KEYS[1], left - count) end
return left
"""


class RedisScripts:
    """The limiter's atomic updates, run on a ``limits`` Redis storage's own connection."""

    __slots__ = ("_errors", "_extend", "_give_back", "_key", "_raise", "_wrap")

    def __init__(self, storage: RedisStorage, bridge: CoredisBridge) -> None:
        client = bridge.get_connection()
        self._key = bridge.prefixed_key
        # Raised as limits raises its own: wrapped in StorageError when the storage asks for it.
        self._errors = bridge.base_exceptions
        self._wrap = storage.wrap_exceptions
        self._extend = client.register_script(_EXTEND)
        self._raise = client.register_script(_RAISE)
        self._give_back = client.register_script(_GIVE_BACK)

    @staticmethod
    def of(storage: object) -> RedisScripts | None:
        """The scripts for ``storage``; ``None`` unless it is a coredis-backed, non-cluster ``limits`` Redis."""
        # A cluster would refuse a script on a count and its venue report: two keys, two slots.
        if not isinstance(storage, RedisStorage) or isinstance(storage, RedisClusterStorage):
            return None
        bridge = getattr(storage, "bridge", None)
        return RedisScripts(storage, bridge) if isinstance(bridge, CoredisBridge) else None

    async def extend(self, key: str, milliseconds: int) -> None:
        """Make ``key`` exist for at least ``milliseconds`` more, in one step."""
        await self._run(self._extend, [key], milliseconds)

    async def raise_to(self, key: str, count: int, expiry: int) -> int:
        """Raise the count at ``key`` to at least the venue's ``count`` (new keys expire in ``expiry`` s); the count."""
        return await self._run(self._raise, [key, f"{key}/venue"], count, expiry)

    async def give_back(self, key: str, units: int) -> int:
        """Take ``units`` off the count at ``key``, but not below the venue's report for it; the count."""
        return await self._run(self._give_back, [key, f"{key}/venue"], units)

    async def _run(self, script: Script[bytes], keys: list[str], *args: int) -> int:
        try:
            result = await script.execute([self._key(key) for key in keys], args)
        except self._errors as exc:
            if self._wrap:
                raise StorageError(exc) from exc
            raise
        return result if isinstance(result, int) else 0  # a Lua number comes back as an integer

"""Atomic updates on the Redis behind a ``limits`` storage, for what several processes race on.

Charging a request is a look at its cool-offs and windows, then a hit on each window: between
the two another process may take the last units (our hit would overshoot the limit, and have
to be given back). Recording a cool-off is a read, then a write: between the two another
process may record a longer one (ours would cut it short) or look at the key while we rewrite
it (and send into a ban). Pulling a count up to the venue's is a read, then a write too, and
a process giving back units lands anywhere around it. A Lua script runs as one step on the
server, so nothing lands in between.

``limits`` owns the connection (URI parsing, the driver, ``wrap_exceptions``) but has no public
way to run a script. This module is the one place that reaches inside it, checked against
limits 5.8.0 with coredis 5.7.0: an async ``RedisStorage`` keeps a ``CoredisBridge`` in
``.bridge``, whose ``get_connection()`` is the coredis client and whose ``prefixed_key()`` names
keys as ``incr``/``get`` do. For any other storage (a Redis cluster too), or a ``limits`` laid
out differently, :meth:`RedisScripts.of` returns ``None`` and the limiter keeps its
non-atomic calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, cast

from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.storage.redis.coredis import CoredisBridge
from limits.errors import StorageError

if TYPE_CHECKING:
    from coredis.commands import Script

TRIES = 3
"""How many times a bounded pool's call tries what sends no command: its wait for a free connection, a connect.

coredis' ``Redis.from_url`` tried a whole call three times (``ConstantRetryPolicy``, two more
tries), its command with it, which could charge an acquire twice: the client tries a command
once now (:meth:`RedisScripts.bound`). A wait and a connect keep their three tries: a burst
queues on the pool (2000 acquires on 32 connections, each waiting its turn), and on a loop busy
with it (or a loaded machine) a connect can time out though Redis took it at once."""

TakeCall = tuple[tuple[str, ...], tuple[int, ...]]
"""What :meth:`RedisScripts.take` sends: the storage's keys and the script's arguments."""

# KEYS[1]: a cool-off key; ARGV[1]: how long it lasts, in ms. Create it, or lengthen it, never
# shorten it. PTTL is -1 for a key without expiry: it gets ours rather than lasting forever.
_EXTEND = """
if redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then return 1 end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: the cool-off keys to honour, then the window keys to charge. ARGV[1]: how many cool-off
# keys; then, per window key, its cost, limit and expiry in s. All or nothing: a cool-off still
# running refuses with {1, its position, its PTTL in ms} (-1: no expiry), a window the cost does
# not fit in refuses with {2, its position}; else every window is charged: {0, each new count}.
# One call per request instead of a read and a write per key, and nothing to give back.
_TAKE = """
local cools = tonumber(ARGV[1])
for i = 1, cools do
  local left = redis.call('PTTL', KEYS[i])
  if left ~= -2 then return {1, i, left} end
end
local windows = #KEYS - cools
for i = 1, windows do
  local count = tonumber(redis.call('GET', KEYS[cools + i]) or '0')
  if count + tonumber(ARGV[3 * i - 1]) > tonumber(ARGV[3 * i]) then return {2, i} end
end
local counts = {0}
for i = 1, windows do
  local key = KEYS[cools + i]
  counts[i + 1] = redis.call('INCRBY', key, ARGV[3 * i - 1])
  if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, ARGV[3 * i + 1]) end
end
return counts
"""

# A window's count (KEYS[1]) may hold units a process of an earlier version took and is about
# to give back (its hit raced past the limit; ``_TAKE`` never does). Those processes keep the
# venue's report beside the count (KEYS[2]) and give back no lower than it, so it is still kept.

# KEYS: per window, its count's key and its venue report's key; ARGV: per window, the count the
# venue reported and the window's expiry in s. Raise each count to its report, never lower it;
# INCRBY keeps a running expiry. The counts, in order.
_RAISE = """
local counts = {}
for i = 1, #KEYS / 2 do
  local key, report, expiry = KEYS[2 * i - 1], ARGV[2 * i - 1], ARGV[2 * i]
  local used = tonumber(report)
  if tonumber(redis.call('GET', KEYS[2 * i]) or '0') < used then
    redis.call('SET', KEYS[2 * i], report, 'EX', expiry)
  end
  local count = tonumber(redis.call('GET', key) or '0')
  if count < used then
    count = redis.call('INCRBY', key, used - count)
    if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, expiry) end
  end
  counts[i] = count
end
return counts
"""


async def _load_scripts(connection: Any) -> None:
    """Load the limiter's scripts on a connection just made, before it carries a call.

    Calls share a connection (coredis sends and hands it back before the answer), and coredis
    drops a connection that an error answer came on: a NOSCRIPT (a Redis that restarted, or
    was never asked before) would take the answers of the calls sharing it along, and those
    calls fail (their scripts may have run: they are not sent again, see
    :meth:`RedisScripts.bound`). Loading first, there is no NOSCRIPT.
    """
    for script in (_TAKE, _EXTEND, _RAISE):
        await (await connection.create_request(b"SCRIPT LOAD", script))


def _loading(kind: type[Any]) -> type[Any]:
    """``kind`` of connection (TCP, TLS, unix, a sentinel's primary), loading our scripts as it connects,
    its previous socket closed first.

    A connect is tried :data:`TRIES` times: it sends the handshake and loads the scripts, which
    Redis may run again, but no command of a call.

    coredis hands a connection back to its pool as soon as a command is sent, and a call whose
    reply times out disconnects it; asyncio closes the socket on the loop's next turn, not at
    once (a TLS one after the server's goodbye). A call already due in this turn took the
    connection and connected it again: for that turn the connection held two sockets (on a busy
    loop, where every turn runs many such calls, a pool bounded at 32 held up to 64 at once), and
    the old socket's end then dropped the new one. A coredis connection is its own asyncio
    protocol (``BaseConnection(asyncio.BaseProtocol)``): we count the sockets it was given and
    has not lost, and before connecting, abort one still closing and wait for it to go, a loop
    turn. The wait is bounded by the connect timeout, after which we connect all the same (a
    call is never failed for it); the connect's own timeout starts after it.
    """
    from coredis import exceptions  # with the `redis` extra, as in RedisScripts

    class Loading(kind):  # type: ignore[misc]  # a class only known at run time
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.register_connect_callback(_load_scripts)
            self._wait_for_close: float | None = kwargs.get("connect_timeout")
            self.sockets = 0  # given by asyncio and not lost yet: the one connected, and one closing
            self._socket: asyncio.Transport | None = None  # the latest
            self._no_socket = asyncio.Event()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.sockets += 1
            self._socket = cast("asyncio.Transport", transport)  # a stream's, as coredis casts it too
            self._no_socket.clear()
            super().connection_made(transport)

        def connection_lost(self, exc: BaseException | None) -> None:
            self.sockets -= 1
            if not self.sockets:
                self._no_socket.set()
            super().connection_lost(exc)

        async def connect(self) -> None:
            for tries_left in reversed(range(TRIES)):
                await self._closed()
                try:
                    return await super().connect()  # type: ignore[no-any-return]
                except (exceptions.ConnectionError, exceptions.TimeoutError):
                    self.disconnect()  # what the failed try left open (a handshake that timed out)
                    if not tries_left:
                        raise

        async def _closed(self) -> None:
            """Abort the previous socket if it is still closing, and wait (a loop turn) until it is closed."""
            if not self.sockets or self._socket is None or not self._socket.is_closing():
                return
            self._socket.abort()  # at once: a TLS socket would first wait for the server's goodbye
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._wait_for_close):
                    await self._no_socket.wait()

    return Loading


def _cluster_sending_once() -> dict[str, object]:
    """A coredis ``RedisCluster``'s ``retry_policy`` and ``connection_class``: a command that may have run is sent
    once, a connect that failed is tried again.

    coredis 5.7.0's ``RedisCluster.execute_command`` runs each call under its ``retry_policy``,
    by default ``CompositeRetryPolicy(ConstantRetryPolicy((ClusterDownError,), 2, 0.1),
    ConstantRetryPolicy((ConnectionError, TimeoutError), 2, 0.1))``: an ``INCRBY`` whose reply
    timed out (``TimeoutError``) or whose connection dropped after it was sent (``ConnectionError``)
    had run all the same, and each try charged the acquire again (three times in all). The slot
    map does not need those tries: a ``MOVED``, ``ASK`` or ``TRYAGAIN`` answer (the node refused
    the command) is followed in ``_execute_command_on_single_node``'s own loop whatever the policy,
    and a ``ConnectionError`` or ``ClusterDownError`` marks the map for a refresh in the policy's
    failure hooks (``on_connection_error``, ``on_cluster_down_error``), which a
    ``CompositeRetryPolicy`` calls whether it tries again or not: the next call finds the new map.

    coredis raises the same ``ConnectionError`` for a connect refused and for a connection lost
    after the command went out, so the connection tells them apart: its ``connect()`` (a public
    method, which a call runs before it sends anything) raises a failure as ``NotConnected``, a
    ``ConnectionError`` still (the hook refreshes the map). The policy keeps coredis' tries for
    ``ClusterDownError`` (an error answer: nothing ran) and ``NotConnected``, and nothing else: a
    reply that timed out or a connection lost once the command was sent is the limiter's
    ``ConnectError``, once.
    """
    from coredis import exceptions  # with the `redis` extra, as in RedisScripts
    from coredis.connection import ClusterConnection
    from coredis.retry import CompositeRetryPolicy, ConstantRetryPolicy

    class NotConnected(exceptions.ConnectionError):
        """A connect that failed: the call sent nothing on it."""

    class Connecting(ClusterConnection):
        async def connect(self) -> None:
            try:
                await super().connect()
            except (exceptions.ConnectionError, exceptions.TimeoutError) as exc:  # a handshake's is a TimeoutError
                self.disconnect()  # what the failed try left open
                raise NotConnected(str(exc)) from exc

    policy = CompositeRetryPolicy(ConstantRetryPolicy((exceptions.ClusterDownError,), TRIES - 1, 0.1),
                                  ConstantRetryPolicy((NotConnected,), TRIES - 1, 0.1))
    return {"retry_policy": policy, "connection_class": Connecting}


class RedisScripts:
    """The limiter's atomic updates, run on a ``limits`` Redis storage's own connection."""

    __slots__ = ("_client", "_errors", "_extend", "_key", "_no_script", "_raise", "_take", "_wrap")

    def __init__(self, storage: RedisStorage, bridge: CoredisBridge) -> None:
        # Imported here, not at the top: coredis comes with the `redis` extra, and a
        # CoredisBridge (the only way in) exists only when it is installed.
        from coredis.exceptions import NoScriptError

        self._no_script = NoScriptError
        self._client = client = bridge.get_connection()
        self._key = bridge.prefixed_key
        # Raised as limits raises its own: wrapped in StorageError when the storage asks for it.
        self._errors = bridge.base_exceptions
        self._wrap = storage.wrap_exceptions
        self._take = client.register_script(_TAKE)
        self._extend = client.register_script(_EXTEND)
        self._raise = client.register_script(_RAISE)

    @staticmethod
    def of(storage: object) -> RedisScripts | None:
        """The scripts for ``storage``; ``None`` unless it is a coredis-backed, non-cluster ``limits`` Redis."""
        # A cluster would refuse a script on a count and its venue report: two keys, two slots.
        if not isinstance(storage, RedisStorage) or isinstance(storage, RedisClusterStorage):
            return None
        bridge = getattr(storage, "bridge", None)
        return RedisScripts(storage, bridge) if isinstance(bridge, CoredisBridge) else None

    @staticmethod
    def unwrapped_errors(storage: object) -> tuple[type[Exception], ...]:
        """What ``storage``'s driver raises that ``limits`` lets through unwrapped: a failure all the same.

        coredis' ``RedisClusterException`` ("Redis Cluster cannot be connected", no node for a
        slot) is not a ``RedisError``, the only base ``limits`` wraps in ``StorageError``.
        """
        if isinstance(storage, RedisStorage) and isinstance(getattr(storage, "bridge", None), CoredisBridge):
            from coredis.exceptions import RedisClusterException  # with the `redis` extra, as in __init__

            return (RedisClusterException,)
        return ()

    @staticmethod
    def disconnect(storage: object) -> bool:
        """Close the sockets of ``storage``'s coredis client, if it is a ``limits`` Redis (``limits`` has no close).

        Whether it was one.

        Left open, they would last until the garbage collector found them: one or more per
        connector a long-running process opened and closed. Behind a sentinel, those to the
        sentinels too.
        """
        bridge = getattr(storage, "bridge", None)
        if isinstance(storage, RedisStorage) and isinstance(bridge, CoredisBridge):
            pool = getattr(bridge.get_connection(), "connection_pool", None)
            if pool is not None:
                pool.disconnect()
                for sentinel in getattr(getattr(pool, "sentinel_manager", None), "sentinels", ()):
                    sentinel.connection_pool.disconnect()
                return True
        return False

    @staticmethod
    def cluster_options(connections: int, timeout: float) -> dict[str, object]:
        """The options that make a ``limits`` Redis Cluster storage hold at most ``connections`` at once and send
        a command that may have run once.

        coredis' default cluster pool refuses a call at its limit ("Too many connections", at once):
        the blocking one waits up to :data:`TRIES` times ``timeout`` seconds for a connection to come
        back instead (it has sent nothing yet). Its client's retry policy and connection class are
        :func:`_cluster_sending_once`'s.
        """
        try:
            from coredis.pool import BlockingClusterConnectionPool  # with the `redis` extra, as in __init__
        except ImportError:  # limits then says which extra is missing
            return {}
        return {"connection_pool_cls": BlockingClusterConnectionPool, "max_connections": connections,
                "timeout": TRIES * timeout, **_cluster_sending_once()}

    @staticmethod
    def bound(storage: object, connections: int, timeout: float) -> None:
        """Make ``storage``'s coredis client (a ``limits`` Redis opened from a URI) hold at most ``connections``.

        ``limits`` opens it with ``Redis.from_url`` (or, behind a sentinel, ``Sentinel.primary_for``),
        whose pool opens a connection for every call that finds none free: a burst of calls is a
        burst of connections (2000 acquires at once opened 2000). The same connection settings
        (those of the URI, TLS and timeouts included) go to coredis' blocking pool, where a call
        waits up to :data:`TRIES` times ``timeout`` seconds for a free connection, then fails
        with coredis' ``ConnectionError`` ("No connection available."). A cluster's pool and retries
        are chosen when it is opened: :meth:`cluster_options`.

        Its client tries each call once (coredis' ``NoRetryPolicy``): ``Redis.from_url`` and
        ``Sentinel.primary_for`` give it a ``ConstantRetryPolicy`` that sends a call again after a
        ``ConnectionError`` or ``TimeoutError``, and Redis may have run a script whose reply came
        too late: the second try charged the acquire twice. A failure is the limiter's
        ``ConnectError``, once.

        Each connection of it loads our scripts as it connects, before it carries a call (see
        :func:`_load_scripts`). Behind a sentinel, each new connection first asks a sentinel where
        the primary is, on a pool of that sentinel's: only as many connections at once ask it.
        """
        bridge = getattr(storage, "bridge", None)
        if not isinstance(storage, RedisStorage) or not isinstance(bridge, CoredisBridge):
            return
        from coredis.pool import BlockingConnectionPool, ConnectionPool  # with the `redis` extra, as in __init__
        from coredis.retry import NoRetryPolicy
        from coredis.sentinel import SentinelConnectionPool

        client = bridge.get_connection()
        pool = getattr(client, "connection_pool", None)
        if type(pool) in (ConnectionPool, SentinelConnectionPool):
            client.retry_policy = NoRetryPolicy()  # see above; a cluster's: cluster_options
        wait = TRIES * timeout
        if type(pool) is ConnectionPool:
            settings: dict[str, Any] = pool.connection_kwargs  # the URI's host, password, TLS, timeouts, ...
            client.connection_pool = BlockingConnectionPool(
                connection_class=_loading(pool.connection_class), max_connections=connections,
                timeout=wait,  # type: ignore[arg-type]  # typed int; async_timeout takes float seconds
                max_idle_time=pool.max_idle_time, idle_check_interval=pool.idle_check_interval, **settings)
        elif type(pool) is SentinelConnectionPool:

            class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
                """The primary's address from the sentinels, the blocking pool's bound: coredis has no such pool."""

            # Without the pool's reference to itself: the new one puts its own in.
            settings = {name: value for name, value in pool.connection_kwargs.items() if name != "connection_pool"}
            client.connection_pool = BlockingSentinelPool(
                pool.service_name, pool.sentinel_manager, is_primary=pool.is_primary,
                check_connection=pool.check_connection, connection_class=_loading(pool.connection_class),
                max_connections=connections, timeout=wait, max_idle_time=pool.max_idle_time,
                idle_check_interval=pool.idle_check_interval, **settings)
        # Any other is a cluster's, or one already bounded.

    def take_call(self, cools: list[str], windows: list[tuple[str, int, int, int]]) -> TakeCall:
        """The keys and arguments :meth:`take` sends to charge each ``(key, cost, limit, expiry)`` of ``windows``.

        Built apart from the call: a request's keys stay the same for most of a window, so
        the limiter keeps this and sends it again.
        """
        args = [len(cools)]
        for _, cost, limit, expiry in windows:
            args += (cost, limit, expiry)
        return self._keys([*cools, *(key for key, _, _, _ in windows)]), tuple(args)

    async def take(self, call: TakeCall) -> list[int]:
        """Charge every window of ``call``, in one step and all or nothing.

        Nothing is charged while one of its cool-off keys exists or a cost does not fit; the
        verdict as :data:`_TAKE` returns it.
        """
        verdict = await self._send(self._take, *call)
        return cast("list[int]", verdict)  # a Lua table of numbers comes back as a list of integers

    async def extend(self, key: str, milliseconds: int) -> None:
        """Make ``key`` exist for at least ``milliseconds`` more, in one step."""
        await self._run(self._extend, [key], milliseconds)

    async def raise_to(self, pulls: list[tuple[str, int, int]]) -> list[int]:
        """Raise the count at each ``(key, count, expiry)`` to at least the venue's ``count``, in one step; the counts.

        A count created here expires in ``expiry`` s.
        """
        keys: list[str] = []
        args: list[int] = []
        for key, count, expiry in pulls:
            keys += (key, f"{key}/venue")
            args += (count, expiry)
        counts = await self._call(self._raise, keys, tuple(args))
        return cast("list[int]", counts)  # a Lua table of numbers comes back as a list of integers

    async def _run(self, script: Script[bytes], keys: list[str], *args: int) -> int:
        result = await self._call(script, keys, args)
        return result if isinstance(result, int) else 0  # a Lua number comes back as an integer

    def _keys(self, keys: list[str]) -> tuple[str, ...]:
        return tuple(self._key(key) for key in keys)

    async def _call(self, script: Script[bytes], keys: list[str], args: tuple[int, ...]) -> object:
        return await self._send(script, self._keys(keys), args)

    async def _send(self, script: Script[bytes], keys: tuple[str, ...], args: tuple[int, ...]) -> object:
        # EVALSHA ourselves: Script.execute wraps each call in a fresh retry policy (~7 µs).
        client = self._client
        try:
            try:
                return await client.evalsha(script.sha, keys, args)
            except self._no_script:  # a flushed Redis, or a storage of the caller's (see bound)
                await client.script_load(script.script)
                return await client.evalsha(script.sha, keys, args)
        except self._errors as exc:
            if self._wrap:
                raise StorageError(exc) from exc
            raise

"""A limiter's Redis calls under timeouts: a script Redis ran is never sent again, and a connection holds one socket.

coredis' ``Redis.from_url`` tries a call again after a ``ConnectionError`` or ``TimeoutError``
(``ConstantRetryPolicy``, two more tries): a script whose reply came too late had run all the
same, and the next try charged the acquire a second time. And coredis hands a connection back
to its pool as soon as a command is sent; when a reply times out, the call that sent it
disconnects the connection, and asyncio closes the socket on the loop's next turn, not at once:
a call already due in this turn took the connection and connected it again beside its old
socket. :class:`CountingProxy` counts one limiter's connections (in all, open now, at most at
once) and can hold Redis' replies back.
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import threading
import time
from collections.abc import Awaitable
from types import TracebackType

import coredis
import pytest
from redis_server import RedisServer

from lotusx.kernel.errors import ConnectError
from lotusx.layers.limiter import STORAGE_CONNECTIONS, Limiter, Pool
from lotusx.layers.redis_scripts import TRIES
from lotusx.testing import FakeClock

T0 = 1_700_000_040.0  # a whole minute since the epoch: clear of every guard band
POOL = Pool("P", 10_000, 60)
COST = {"P": 1}


class CountingProxy:
    """A loopback TCP proxy to ``port``: the connections made through it in all, open now, and at most at once.

    One thread, one ``select`` loop: each turn reads every readable socket to the end (an end
    closes the pair) before it accepts one connection. A client that closes a connection before
    it opens the next is never counted with both open: on loopback the close has reached us by
    the time the connect has, so the turn that sees the new one sees the old one's end first.

    :meth:`stall` holds back Redis' replies on the connections open now (they are dropped; the
    client's requests still reach Redis): a call on one of them times out after Redis ran it.
    :meth:`stall_on` does so on each connection once it carries a given command.
    """

    def __init__(self, port: int, stalled: int = 0) -> None:
        """``stalled``: how many connections, the first accepted, get no reply (their handshakes time out)."""
        self.port = port
        self._to_stall = stalled
        self.total = self.open = self.peak = 0
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._upstreams: set[socket.socket] = set()
        self._stalled: set[socket.socket] = set()  # upstream ends whose replies are dropped
        self._stall_marker: bytes | None = None  # a request holding it stalls its connection
        self._accepted = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="counting-proxy", daemon=True)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<the proxy's port>``."""
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}"

    def stall(self) -> None:
        """Drop Redis' replies on every connection open now; those opened later are served."""
        with self._accepted:
            self._stalled.update(self._upstreams)

    def stall_next(self, count: int) -> None:
        """Drop Redis' replies on the next ``count`` connections accepted (their handshakes time out)."""
        with self._accepted:
            self._to_stall = self.total + count

    def stall_on(self, command: bytes) -> None:
        """Drop Redis' replies on any connection from the moment a request of it holds ``command`` (b"INCRBY")."""
        with self._accepted:
            self._stall_marker = command

    def wait_accepted(self, count: int, seconds: float) -> None:
        """Block this thread (the event loop) until ``count`` connections were accepted, or ``seconds`` pass."""
        with self._accepted:
            self._accepted.wait_for(lambda: self.total >= count, timeout=seconds)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in [*self._peers, self._listener]:
            sock.close()
        self._selector.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready = [key.fileobj for key, _ in self._selector.select(timeout=0.05)]
            for sock in ready:  # ends first: see the class docstring
                if sock is not self._listener and sock in self._peers:
                    assert isinstance(sock, socket.socket)
                    self._pump(sock)
            if self._listener in ready:
                self._accept()

    def _accept(self) -> None:
        """Accept one connection: a later one waits for the next turn, after the ends that came before it."""
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        client.setblocking(True)
        upstream = socket.create_connection(("127.0.0.1", self.port))
        with self._accepted:
            self._peers[client], self._peers[upstream] = upstream, client
            self._upstreams.add(upstream)
            if self.total < self._to_stall:
                self._stalled.add(upstream)
            for sock in (client, upstream):
                self._selector.register(sock, selectors.EVENT_READ)
            self.total += 1
            self.open += 1
            self.peak = max(self.peak, self.open)
            self._accepted.notify_all()
        self._pump(client)  # a client that gave up before we accepted has closed it already

    def _pump(self, sock: socket.socket) -> None:
        """Pass on everything ``sock`` has (dropped if stalled); at its end (or an error) close it and its peer."""
        peer = self._peers[sock]
        try:
            while data := sock.recv(65536, socket.MSG_DONTWAIT):
                if self._stall_marker is not None and self._stall_marker in data and peer in self._upstreams:
                    with self._accepted:
                        self._stalled.add(peer)  # before Redis gets it: its reply is dropped
                if sock not in self._stalled:
                    peer.sendall(data)
        except BlockingIOError:
            return
        except OSError:
            pass
        with self._accepted:
            for end in (sock, peer):
                self._selector.unregister(end)
                del self._peers[end]
                self._upstreams.discard(end)
                self._stalled.discard(end)
                end.close()
            self.open -= 1



@pytest.mark.redis
async def test_a_script_whose_reply_timed_out_is_not_sent_again(redis: RedisServer) -> None:
    """Redis ran the charge, its reply came too late: the acquire fails with ConnectError, charged once, not twice."""
    with CountingProxy(redis.port) as proxy:
        limiter = Limiter([POOL], proxy.url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.2)
        try:
            await limiter.acquire(COST)  # connected, the scripts loaded
            proxy.stall()
            async with asyncio.timeout(20):  # bounded: a hang fails the test instead of stalling the suite
                with pytest.raises(ConnectError, match="timed out"):
                    await limiter.acquire(COST)
                assert await limiter.used(POOL) == 2  # on a new connection: the stalled one was dropped
        finally:
            await limiter.aclose()
        assert proxy.total == 2


@pytest.mark.redis
async def test_a_connect_whose_handshake_timed_out_is_tried_again(redis: RedisServer) -> None:
    """The first connection never answers its handshake: the next one carries the acquire, charged once."""
    with CountingProxy(redis.port, stalled=1) as proxy:
        limiter = Limiter([POOL], proxy.url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.2)
        try:
            async with asyncio.timeout(20):  # bounded: a hang fails the test instead of stalling the suite
                await limiter.acquire(COST)
                assert await limiter.used(POOL) == 1
        finally:
            await limiter.aclose()
        assert proxy.total == 2


async def test_a_redis_that_never_answers_is_asked_once_per_acquire() -> None:
    """A server that accepts and never answers: each acquire tries TRIES connects, then is a ConnectError (not 5)."""
    accepted = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await reader.read()  # never answers, until the client closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = Limiter([POOL], f"redis://127.0.0.1:{port}", key="t", max_wait=0.0, storage_timeout=0.1)
    try:
        async with asyncio.timeout(20):  # a hang fails the test instead of stalling the suite
            for calls in (1, 2):  # the first call asks for Redis' modules first, the next goes straight to the script
                with pytest.raises(ConnectError, match="timed out"):
                    await limiter.acquire(COST)
                assert accepted == TRIES * calls
    finally:
        await limiter.aclose()
        server.close()
        await server.wait_closed()


async def later(seconds: float, call: Awaitable[None]) -> None:
    await asyncio.sleep(seconds)
    await call


async def hold(proxy: CountingProxy) -> None:
    """Hold the loop until ``proxy`` has accepted a second connection, or a second has passed."""
    proxy.wait_accepted(2, seconds=1.0)


@pytest.mark.redis
async def test_a_connection_whose_reply_timed_out_closes_its_socket_before_it_connects_again(
        redis: RedisServer) -> None:
    """One connection, dropped after a timeout and taken by a call due in the same loop turn: never two sockets."""
    with CountingProxy(redis.port) as proxy:
        limiter = Limiter([POOL], proxy.url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.05,
                          storage_connections=1)
        try:
            await limiter.acquire(COST)  # connected, the scripts loaded
            proxy.stall()
            async with asyncio.timeout(20):  # bounded: a hang fails the test instead of stalling the suite
                # In one loop turn, in this order: the stalled reply's deadline (0.05 s), then a call
                # taking the connection the timeout dropped, then one holding the loop until the
                # proxy sees a second connection (bounded: with one socket at a time it never does).
                stalled = asyncio.create_task(limiter.acquire(COST))
                taking = asyncio.create_task(later(0.1, limiter.acquire(COST)))
                holding = asyncio.create_task(later(0.15, hold(proxy)))
                await asyncio.sleep(0)  # the stalled call sends its script and hands the connection back
                time.sleep(0.3)  # noqa: ASYNC251  # blocking the loop brings all three due in one turn
                results = await asyncio.gather(stalled, taking, holding, return_exceptions=True)
        finally:
            await limiter.aclose()
        assert (proxy.peak, proxy.total) == (1, 2)
        assert isinstance(results[0], ConnectError)
        assert results[1] is None  # it waited a loop turn for the old socket to close, not failed


async def burst(limiter: Limiter, count: int) -> list[BaseException | None]:
    return await asyncio.gather(*(limiter.acquire(COST) for _ in range(count)), return_exceptions=True)


async def busy_loop(turns: int, seconds: float) -> None:
    """Hold the event loop ``seconds`` at a time, ``turns`` times: a loop on a machine too busy to keep up."""
    for _ in range(turns):
        await asyncio.sleep(0)
        time.sleep(seconds)  # noqa: ASYNC251  # blocking the loop is the point


@pytest.mark.redis
async def test_connects_and_replies_that_time_out_on_a_busy_loop_stay_within_the_bound(redis: RedisServer) -> None:
    """A loop slower than storage_timeout times out calls Redis answered: connections made again, never more at once."""
    with CountingProxy(redis.port) as proxy:
        limiter = Limiter([POOL], proxy.url, key="t", clock=FakeClock(T0), max_wait=0.0, storage_timeout=0.05)
        try:
            async with asyncio.timeout(30):  # bounded: a hang fails the test instead of stalling the suite
                results, _ = await asyncio.gather(burst(limiter, 2000), busy_loop(turns=6, seconds=0.2))
            used = await limiter.used(POOL)
        finally:
            await limiter.aclose()
        assert not [r for r in results if r is not None and not isinstance(r, ConnectError)]
        assert proxy.peak <= STORAGE_CONNECTIONS
        # Each acquire sent its script at most once: a failed one may have been charged (Redis ran
        # it, the reply came too late), none twice.
        assert results.count(None) <= used <= len(results)


@pytest.mark.redis
async def test_a_limiter_connection_sees_its_sockets_come_and_go_through_coredis(redis: RedisServer) -> None:
    """coredis makes each connection its socket's asyncio protocol: a coredis that stops doing so fails here, not
    silently (the wait for an old socket would never wait)."""
    assert issubclass(coredis.connection.Connection, asyncio.BaseProtocol)
    limiter = Limiter([POOL], redis.url, key="t", clock=FakeClock(T0), max_wait=0.0)
    try:
        await limiter.acquire(COST)
        connection = limiter.storage.bridge.get_connection().connection_pool.peek_available()
        assert connection.sockets == 1
    finally:
        await limiter.aclose()
    assert connection.sockets == 0

"""``WsRpc``: a transport that sends requests over one WebSocket and matches each answer by its id.

A venue's WebSocket API (Binance's ``/ws-api/v3``) takes the calls its REST API takes, over a
socket that stays open: no request line, headers or pooled connection per call. This module is
the venue-free mechanism; what a request looks like on the socket, and which answer is whose, is
the venue's :class:`RpcCodec` (the decision). A request the codec does not take goes to
``fallback`` (the REST transport), so ``WsRpc`` is the whole stack's transport and every layer
above it (Retry, RateLimit, Sign, Trace, MapErrors) works as over HTTP.

Failures are typed as ``AiohttpRest`` types them, because ``Retry`` decides on them:

- the connection cannot be opened, or a request cannot be written: ``ConnectError`` (it never
  left, a re-send is safe);
- the connection is lost, or goes silent, with a request written and unanswered:
  ``Disconnected(sent=True)`` (the venue may have acted: an order is reconciled, never re-sent
  blindly);
- no answer within ``timeout``: ``Timeout``; if not a frame came in that time, the connection is
  taken for dead too (the calls waiting on it get ``Disconnected(sent=True)``).

The next call after a loss opens a new connection (through ``admit``, which charges the venue's
connection-attempt limit). A connection that has been silent for ``silence`` seconds is pinged;
silent ``silence`` seconds more, it is taken for dead (the ping is the codec's own where the venue
asks for one). A connection the venue says to leave (the codec's ``retires``: a shutdown notice,
an answer saying the service restarts), or older than ``max_age`` (Binance ends each after 24 hours), is
retired: new calls go to a new connection, and the old one closes once its calls are answered,
so none of them is caught by the venue's close. A connection the venue says is unusable (the
codec's ``drops``: Binance's revoked session) is dropped at once, its calls in flight
``Disconnected(sent=True)``.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec

from lotusx.kernel.errors import ConfigError, ConnectError, Disconnected, LotusXError, ProtocolError, Timeout
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import WsSession
from lotusx.kernel.service import Service
from lotusx.kernel.ws import WsKind

Attempt = Callable[[], Awaitable[None]]
Admit = Callable[[Attempt], Awaitable[None]]


class RpcCodec(Protocol):
    """A venue's WebSocket API wire format."""

    def encode(self, request: Request, request_id: int) -> str | None:
        """The text frame carrying ``request`` under ``request_id``; ``None`` if it does not go over the socket."""
        ...

    def decode(self, data: str | bytes) -> tuple[int, Response] | None:
        """The answer's id and the answer as a ``Response``; ``None`` for a frame answering nothing of ours."""
        ...

    def retires(self, data: str | bytes) -> bool:
        """Whether a frame says to move to a new connection (a shutdown notice, a "restarting" answer).

        Asked of every frame, before :meth:`decode`: a plain substring test first keeps it cheap.
        """
        ...

    def drops(self, data: str | bytes) -> bool:
        """Whether a frame says the connection is unusable now (Binance's revoked session).

        The calls in flight on it get ``Disconnected(sent=True)`` (each may or may not have run)
        and the next call opens a new connection, which logs in again. Asked of every frame,
        as :meth:`retires` is: a plain substring test first keeps it cheap.
        """
        ...

    def ping(self) -> str | None:
        """The venue's application-level ping (Bybit's ``{"op": "ping"}``), or ``None`` for a protocol ping."""
        ...


@dataclass(frozen=True)
class Handshake:
    """A venue's login of each new connection before any call goes on it (Bybit's ``auth``): the decision.

    ``message()`` is sent first; each data frame until its answer goes to ``verdict``: ``None``
    (not the login's answer), ``True`` (accepted), or the typed error of the refusal.
    """

    message: Callable[[], str]
    verdict: Callable[[str | bytes], bool | LotusXError | None]


async def _logged_in(session: WsSession, handshake: Handshake) -> None:
    """Send the login and read frames until its verdict; a socket that fails first is a ConnectError (no call on it)."""
    try:
        await session.send(handshake.message())
        while True:
            frame = await session.next()
            if frame.kind is WsKind.CLOSE:
                raise ConnectError(f"the venue closed the WebSocket API connection before its login was answered "
                                   f"(code {frame.close_code})")
            if frame.kind is WsKind.TEXT or frame.kind is WsKind.BINARY:
                verdict = handshake.verdict(frame.data)
                if isinstance(verdict, LotusXError):
                    raise verdict
                if verdict:
                    return
    except (Disconnected, ProtocolError, Timeout) as exc:
        raise ConnectError(f"the WebSocket API connection failed before its login was answered "
                           f"({type(exc).__name__})") from None


async def _let_in(attempt: Attempt) -> None:
    await attempt()


def _ignore(what: object) -> None:
    pass


class WsRpc:
    """A :data:`~lotusx.Service`: requests the ``codec`` takes go over one WebSocket, the others to ``fallback``.

    ``connect`` makes a new (unopened) session per connection; ``admit`` runs each opening
    (:func:`lotusx.ws.outbound.admission` charges it to the venue's limits), and ``login`` (if
    any) authenticates it before its first call. ``timeout`` bounds each call from its write to
    its answer, and the login. ``ended(reason)`` is told each connection's end: ``server_close``,
    ``disconnected``, ``silent``, ``send_failed``, ``protocol_error``, ``dropped``, ``retired`` or ``closed``;
    ``failed(error)``, each opening that failed (refused by ``admit``, the socket, or the login),
    with the error its callers get.
    """

    def __init__(self, connect: Callable[[], WsSession], codec: RpcCodec, fallback: Service, *,
                 timeout: float = 10.0, silence: float = 20.0, max_age: float = 23 * 3600.0,
                 admit: Admit = _let_in, login: Handshake | None = None,
                 ended: Callable[[str], object] = _ignore, failed: Callable[[LotusXError], object] = _ignore) -> None:
        if not all(0 < seconds < float("inf") for seconds in (timeout, silence, max_age)):
            raise ConfigError("timeout, silence and max_age must be positive finite seconds, got "
                              f"{timeout!r}, {silence!r}, {max_age!r}")
        self.codec, self.fallback, self.timeout, self.silence = codec, fallback, timeout, silence
        self.max_age = max_age
        self._connect, self._admit, self._login, self._ended, self._failed = connect, admit, login, ended, failed
        # From a random start, not 1: Bybit refuses a reqId it has seen (20006) without saying over what
        # scope, and a restarted process counting from 1 again must not meet its own past ids.
        self._ids = itertools.count(secrets.randbelow(2**52) + 1)
        self._link: _Link | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    def __call__(self, request: Request) -> Awaitable[Response]:
        request_id = next(self._ids)
        text = self.codec.encode(request, request_id)
        if text is None:
            return self.fallback(request)
        return self._call(request, request_id, text)

    async def _call(self, request: Request, request_id: int, text: str) -> Response:
        link = self._link
        if link is None or not link.usable(self.max_age):
            link = await self._open(request)
        return await link.call(request, request_id, text)

    async def _open(self, request: Request) -> _Link:
        # One opening for every call that finds the connection gone, not one each.
        async with self._opening:
            link = self._link
            if link is not None:
                if link.usable(self.max_age):
                    return link
                link.retire()  # its calls in flight are answered on it; new ones go to the new connection
            if self._closed:
                raise ConfigError(f"{request.method} {request.path}: this WebSocket API transport is closed")
            session = self._connect()

            async def attempt() -> None:
                await session.connect()  # a failure here is a ConnectError: nothing was sent
                if self._login is not None:
                    try:
                        async with asyncio.timeout(self.timeout):
                            await _logged_in(session, self._login)
                    except TimeoutError:
                        raise ConnectError(f"no answer to the WebSocket API login within {self.timeout} s") from None

            try:
                await self._admit(attempt)
            except BaseException as exc:
                await session.close()
                if isinstance(exc, LotusXError):
                    self._failed(exc)
                raise
            self._link = link = _Link(session, self.codec, self.timeout, self.silence, self._ended)
            return link

    async def aclose(self) -> None:
        """Close the socket (calls in flight get ``Disconnected(sent=True)``) and the fallback transport."""
        self._closed = True
        link, self._link = self._link, None
        try:
            if link is not None:
                await link.close()
        finally:
            aclose = getattr(self.fallback, "aclose", None)
            if aclose is not None:
                await aclose()


class _Link:
    """One open connection: the calls waiting for their answers, and the task reading them."""

    def __init__(self, session: WsSession, codec: RpcCodec, timeout: float, silence: float,
                 ended: Callable[[str], object]) -> None:
        self.session, self.codec, self.timeout, self.silence, self.ended = session, codec, timeout, silence, ended
        self.waiting: dict[int, asyncio.Future[Response]] = {}
        self.lost: LotusXError | None = None
        self.retiring = False
        self.loop = asyncio.get_running_loop()
        self.opened = self.heard = self.loop.time()  # heard: when the last frame came, silence runs from it
        self.reader = self.loop.create_task(self._read())

    def usable(self, max_age: float) -> bool:
        """Whether a new call may go on this connection."""
        if self.lost is None and not self.retiring and self.loop.time() - self.opened > max_age:
            self.retiring = True
        return self.lost is None and not self.retiring

    def retire(self) -> None:
        """Take no more calls; close once the calls waiting have their answers."""
        self.retiring = True
        self._close_if_drained()

    def _close_if_drained(self) -> None:
        if self.retiring and not self.waiting:
            self._lose(Disconnected("the WebSocket API connection was retired", sent=True), "retired")

    async def call(self, request: Request, request_id: int, text: str) -> Response:
        timeout = self.timeout
        where = f"{request.method} {request.path}"
        if self.lost is not None:  # lost since the caller picked it: nothing would answer
            raise ConnectError(f"{where}: the WebSocket API connection is gone ({type(self.lost).__name__})")
        answer: asyncio.Future[Response] = self.loop.create_future()
        self.waiting[request_id] = answer
        try:
            try:
                await self.session.send(text)
            except LotusXError as exc:
                # A frame that could not be written never left: safe to send again on a new connection.
                self._lose(exc, "send_failed")
                raise ConnectError(f"{where}: the WebSocket API connection is gone ({type(exc).__name__})") from None
            sent = self.loop.time()
            try:
                async with asyncio.timeout(timeout):
                    response = await answer
            except TimeoutError:
                if self.heard < sent:
                    # Not a frame since: a dead socket looks like this, and every call on it would
                    # wait its whole timeout too (the reconcile query of this very one first).
                    self._lose(Disconnected(f"no frame on the WebSocket API for {timeout} s", sent=True), "silent")
                raise Timeout(f"{where}: no answer on the WebSocket API within {timeout} s") from None
            except Disconnected as exc:
                raise Disconnected(f"{where}: the WebSocket API connection was lost before the answer "
                                   f"({exc})", sent=True, close_code=exc.close_code) from None
            return msgspec.structs.replace(response, elapsed=self.loop.time() - sent)
        finally:
            self.waiting.pop(request_id, None)
            if answer.done() and not answer.cancelled():
                # Failed by _lose while this call ended another way (its own send failing, a cancel):
                # the caller has its error already; unread, the loop would log it as never retrieved.
                answer.exception()
            self._close_if_drained()

    def _answered(self, data: str | bytes) -> bool:
        self.heard = self.loop.time()
        if self.codec.drops(data):
            # Not left to time out: no answer will come on it, and a call may have run before the venue said so.
            self._lose(Disconnected("the venue dropped the WebSocket API session", sent=True), "dropped")
            return True  # stops the pump: the reader ends here
        if self.codec.retires(data):
            self.retiring = True  # the next call opens the new connection, and retires this one
        answer = self.codec.decode(data)
        if answer is not None:
            waiting = self.waiting.get(answer[0])
            if waiting is not None and not waiting.done():
                waiting.set_result(answer[1])
        return False  # never stop the pump otherwise: every frame is read here

    async def _read(self) -> None:
        session, answered, loop, silence = self.session, self._answered, self.loop, self.silence
        pump = getattr(session, "pump", None)
        probed: float | None = None  # when the silence was probed with a ping
        try:
            while True:
                # The deadline moves with each frame heard (stamped by _answered, a plain store),
                # not by rescheduling a timer per frame: a busy pump never returns between frames.
                deadline = (self.heard if probed is None else probed) + silence
                try:
                    async with asyncio.timeout_at(deadline):
                        frame = await pump(answered) if pump is not None else await session.next()
                except TimeoutError:
                    now = loop.time()
                    if now - self.heard < silence:
                        probed = None  # frames came meanwhile: not silent
                        continue
                    if probed is not None:
                        self._lose(Disconnected("the WebSocket API connection went silent", sent=True), "silent")
                        return
                    probed = now  # a live venue answers the ping with a pong, which ends the silence
                    ping = self.codec.ping()
                    await (session.send(ping) if ping is not None else session.ping())
                    continue
                probed = None
                if frame is None:  # the pump stopped: a frame dropped the connection (see _answered)
                    return
                if frame.kind is WsKind.TEXT or frame.kind is WsKind.BINARY:
                    if answered(frame.data):  # which marks it heard; True: it dropped the connection
                        return
                    continue
                self.heard = loop.time()  # a ping, a pong: the link is alive
                if frame.kind is WsKind.CLOSE:
                    self._lose(Disconnected(f"the venue closed the WebSocket API connection (code {frame.close_code})",
                                            close_code=frame.close_code), "server_close")
                    return
        except LotusXError as exc:
            self._lose(exc, "disconnected")
        except Exception as exc:  # a codec's bug must not leave callers waiting for ever
            self._lose(ProtocolError(f"the WebSocket API connection failed: {type(exc).__name__}"), "protocol_error")
        finally:
            await session.close()

    def _lose(self, error: LotusXError, reason: str) -> None:
        """End the connection: every call waiting on it is Disconnected(sent=True); ``reason`` goes to ``ended``."""
        if self.lost is None:
            self.lost = error
            self.ended(reason)
        for waiting in self.waiting.values():
            if not waiting.done():
                waiting.set_exception(Disconnected(str(error), close_code=getattr(error, "close_code", None)))
        if self.reader is not asyncio.current_task():
            self.reader.cancel()

    async def close(self) -> None:
        self._lose(Disconnected("the WebSocket API transport was closed", sent=True), "closed")
        await asyncio.wait([self.reader])  # its own end, without raising its cancellation here
        await self.session.close()

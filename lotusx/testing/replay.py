"""Record a real session once, replay it offline: WebSocket frames and REST exchanges, as JSON lines.

Both files are JSON lines (one object a line, UTF-8), appended to, whose first line is a header
naming the format and its version; a replay refuses any other (a ``ConfigError``)::

    {"format": "lotusx-ws", "version": 1}
    {"t": 0.0, "kind": "text", "data": "{\\"e\\":\\"trade\\",\\"p\\":\\"0.10\\"}"}
    {"t": 0.012, "kind": "binary", "data": "<base64>"}

    {"format": "lotusx-rest", "version": 1}
    {"method": "GET", "path": "/api/v3/depth", "query": [["symbol", "BTCUSDT"]], "status": 200,
     "headers": [["X-MBX-USED-WEIGHT-1M", "7"]], "body": "{...}"}

WS: each inbound TEXT or BINARY frame, ``t`` its monotonic offset in seconds from the first
frame its session read (a later session appended to the same file starts again at 0, and its
first frame carries ``"connect": true``: a replay ends its connection there with ``Disconnected``,
so the reconnect the live session went through happens again, resubscription and resync too). A
``RecordWs`` opens its file at its first frame and keeps it until its ``close()``; each line is
handed to the OS as it is read (a crash loses none written), in one append. Control
frames (ping, pong, close) are the connection's, not the data's, and are not written; nor is
anything sent (a login carries a key or a signature). A registered secret (``lotusx.register_secret``:
every connector's key and secret) in a frame is written as ``[REDACTED]``: Binance's
``session.logon`` answer echoes the API key. A binary frame holding one is masked inside its
compression (gzip, zlib or raw deflate, as the ``Deflate`` stage inflates them) and compressed
again the same way, so a replay still exercises the decompress path; a binary frame holding none
is written as it came.

REST: each exchange, as the ``Record`` layer saw it. Never written: any request header (the API
key, a header signature), the request body, and the query parameters named ``volatile``
(default ``signature``, ``timestamp``, ``recvWindow``, ``apiKey``, ``api_key``, ``listenKey``,
``sign``: different on every run, or secret). The response is written as it came: headers kept
(the venues' usage headers drive the limiter), ``body`` as text when it is UTF-8, else
``body_b64``; bytes, so amounts stay exact. A registered secret in a text body or a header is
written as ``[REDACTED]``.

``ReplayWs(path)`` is a :class:`FakeWs` queued with the frames; ``replay_transport(path)``
answers each request with the first unused recorded response of the same method, path and
query (less ``volatile``), and raises ``ConfigError`` for a request it has no answer for.
"""

from __future__ import annotations

import base64
import collections
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from multidict import CIMultiDict

from lotusx.kernel.credentials import secrets_longest_first
from lotusx.kernel.errors import ConfigError, Disconnected, LotusXError, ProtocolError, StreamError
from lotusx.kernel.message import Request, Response
from lotusx.kernel.protocols import SYSTEM_CLOCK, Clock, WsSession
from lotusx.kernel.service import Service
from lotusx.kernel.ws import WsFrame, WsKind
from lotusx.testing.ws import FakeWs
from lotusx.ws.deflate import Inflate, detect

WS_FORMAT, REST_FORMAT, VERSION = "lotusx-ws", "lotusx-rest", 1
REDACTED = "[REDACTED]"
# zlib's wbits for each format lotusx.ws.deflate tells apart: a masked frame is compressed again in its own.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "zlib": zlib.MAX_WBITS, "raw": -zlib.MAX_WBITS}
# Different on every run (the stamps, the signature) or secret (a key in the query, as lotusx.log masks them).
VOLATILE = frozenset({"signature", "timestamp", "recvWindow", "apiKey", "api_key", "listenKey", "sign"})
StrPath = str | os.PathLike[str]


def _open(path: StrPath, fmt: str) -> BinaryIO:
    """``path`` opened to append, the header written first when it is new or empty.

    Unbuffered: each line is one ``write`` (with ``O_APPEND``, so sessions sharing the file do not
    cut each other's lines), handed to the OS before the frame is: a crash loses no line written.
    """
    file = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open for the recorder's life, closed by its close()
    if file.tell() == 0:
        file.write(orjson.dumps({"format": fmt, "version": VERSION}) + b"\n")
    return file


def _append(path: StrPath, fmt: str, record: dict[str, Any]) -> None:
    """Append ``record`` to ``path``, the header first when the file is new or empty."""
    with open(path, "ab") as file:
        if file.tell() == 0:
            file.write(orjson.dumps({"format": fmt, "version": VERSION}) + b"\n")
        file.write(orjson.dumps(record) + b"\n")


def _masked(text: str) -> str:
    """``text`` with every registered secret (a connector's key and secret) as ``[REDACTED]``."""
    for secret in secrets_longest_first():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _masked_binary(data: bytes) -> bytes:
    """``data`` with every registered secret masked, inside its compression if it is compressed.

    A frame the ``Deflate`` stage would inflate (gzip, zlib, raw deflate, within its cap) and
    that holds a secret is written masked and compressed again the same way, so its replay still
    takes the decompress path; one holding none is written as it came, byte for byte. A frame
    that does not inflate is masked as it stands.
    """
    secrets = [secret.encode() for secret in secrets_longest_first()]
    if not secrets:
        return data
    mode = detect(data)
    try:
        plain = Inflate(mode).inflate(data)
    except (ProtocolError, StreamError):  # not compressed (or past the cap): its bytes are what a reader sees
        return _masked_bytes(data, secrets)
    masked = _masked_bytes(plain, secrets)
    return data if masked == plain else zlib.compress(masked, wbits=_WBITS[mode])


def _masked_bytes(data: bytes, secrets: list[bytes]) -> bytes:
    for secret in secrets:
        if secret in data:
            data = data.replace(secret, REDACTED.encode())
    return data


def _read(path: StrPath, fmt: str) -> list[dict[str, Any]]:
    """The records of ``path`` after its header, or a ``ConfigError`` if that is not ``fmt`` version 1."""
    rows = [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]
    if not rows or rows[0] != {"format": fmt, "version": VERSION}:
        header = rows[0] if rows else "nothing"
        raise ConfigError(f"{os.fspath(path)} is no {fmt} recording of version {VERSION} (its first line: {header})")
    return rows[1:]


class RecordWs:
    """A :class:`~lotusx.WsSession` passing everything to ``inner``, appending each inbound data frame to ``path``."""

    def __init__(self, inner: WsSession, path: StrPath, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.inner, self.path, self.clock = inner, path, clock
        self._first: float | None = None
        # Opened at the first frame and kept until close(): an open per line capped a heavy stream's recording.
        self._file: BinaryIO | None = None

    async def connect(self) -> None:
        await self.inner.connect()
        self._first = None  # a new connection: its first frame is marked, at offset 0

    async def send(self, data: str | bytes) -> None:
        await self.inner.send(data)  # never written: a login carries a key or a signature

    async def ping(self, data: bytes = b"") -> None:
        await self.inner.ping(data)

    async def pong(self, data: bytes = b"") -> None:
        await self.inner.pong(data)

    async def next(self) -> WsFrame:
        frame = await self.inner.next()
        if frame.kind in (WsKind.TEXT, WsKind.BINARY):
            now = self.clock.monotonic()
            row: dict[str, Any] = {}
            if self._first is None:
                self._first = now
                row["connect"] = True  # where a replay reconnects, as the live session did
            # A venue may echo the key (Binance's session.logon answer): masked, in a compressed frame too.
            if isinstance(frame.data, str):
                text = _masked(frame.data)
            else:
                text = base64.b64encode(_masked_binary(frame.data)).decode()
            if self._file is None:
                self._file = _open(self.path, WS_FORMAT)
            self._file.write(orjson.dumps({"t": round(now - self._first, 6), "kind": frame.kind.name.lower(),
                                           "data": text, **row}) + b"\n")
        return frame

    async def close(self, code: int = 1000) -> None:
        try:
            await self.inner.close(code)
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __repr__(self) -> str:
        return f"RecordWs({self.inner!r}, {os.fspath(self.path)!r})"


class ReplayWs(FakeWs):
    """A :class:`FakeWs` queued with the frames recorded in ``path``; ``paced=True`` returns each at its offset."""

    def __init__(self, path: StrPath, *, paced: bool = False, clock: Clock = SYSTEM_CLOCK) -> None:
        rows = _read(path, WS_FORMAT)
        inbound: list[WsFrame | BaseException] = []
        offsets: list[float | None] = []  # one per inbound item; None: a connection's end, not waited for
        for index, r in enumerate(rows):
            if r.get("connect") and index > 0:  # the recorded connection ended here: so does this one
                inbound.append(Disconnected(f"replay of {os.fspath(path)}: the recorded connection ended here"))
                offsets.append(None)
            inbound.append(WsFrame.text(r["data"]) if r["kind"] == "text"
                           else WsFrame.binary(base64.b64decode(r["data"])))
            offsets.append(float(r["t"]))
        super().__init__(inbound)
        self.paced, self.clock = paced, clock
        self._offsets = collections.deque(offsets)
        self._start: float | None = None  # local monotonic time of offset 0

    async def next(self) -> WsFrame:
        if self.paced and self._offsets and self.connected:
            offset, now = self._offsets.popleft(), self.clock.monotonic()
            if offset is None:  # a recorded connection's end: raised at once, the next one starts at 0
                self._start = None
                return await super().next()
            if self._start is None or offset == 0.0:  # the first frame, or the first of a later session
                self._start = now - offset
            wait = self._start + offset - now
            if wait > 0:
                await self.clock.sleep(wait)
        return await super().next()


class Record:
    """A layer appending each exchange to ``path``, less its secret and volatile parts (see the module docstring)."""

    def __init__(self, path: StrPath, *, volatile: Iterable[str] = VOLATILE) -> None:
        self.path, self.volatile = path, frozenset(volatile)

    def __call__(self, inner: Service) -> Service:
        async def record(request: Request) -> Response:
            try:
                response = await inner(request)
            except LotusXError as exc:  # a venue's refusal, raised beneath with its response: part of the session
                if exc.response is not None:
                    self._write(request, exc.response)
                raise
            self._write(request, response)
            return response
        return record

    def _write(self, request: Request, response: Response) -> None:
        try:
            body = {"body": _masked(response.body.decode())}
        except UnicodeDecodeError:
            body = {"body_b64": base64.b64encode(response.body).decode()}
        _append(self.path, REST_FORMAT, {"method": request.method, "path": request.path,
                                         "query": _kept(request.query, self.volatile), "status": response.status,
                                         "headers": [(k, _masked(v)) for k, v in response.headers.items()], **body})

    def __repr__(self) -> str:
        return f"Record({os.fspath(self.path)!r})"


def _kept(query: tuple[tuple[str, str], ...], volatile: frozenset[str]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in query if name not in volatile]


def replay_transport(path: StrPath, *, volatile: Iterable[str] = VOLATILE) -> Service:
    """A transport answering from the recording at ``path``, in recorded order for identical requests."""
    left = frozenset(volatile)
    answers: dict[tuple[str, str, tuple[tuple[str, str], ...]], collections.deque[Response]] = {}
    for row in _read(path, REST_FORMAT):
        key = (row["method"], row["path"], tuple((k, v) for k, v in row["query"]))
        body = row["body"].encode() if "body" in row else base64.b64decode(row["body_b64"])
        answers.setdefault(key, collections.deque()).append(
            Response(status=row["status"], body=body, headers=CIMultiDict((k, v) for k, v in row["headers"])))

    async def replay(request: Request) -> Response:
        queue = answers.get((request.method, request.path, tuple(_kept(request.query, left))))
        if not queue:
            raise ConfigError(f"replay of {os.fspath(path)}: no recorded answer (left) for {request.method} "
                              f"{request.path} with query {_kept(request.query, left)}")
        return queue.popleft()

    return replay

"""WsRpc: requests over one WebSocket, each answer matched to its caller by id, failures typed for Retry."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lotusx.kernel.errors import AuthenticationError, ConfigError, ConnectError, Disconnected, Timeout
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.kernel.ws import WsFrame
from lotusx.testing import FakeTransport
from lotusx.testing.ws import FakeWs
from lotusx.transport import Handshake, WsRpc

OVER_WS = Endpoint("over_ws", "POST", "/order")
OVER_REST = Endpoint("over_rest", "GET", "/depth")


class Codec:
    """Takes OVER_WS requests as ``{"id", "path"}``; answers are ``{"id", "status", "body"}``."""

    def encode(self, request: Request, request_id: int) -> str | None:
        if request.endpoint is not OVER_WS:
            return None
        return orjson.dumps({"id": request_id, "path": request.path}).decode()

    def decode(self, data: str | bytes) -> tuple[int, Response] | None:
        answer = orjson.loads(data)
        if "id" not in answer:
            return None
        return answer["id"], Response(status=answer["status"], body=answer["body"].encode())

    def retires(self, data: str | bytes) -> bool:
        return bool(orjson.loads(data).get("shutdown"))

    def drops(self, data: str | bytes) -> bool:
        return False

    def ping(self) -> str | None:
        return None


class AppPing(Codec):
    """A venue that wants its own ping message, not a protocol ping."""

    def ping(self) -> str | None:
        return '{"op": "ping"}'


def rest() -> FakeTransport:
    """The REST fallback: answers every request it gets with 200 ``rest``."""
    return FakeTransport(lambda request: Response(status=200, body=b"rest"))


def answer(request_id: int, body: str = "ok", status: int = 200) -> str:
    return orjson.dumps({"id": request_id, "status": status, "body": body}).decode()


def order(path: str = "/order") -> Request:
    return Request(method="POST", path=path, endpoint=OVER_WS)


class Sockets:
    """Hands out a new FakeWs per connection and keeps them in order."""

    def __init__(self, *, fail_connect: int = 0) -> None:
        self.made: list[FakeWs] = []
        self.fail_connect = fail_connect

    def __call__(self) -> FakeWs:
        ws = FakeWs(fail_connect=1 if self.fail_connect > 0 else 0)
        self.fail_connect -= 1
        self.made.append(ws)
        return ws


async def sent(sockets: Sockets, count: int = 1, *, on: int = 0) -> list[dict[str, object]]:
    """The frames written on socket number ``on``, once there are ``count``."""
    for _ in range(200):
        if len(sockets.made) > on and len(sockets.made[on].sent) >= count:
            return [orjson.loads(text) for text in sockets.made[on].sent]
        await asyncio.sleep(0)
    raise AssertionError(f"{count} frames not sent on {sockets.made}")


async def answered(rpc: WsRpc, sockets: Sockets, *, on: int = 0) -> Response:
    """One call, answered 200 on socket number ``on`` once its frame is written there."""
    call = asyncio.ensure_future(rpc(order()))
    [frame] = await sent(sockets, on=on)
    sockets.made[on].feed(answer(frame["id"]))  # type: ignore[arg-type]
    return await call


async def test_a_request_the_codec_takes_is_answered_by_the_frame_with_its_id() -> None:
    """The request goes out as the codec's frame; the answer carrying its id is what the caller gets."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    call = asyncio.ensure_future(rpc(order()))
    [frame] = await sent(sockets)
    sockets.made[0].feed(answer(frame["id"], "placed"))  # type: ignore[arg-type]
    response = await call
    assert (response.status, response.body, frame["path"]) == (200, b"placed", "/order")
    await rpc.aclose()


async def test_a_request_the_codec_declines_goes_to_the_fallback() -> None:
    """Calls the venue's WebSocket API does not take stay on REST, and no socket is opened for them."""
    fallback = rest()
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), fallback)
    response = await rpc(Request(method="GET", path="/depth", endpoint=OVER_REST))
    assert (response.body, sockets.made, len(fallback.requests)) == (b"rest", [], 1)
    await rpc.aclose()


async def test_answers_out_of_order_reach_their_own_callers() -> None:
    """Two calls in flight: each gets the answer with its id, whatever order they come in."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    first, second = asyncio.ensure_future(rpc(order("/a"))), asyncio.ensure_future(rpc(order("/b")))
    frames = await sent(sockets, 2)
    ids = {frame["path"]: frame["id"] for frame in frames}
    sockets.made[0].feed(answer(ids["/b"], "b"), answer(ids["/a"], "a"))  # type: ignore[arg-type]
    assert ((await first).body, (await second).body) == (b"a", b"b")
    assert len(sockets.made) == 1
    await rpc.aclose()


async def test_a_connection_lost_under_a_call_is_disconnected_with_the_request_sent() -> None:
    """The venue may have acted on a written request: Disconnected(sent=True), for Retry to reconcile."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    call = asyncio.ensure_future(rpc(order()))
    await sent(sockets)
    sockets.made[0].feed(WsFrame.close(1006))
    with pytest.raises(Disconnected) as lost:
        await call
    assert lost.value.sent is True
    await rpc.aclose()


async def test_the_next_call_after_a_loss_opens_a_new_connection() -> None:
    """A lost socket is replaced on the next call, which is answered there."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    call = asyncio.ensure_future(rpc(order()))
    await sent(sockets)
    sockets.made[0].feed(WsFrame.close(1001))
    with pytest.raises(Disconnected):
        await call
    assert (await answered(rpc, sockets, on=1)).status == 200
    assert len(sockets.made) == 2
    await rpc.aclose()


async def test_a_connection_that_cannot_be_opened_is_a_connect_error() -> None:
    """Nothing left the client: ConnectError, which Retry may re-send; the next call tries again."""
    sockets = Sockets(fail_connect=1)
    rpc = WsRpc(sockets, Codec(), rest())
    with pytest.raises(ConnectError):
        await rpc(order())
    assert (await answered(rpc, sockets, on=1)).status == 200
    await rpc.aclose()


async def test_concurrent_calls_share_one_opening() -> None:
    """Ten calls finding no connection open one socket between them, not ten."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    calls = [asyncio.ensure_future(rpc(order())) for _ in range(10)]
    frames = await sent(sockets, 10)
    sockets.made[0].feed(*(answer(frame["id"]) for frame in frames))  # type: ignore[arg-type]
    assert [r.status for r in await asyncio.gather(*calls)] == [200] * 10
    assert len(sockets.made) == 1
    await rpc.aclose()


async def test_every_opening_is_admitted_first() -> None:
    """``admit`` runs each connection attempt: the venue's connection limit is charged per socket."""
    admitted: list[str] = []

    async def admit(attempt: object) -> None:
        admitted.append("attempt")
        await attempt()  # type: ignore[operator]

    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), admit=admit)
    call = asyncio.ensure_future(rpc(order()))
    [frame] = await sent(sockets)
    sockets.made[0].feed(answer(frame["id"]))  # type: ignore[arg-type]
    await call
    assert (admitted, sockets.made[0].connects) == (["attempt"], 1)
    await rpc.aclose()


async def test_a_refused_admission_opens_nothing() -> None:
    """A connection attempt the limiter refuses is not made, and the call gets the limiter's error."""
    async def admit(attempt: object) -> None:
        raise ConnectError("no room")

    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), admit=admit)
    with pytest.raises(ConnectError, match="no room"):
        await rpc(order())
    assert sockets.made[0].connects == 0
    await rpc.aclose()


async def test_an_unanswered_call_times_out() -> None:
    """No answer within ``timeout``: Timeout, a typed error, never a hang."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=0.05)
    with pytest.raises(Timeout):
        await rpc(order())
    await rpc.aclose()


async def test_a_timeout_on_a_silent_socket_drops_the_socket() -> None:
    """Not a frame while a call waited its timeout: the socket is taken for dead and the next call opens another."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=0.05)
    with pytest.raises(Timeout):
        await rpc(order())
    assert (await answered(rpc, sockets, on=1)).status == 200
    await rpc.aclose()


async def test_a_timeout_on_a_socket_that_answers_others_keeps_the_socket() -> None:
    """One late answer on a socket that answers other calls: that call times out, the socket stays."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=0.2)
    late = asyncio.ensure_future(rpc(order("/late")))
    [first] = await sent(sockets)
    await asyncio.sleep(0.05)
    other = asyncio.ensure_future(rpc(order("/other")))
    frames = await sent(sockets, 2)
    sockets.made[0].feed(answer(frames[1]["id"]))  # type: ignore[arg-type]
    assert (await other).status == 200
    with pytest.raises(Timeout):
        await late
    assert first["path"] == "/late" and len(sockets.made) == 1
    await rpc.aclose()


async def test_a_silent_socket_is_pinged_then_dropped() -> None:
    """Silent for ``silence``: pinged; silent as long again: lost, and the waiting call is Disconnected."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=5.0, silence=0.05)
    with pytest.raises(Disconnected) as lost:
        await rpc(order())
    assert lost.value.sent is True
    assert len(sockets.made[0].pings) == 1
    await rpc.aclose()


async def test_a_codec_ping_is_sent_as_a_message_instead_of_a_protocol_ping() -> None:
    """Silent, a venue with an application-level ping gets that message, not a protocol ping."""
    sockets = Sockets()
    rpc = WsRpc(sockets, AppPing(), rest(), timeout=5.0, silence=0.05)
    with pytest.raises(Disconnected):
        await rpc(order())
    assert (sockets.made[0].sent[-1], sockets.made[0].pings) == ('{"op": "ping"}', [])
    await rpc.aclose()


async def test_an_answer_that_retires_the_connection_moves_the_next_call() -> None:
    """An answer saying the service restarts: its caller gets it, the next call goes on a new connection."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    call = asyncio.ensure_future(rpc(order()))
    [frame] = await sent(sockets)
    sockets.made[0].feed(orjson.dumps({"id": frame["id"], "status": 503, "body": "restarting",
                                       "shutdown": True}).decode())
    assert (await call).status == 503
    again = asyncio.ensure_future(rpc(order()))
    [moved] = await sent(sockets, on=1)
    sockets.made[1].feed(answer(moved["id"]))  # type: ignore[arg-type]
    assert (await again).status == 200 and sockets.made[0].connected is False
    await rpc.aclose()


async def test_a_pong_ends_the_silence() -> None:
    """A frame after the ping (the venue's pong) keeps the socket."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=5.0, silence=0.05)
    call = asyncio.ensure_future(rpc(order()))
    [frame] = await sent(sockets)
    ws = sockets.made[0]
    for _ in range(100):
        if ws.pings:
            break
        await asyncio.sleep(0.01)
    ws.feed(WsFrame.pong(b""))
    await asyncio.sleep(0.03)
    ws.feed(answer(frame["id"]))  # type: ignore[arg-type]
    assert (await call).status == 200
    await rpc.aclose()


async def test_a_frame_answering_nothing_of_ours_is_skipped() -> None:
    """An event, or an answer to a call already given up, ends no call and keeps the socket."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    call = asyncio.ensure_future(rpc(order()))
    [frame] = await sent(sockets)
    sockets.made[0].feed('{"event": "x"}', answer(999), answer(frame["id"]))  # type: ignore[arg-type]
    assert (await call).status == 200
    await rpc.aclose()


async def test_a_codec_that_fails_loses_the_socket_not_the_caller() -> None:
    """A frame the codec raises on: the waiting call gets a typed error at once, not a hang."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    call = asyncio.ensure_future(rpc(order()))
    await sent(sockets)
    sockets.made[0].feed("not json")
    with pytest.raises(Disconnected):
        await call
    await rpc.aclose()


async def test_aclose_ends_waiting_calls_and_refuses_new_ones() -> None:
    """Closing: a call in flight is Disconnected(sent=True), a later one a ConfigError; the fallback closes too."""
    fallback = rest()
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), fallback)
    call = asyncio.ensure_future(rpc(order()))
    await sent(sockets)
    await rpc.aclose()
    with pytest.raises(Disconnected):
        await call
    with pytest.raises(ConfigError, match="closed"):
        await rpc(order())
    assert (fallback.closed, sockets.made[0].connected) == (True, False)


async def test_a_shutdown_notice_moves_new_calls_to_a_new_connection() -> None:
    """After the venue's notice, the call in flight is answered on the old socket, the next goes to a new one."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest())
    first = asyncio.ensure_future(rpc(order("/first")))
    [frame] = await sent(sockets)
    old = sockets.made[0]
    old.feed('{"shutdown": true}')
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(rpc(order("/second")))
    [moved] = await sent(sockets, on=1)
    old.feed(answer(frame["id"], "first"))  # type: ignore[arg-type]
    sockets.made[1].feed(answer(moved["id"], "second"))  # type: ignore[arg-type]
    assert ((await first).body, (await second).body, moved["path"]) == (b"first", b"second", "/second")
    await asyncio.sleep(0.01)
    assert (len(old.sent), old.connected, sockets.made[1].connected) == (1, False, True)
    await rpc.aclose()


async def test_a_connection_past_max_age_is_replaced_before_the_venue_ends_it() -> None:
    """Older than ``max_age`` (Binance ends each after 24 h): the next call opens a new one, the old one closes."""
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), max_age=0.05)
    call = asyncio.ensure_future(rpc(order()))
    [frame] = await sent(sockets)
    sockets.made[0].feed(answer(frame["id"]))  # type: ignore[arg-type]
    await call
    await asyncio.sleep(0.06)
    assert (await answered(rpc, sockets, on=1)).status == 200
    assert (sockets.made[0].connected, len(sockets.made)) == (False, 2)
    await rpc.aclose()


ACCEPTED, REFUSED = '{"login": "ok"}', '{"login": "no"}'


def handshake() -> Handshake:
    """Sends ``{"login": true}``; ``ACCEPTED`` accepts it, ``REFUSED`` refuses it, any other frame is not its answer."""
    def verdict(data: str | bytes) -> bool | AuthenticationError | None:
        said = orjson.loads(data).get("login")
        return None if said is None else True if said == "ok" else AuthenticationError("invalid sign")
    return Handshake(lambda: '{"login": true}', verdict)


class LoggingIn(Sockets):
    """Sockets that answer the login with ``reply`` (after a pong and an unrelated frame), queued at birth."""

    def __init__(self, *replies: WsFrame | str | BaseException) -> None:
        super().__init__()
        self.replies = replies

    def __call__(self) -> FakeWs:
        ws = super().__call__()
        ws.feed(WsFrame.pong(b""), '{"event": "x"}', *self.replies)
        return ws


async def test_a_login_runs_once_per_connection_before_its_first_call() -> None:
    """The login message goes first on each new socket, only once, and the calls follow once it is accepted."""
    sockets = LoggingIn(ACCEPTED)
    rpc = WsRpc(sockets, Codec(), rest(), login=handshake())
    calls = [asyncio.ensure_future(rpc(order())) for _ in range(2)]
    frames = await sent(sockets, 3)
    sockets.made[0].feed(*(answer(frame["id"]) for frame in frames[1:]))  # type: ignore[arg-type]
    await asyncio.gather(*calls)
    assert frames[0] == {"login": True} and all("id" in frame for frame in frames[1:])
    await rpc.aclose()


async def test_a_refused_login_is_the_callers_error_and_nothing_is_sent() -> None:
    """The verdict's typed error reaches the call; no request was written and the socket is closed."""
    sockets = LoggingIn(REFUSED)
    rpc = WsRpc(sockets, Codec(), rest(), login=handshake())
    with pytest.raises(AuthenticationError):
        await rpc(order())
    assert (sockets.made[0].sent, sockets.made[0].connected) == (['{"login": true}'], False)
    await rpc.aclose()


@pytest.mark.parametrize("ending", [WsFrame.close(1008), Disconnected("gone", sent=True)])
async def test_a_socket_lost_before_the_logins_answer_is_a_connect_error(ending: WsFrame | BaseException) -> None:
    """Closed or dropped before the verdict: no call went on it, so a ConnectError (safe to send again)."""
    sockets = LoggingIn(ending)
    rpc = WsRpc(sockets, Codec(), rest(), login=handshake())
    with pytest.raises(ConnectError, match="login"):
        await rpc(order())
    await rpc.aclose()


async def test_an_unanswered_login_is_a_connect_error() -> None:
    """A login that never hears back ends after ``timeout`` as a ConnectError: nothing was sent."""
    sockets = LoggingIn()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=0.05, login=handshake())
    with pytest.raises(ConnectError, match="login"):
        await rpc(order())
    await rpc.aclose()


async def test_each_transport_counts_its_ids_from_its_own_random_start() -> None:
    """A restarted process does not reuse its past ids (Bybit refuses a seen reqId): two transports start apart."""
    firsts = []
    for _ in range(2):
        sockets = Sockets()
        rpc = WsRpc(sockets, Codec(), rest())
        call = asyncio.ensure_future(rpc(order()))
        [frame] = await sent(sockets)
        firsts.append(frame["id"])
        sockets.made[0].feed(answer(frame["id"]))  # type: ignore[arg-type]
        await call
        await rpc.aclose()
    assert firsts[0] != firsts[1] and 1 not in firsts


async def test_each_connection_end_is_told_with_its_reason() -> None:
    """``ended`` hears why each connection ended: the venue's close, then the transport's own close."""
    reasons: list[str] = []
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), ended=reasons.append)
    assert (await answered(rpc, sockets)).status == 200
    sockets.made[0].feed(WsFrame.close(1001))
    await asyncio.sleep(0.01)
    assert (await answered(rpc, sockets, on=1)).status == 200
    await rpc.aclose()
    assert reasons == ["server_close", "closed"]


async def test_a_silent_connection_is_told_as_silent() -> None:
    """Pinged and still silent: the end's reason is ``silent``."""
    reasons: list[str] = []
    sockets = Sockets()
    rpc = WsRpc(sockets, Codec(), rest(), timeout=5.0, silence=0.05, ended=reasons.append)
    with pytest.raises(Disconnected):
        await rpc(order())
    assert reasons == ["silent"]
    await rpc.aclose()


def test_timeouts_are_checked() -> None:
    """A zero, negative or infinite timeout is a ConfigError when built."""
    with pytest.raises(ConfigError):
        WsRpc(Sockets(), Codec(), rest(), timeout=0)
    with pytest.raises(ConfigError):
        WsRpc(Sockets(), Codec(), rest(), silence=float("inf"))
    with pytest.raises(ConfigError):
        WsRpc(Sockets(), Codec(), rest(), max_age=-1)

"""Bybit over the WebSocket Trade API (/v5/trade): the frames sent, answers read as REST's, the login.

Examples from bybit-exchange/docs docs/v5/websocket/trade/guideline.mdx (commit 072c197d).
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest

import lotusx
from lotusx.exchanges.bybit import VENUE, VENUE_LINEAR, Bybit
from lotusx.exchanges.bybit import endpoints as ep
from lotusx.exchanges.bybit.connector import _post
from lotusx.exchanges.bybit.errors import classify
from lotusx.exchanges.bybit.schemas import Batch, Envelope, Placed
from lotusx.exchanges.bybit.ws_trade import OPS, PATH, Codec, TradeSigner, login
from lotusx.kernel import errors as e
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.layers.limiter import Usage
from lotusx.layers.ratelimit import ENDPOINT_POOL
from lotusx.signers import BybitHmac
from lotusx.testing import FakeClock
from lotusx.testing.ws import FakeWs
from lotusx.transport.ws_rpc import WsRpc

KEY, SECRET = "XXXXXX", "sEcReT-never-shown-0123456789"
# The guideline's "Create/Amend/Cancel Order" request example.
DOC_TIMESTAMP, DOC_RECV_WINDOW = 1711001595207, 8000
DOC_ORDER = {"symbol": "ETHUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.2", "price": "2800",
             "category": "linear", "timeInForce": "PostOnly"}
DOC_ANSWER = b"""{
    "reqId": "%s", "retCode": 0, "retMsg": "OK", "op": "order.create",
    "data": {"orderId": "a4c1718e-fe53-4659-a118-1f6ecce04ad9", "orderLinkId": ""},
    "retExtInfo": {},
    "header": {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "9", "X-Bapi-Limit-Reset-Timestamp": "1711001595208",
               "Traceid": "38b7977b430f9bd228f4b19724794dfd", "Timenow": "1711001595209"},
    "connId": "cnt5leec0hvan15eukcg-2v"
}"""
# The guideline's batch response example (its first two orders).
DOC_BATCH_ANSWER = b"""{"reqId": "7", "retCode": 0, "retMsg": "OK", "op": "order.create-batch",
    "data": {"list": [
        {"category": "linear", "symbol": "SOLUSDT", "orderId": "", "orderLinkId": "batch-000", "createAt": ""},
        {"category": "linear", "symbol": "SOLUSDT", "orderId": "", "orderLinkId": "batch-001", "createAt": ""}]},
    "retExtInfo": {"list": [{"code": 10001, "msg": "position idx not match position mode"},
                            {"code": 10001, "msg": "position idx not match position mode"}]},
    "header": {"Timenow": "1740453408556", "X-Bapi-Limit": "150", "X-Bapi-Limit-Status": "147",
               "X-Bapi-Limit-Reset-Timestamp": "1740453408555", "Traceid": "0e32b551b3e17aae77651aadf6a5be80"},
    "connId": "cupviqn88smf24t2kpb0-536o"}"""


def signer() -> TradeSigner:
    return TradeSigner(BybitHmac(KEY, SECRET, recv_window=DOC_RECV_WINDOW))


def doc_order(endpoint: Endpoint = ep.LINEAR_ORDER_CREATE) -> Request:
    """The example order, built as the connector builds a POST, signed as ws_trading signs it."""
    return signer().sign(_post(endpoint, DOC_ORDER), DOC_TIMESTAMP)


def answer(code: int, msg: str = "", request_id: int = 3, data: str = "{}") -> bytes:
    return orjson.dumps({"reqId": str(request_id), "retCode": code, "retMsg": msg, "op": "order.create",
                         "data": orjson.Fragment(data), "retExtInfo": {},
                         "header": {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "9",
                                    "X-Bapi-Limit-Reset-Timestamp": "1711001595208", "Timenow": "1711001595209"}})


def decoded(data: bytes) -> Response:
    result = Codec().decode(data)
    assert result is not None
    return result[1]


def test_an_order_create_is_the_guidelines_frame() -> None:
    """``{"reqId", "header", "op", "args"}``: the REST body as the one arg, the signer's timestamp and window."""
    text = Codec().encode(doc_order(), 5)
    assert text is not None
    frame = orjson.loads(text)
    assert list(frame) == ["reqId", "header", "op", "args"]
    assert frame == {"reqId": "5", "header": {"X-BAPI-TIMESTAMP": "1711001595207", "X-BAPI-RECV-WINDOW": "8000"},
                     "op": "order.create", "args": [DOC_ORDER]}


def test_the_body_goes_into_args_as_sent() -> None:
    """The REST JSON body is the arg byte for byte: what the connector built is what the venue reads."""
    request = doc_order()
    text = Codec().encode(request, 5)
    assert text is not None and request.body is not None and request.body.decode() in text


def test_a_call_over_the_socket_is_stamped_not_signed() -> None:
    """Auth is per connection: timestamp and recv window only, no signature, no key."""
    names = [name for name, _ in doc_order().headers]
    assert names == ["Content-Type", "X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"]


def test_a_call_that_stays_on_rest_is_signed_as_rest() -> None:
    """Cancel-all, reads...: HeaderHmac's own signature headers."""
    rest = BybitHmac(KEY, SECRET, recv_window=DOC_RECV_WINDOW)
    request = _post(ep.ORDER_CANCEL_ALL, {"category": "spot"})
    assert TradeSigner(rest).sign(request, DOC_TIMESTAMP) == rest.sign(request, DOC_TIMESTAMP)


@pytest.mark.parametrize(("endpoint", "op"), [
    (ep.ORDER_CREATE, "order.create"), (ep.LINEAR_ORDER_CREATE, "order.create"),
    (ep.ORDER_AMEND, "order.amend"), (ep.LINEAR_ORDER_AMEND, "order.amend"),
    (ep.ORDER_CANCEL, "order.cancel"), (ep.LINEAR_ORDER_CANCEL, "order.cancel"),
    (ep.ORDER_CREATE_BATCH, "order.create-batch"), (ep.LINEAR_ORDER_CREATE_BATCH, "order.create-batch"),
    (ep.ORDER_AMEND_BATCH, "order.amend-batch"), (ep.LINEAR_ORDER_AMEND_BATCH, "order.amend-batch"),
    (ep.ORDER_CANCEL_BATCH, "order.cancel-batch"), (ep.LINEAR_ORDER_CANCEL_BATCH, "order.cancel-batch"),
])
def test_each_order_call_has_its_documented_op(endpoint: Endpoint, op: str) -> None:
    """Both categories' create, amend, cancel and their batches: the guideline's ops."""
    text = Codec().encode(doc_order(endpoint), 1)
    assert text is not None and orjson.loads(text)["op"] == op and OPS[endpoint.name] == op


@pytest.mark.parametrize("endpoint", [ep.ORDER_CANCEL_ALL, ep.LINEAR_ORDER_CANCEL_ALL, ep.ORDER_REALTIME,
                                      ep.ORDER_HISTORY, ep.WALLET_BALANCE, ep.TICKERS, ep.WITHDRAW, ep.DCP_SET])
def test_other_calls_are_left_to_rest(endpoint: Endpoint) -> None:
    """The trade WS has no op for them: declined, so they go over REST."""
    assert Codec().encode(Request(method=endpoint.method, path=endpoint.path, endpoint=endpoint), 1) is None


def test_the_guidelines_answer_is_the_rest_envelope() -> None:
    """Status 200, ``data`` as ``result``, ``Timenow`` as ``time``: the connector's own schema reads it."""
    request_id, response = Codec().decode(DOC_ANSWER % b"12") or (0, None)
    assert request_id == 12 and response is not None and response.status == 200
    envelope = response.decode(Envelope[Placed])
    assert envelope.result.orderId == "a4c1718e-fe53-4659-a118-1f6ecce04ad9"
    assert envelope.retMsg == "OK" and envelope.time == 1711001595209
    assert classify(doc_order(), response) is None


def test_the_data_is_kept_as_the_venue_sent_it() -> None:
    """Not decoded and encoded again: the bytes of ``data`` are the body's ``result``."""
    data = '{"orderId":  "1",   "orderLinkId": "x"}'
    assert f'"result":{data}'.encode() in decoded(answer(0, "OK", data=data)).body


def test_the_usage_headers_read_as_rests() -> None:
    """X-Bapi-Limit 10, Status 9: one used in the endpoint's pool, through the venue's own parser."""
    response = decoded(DOC_ANSWER % b"1")
    assert dict(response.headers) == {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "9",
                                      "X-Bapi-Limit-Reset-Timestamp": "1711001595208"}
    assert [usage for parser in VENUE.usage for usage in parser.read(response)] == [Usage(ENDPOINT_POOL, 1)]


def test_a_refusal_classifies_as_the_same_body_over_rest() -> None:
    """170131 Balance insufficient: the same error type as REST's answer."""
    request = doc_order(ep.ORDER_CREATE)
    rest = Response(status=200, body=b'{"retCode":170131,"retMsg":"Balance insufficient","result":{},'
                                      b'"retExtInfo":{},"time":1711001595209}')
    over_ws = classify(request, decoded(answer(170131, "Balance insufficient")))
    assert type(over_ws) is type(classify(request, rest)) is e.InsufficientBalance


@pytest.mark.parametrize(("code", "kind"), [
    (10016, e.ServerError), (10019, e.ServerError), (20006, e.ServerError), (10404, e.InvalidRequest),
    (10403, e.RateLimited), (10429, e.RateLimited), (20003, e.RateLimited),
])
@pytest.mark.parametrize("endpoint", [ep.ORDER_CREATE, ep.LINEAR_ORDER_CANCEL, ep.ORDER_AMEND_BATCH])
def test_the_trade_ws_codes_classify_as_mapped(code: int, kind: type[e.LotusXError], endpoint: Endpoint) -> None:
    """Restarting or duplicate reqId: not acted on, retried; throttles: RateLimited; a bad op: a refusal."""
    error = classify(doc_order(endpoint), decoded(answer(code, "x")))
    assert type(error) is kind


def test_a_batch_answer_keeps_its_codes() -> None:
    """retExtInfo.list, each order's outcome, reaches the connector's batch schema."""
    batch = decoded(DOC_BATCH_ANSWER).decode(Batch)
    assert [row.orderLinkId for row in batch.result.rows] == ["batch-000", "batch-001"]
    assert [row.code for row in batch.retExtInfo.rows] == [10001, 10001]


@pytest.mark.parametrize("frame", [
    b'{"retCode":0,"retMsg":"OK","op":"pong","data":["1711002002529"],"connId":"c"}',
    b'{"retCode":0,"retMsg":"OK","op":"auth","connId":"c"}',
    DOC_ANSWER % b"test-005",
    DOC_ANSWER % b"12a",
    DOC_ANSWER % b"",
    b'{"reqId":"4","op":"order.create"}',
    b"not json",
    "[]",
])
def test_frames_that_answer_nothing_of_ours_are_none(frame: str | bytes) -> None:
    """Pongs, a late auth answer, a reqId not ours, no retCode: nobody's call ends."""
    assert Codec().decode(frame) is None


def test_a_restarting_answer_retires_the_connection() -> None:
    """10019 "ws trade service is restarting [...] build new connection": the next call goes on a new one."""
    assert Codec().retires(b'{"reqId":"3","retCode":10019,"retMsg":"restarting","op":"order.create"}')
    assert Codec().retires('{"reqId": "3", "retCode": 10019, "retMsg": "restarting", "op": "order.create"}')


def test_a_10016_answer_retires_the_connection_too() -> None:
    """10016 is "1. internal server error; 2. Service is restarting": a new connection serves either."""
    assert Codec().retires(b'{"reqId":"3","retCode":10016,"retMsg":"Service is restarting","op":"order.create"}')
    assert Codec().retires('{"reqId": "3", "retCode": 10016, "retMsg": "", "op": "order.cancel"}')


def test_other_answers_do_not_retire_the_connection() -> None:
    """An accepted order, a refusal, an order id that happens to hold 10019: the connection stays."""
    assert not Codec().retires(DOC_ANSWER % b"5")
    assert not Codec().retires(b'{"reqId":"3","retCode":170131,"retMsg":"x","data":{"orderId":"10019"}}')
    assert not Codec().retires(b'{"reqId":"3","retCode":170131,"retMsg":"x","data":{"orderLinkId":"10016"}}')


def test_silence_is_probed_with_the_guidelines_ping() -> None:
    """The guideline's Ping: ``{"op": "ping"}``, answered by a pong frame."""
    assert orjson.loads(Codec().ping()) == {"op": "ping"}


def credentials() -> Credentials:
    return Credentials(api_key=KEY, secret=SECRET)


def test_login_sends_the_auth_op_with_expires_ten_seconds_past_the_venues_now() -> None:
    """``{"op": "auth", "args": [key, expires, signature]}``, expires ten seconds past the venue's clock."""
    handshake = login(credentials(), FakeClock(1711010111.452))
    assert orjson.loads(handshake.message()) == BybitHmac(KEY, SECRET).ws_auth(1711010121452)


@pytest.mark.parametrize("code", [0, 20001])
def test_the_auth_answer_accepts_the_login(code: int) -> None:
    """0 "auth success", 20001 "repeat auth" (already logged in): accepted."""
    answer = orjson.dumps({"retCode": code, "retMsg": "OK", "op": "auth", "connId": "cnt5leec0hvan15eukcg-2t"})
    assert login(credentials(), FakeClock()).verdict(answer) is True


@pytest.mark.parametrize("frame", ['{"retCode":0,"retMsg":"OK","op":"pong","data":["1"]}', '{"op":"auth"}',
                                   "not json"])
def test_other_frames_are_not_the_logins_answer(frame: str) -> None:
    """A pong, an auth frame without a code, a frame that is no JSON: the login waits on."""
    assert login(credentials(), FakeClock()).verdict(frame) is None


@pytest.mark.parametrize(("code", "kind"), [(10004, e.InvalidSignature), (10003, e.AuthenticationError),
                                            (10001, e.TimestampOutOfWindow)])
def test_a_refused_login_is_typed_and_shows_no_secret(code: int, kind: type[e.LotusXError]) -> None:
    """10004 invalid sign, 10001 param error (an expires already past), others refused: no secret in the text."""
    refusal = orjson.dumps({"retCode": code, "retMsg": f"refused origin_string[{KEY}{SECRET}]", "op": "auth"})
    verdict = login(credentials(), FakeClock()).verdict(refusal)
    assert isinstance(verdict, kind)
    assert SECRET not in str(verdict) and SECRET not in repr(verdict)
    assert KEY not in str(verdict)


@pytest.mark.parametrize("venue", ["bybit", "bybit-linear"])
async def test_both_venues_trade_over_the_trade_ws(venue: str) -> None:
    """``ws_trading=True`` builds on the trade WS of stream.bybit.com, the fallback REST."""
    async with lotusx.connect(venue, credentials=credentials(), ws_trading=True) as ex:
        assert isinstance(ex, Bybit)
        assert ex.parts.ws_api_url + PATH == "wss://stream.bybit.com/v5/trade"
        wire: Any = ex.rest.transport
        assert isinstance(wire.transport, WsRpc) and isinstance(wire.transport.codec, Codec)


def test_both_declarations_charge_the_ws_connection_pool() -> None:
    """A connection attempt counts against stream.bybit.com's 500 per 5 minutes (docs/v5/rate-limit)."""
    for venue in (VENUE, VENUE_LINEAR):
        assert venue.ws_trading is not None and venue.ws_trading.connect is ep.WS_CONNECT


def test_the_codec_emits_valid_json_for_any_body() -> None:
    """A body with non-ASCII text still makes one JSON frame."""
    request = signer().sign(_post(ep.ORDER_CREATE, {"symbol": "ÉTH", "category": "spot"}), 1)
    text = Codec().encode(request, 9)
    assert text is not None and msgspec.json.decode(text)["args"][0]["symbol"] == "ÉTH"


class _Answering(FakeWs):
    """Answers each order frame with the guideline's example under its reqId."""

    async def send(self, data: str | bytes) -> None:
        await super().send(data)
        frame = orjson.loads(data)
        if "reqId" in frame:
            self.feed((DOC_ANSWER % frame["reqId"].encode()).decode())


async def test_a_call_goes_on_the_logged_in_socket_and_gets_its_answer() -> None:
    """Through WsRpc: the auth first, then the order frame; its answer is REST's envelope, the rest is REST's."""
    session = _Answering(['{"retCode":0,"retMsg":"OK","op":"auth","connId":"c"}'])

    async def rest(request: Request) -> Response:
        return Response(status=200, body=b"{}")

    rpc = WsRpc(lambda: session, Codec(), rest, login=login(credentials(), FakeClock()))
    response = await rpc(doc_order())
    assert orjson.loads(session.sent[0])["op"] == "auth"
    assert response.decode(Envelope[Placed]).result.orderId == "a4c1718e-fe53-4659-a118-1f6ecce04ad9"
    cancel_all = _post(ep.ORDER_CANCEL_ALL, {"category": "spot"})
    assert (await rpc(cancel_all)).body == b"{}" and len(session.sent) == 2
    await rpc.aclose()

"""Binance over the WebSocket API: signing, the frames sent, and answers read as REST's (web-socket-api.md)."""

from __future__ import annotations

import base64
import dataclasses

import orjson
import pytest
from nacl.signing import SigningKey

import lotusx
from lotusx.exchanges.binance import VENUE as BINANCE
from lotusx.exchanges.binance import endpoints as ep
from lotusx.exchanges.binance.errors import classify
from lotusx.exchanges.binance.ws_api import METHODS, Codec, WsApiSigner
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request
from lotusx.signers import QueryEd25519, QueryHmac

# web-socket-api.md "SIGNED request example (HMAC)": the example key, secret and parameters.
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_TIMESTAMP = 1645423376532


def doc_order(symbol: str = "BTCUSDT", side: str = "SELL", quantity: str = "0.01000000",
              price: str = "52000.00") -> Request:
    query = (("symbol", symbol), ("side", side), ("type", "LIMIT"), ("timeInForce", "GTC"),
             ("quantity", quantity), ("price", price))
    return Request(method="POST", path=ep.PLACE_ORDER.path, query=query, endpoint=ep.PLACE_ORDER)


def test_the_docs_hmac_example_signs_to_the_docs_signature() -> None:
    """The ASCII example's params, sorted with apiKey, recvWindow and timestamp, sign to aa1b5712..."""
    signer = WsApiSigner(QueryHmac(DOC_KEY, DOC_SECRET, recv_window=100))
    signed = signer.sign(doc_order(), DOC_TIMESTAMP)
    assert dict(signed.query)["signature"] == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_the_docs_non_ascii_example_signs_its_utf8_payload() -> None:
    """A symbol outside ASCII is signed as its UTF-8 bytes, unencoded: the docs' b33892ae..."""
    signer = WsApiSigner(QueryHmac(DOC_KEY, DOC_SECRET, recv_window=5000))
    symbol = "\uff11\uff12\uff13\uff14\uff15\uff16"  # the docs' full-width 123456
    signed = signer.sign(doc_order(symbol, "BUY", "1.00000000", "0.10000000"), DOC_TIMESTAMP)
    assert dict(signed.query)["signature"] == "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"


def test_signed_params_are_sorted_by_name_with_the_signature_last() -> None:
    """apiKey, recvWindow and timestamp join the params in name order; no key header (the key is a param)."""
    signed = WsApiSigner(QueryHmac(DOC_KEY, DOC_SECRET, recv_window=100)).sign(doc_order(), DOC_TIMESTAMP)
    names = [name for name, _ in signed.query]
    assert names == ["apiKey", "price", "quantity", "recvWindow", "side", "symbol", "timeInForce", "timestamp",
                     "type", "signature"]
    assert signed.headers == ()


def test_an_ed25519_signature_verifies_over_the_sorted_payload() -> None:
    """Ed25519 keys sign the same sorted payload, base64, verifiable with the public key."""
    key = SigningKey(bytes(range(32)))
    signer = WsApiSigner(QueryEd25519("k" * 64, key, recv_window=100))
    signed = signer.sign(doc_order(), DOC_TIMESTAMP)
    params = dict(signed.query)
    payload = "&".join(f"{name}={value}" for name, value in signed.query if name != "signature").encode()
    assert key.verify_key.verify(payload, base64.b64decode(params["signature"])) == payload  # raises if forged


def test_a_call_that_stays_on_rest_is_signed_as_rest() -> None:
    """Depth, account...: the REST query signature and the X-MBX-APIKEY header, no apiKey param."""
    rest = QueryHmac(DOC_KEY, DOC_SECRET, recv_window=100)
    request = Request(method="GET", path=ep.ACCOUNT.path, endpoint=ep.ACCOUNT)
    assert WsApiSigner(rest).sign(request, DOC_TIMESTAMP) == rest.sign(request, DOC_TIMESTAMP)


def test_the_signed_request_shows_no_key_in_its_repr() -> None:
    """The apiKey now rides in the params: the request's repr still shows none of them."""
    signed = WsApiSigner(QueryHmac(DOC_KEY, DOC_SECRET)).sign(doc_order(), DOC_TIMESTAMP)
    assert DOC_KEY not in repr(signed) and "signature" not in repr(signed)


def test_the_frame_names_the_method_and_sends_int_params_as_numbers() -> None:
    """``{"id", "method", "params"}``: timestamp, recvWindow and orderId as JSON numbers, the rest as sent."""
    signed = WsApiSigner(QueryHmac(DOC_KEY, DOC_SECRET, recv_window=100)).sign(doc_order(), DOC_TIMESTAMP)
    frame = orjson.loads(Codec().encode(signed, 7) or "")
    assert (frame["id"], frame["method"]) == (7, "order.place")
    assert (frame["params"]["timestamp"], frame["params"]["recvWindow"]) == (DOC_TIMESTAMP, 100)
    assert (frame["params"]["price"], frame["params"]["apiKey"]) == ("52000.00", DOC_KEY)
    cancel = Request(method="DELETE", path=ep.CANCEL_ORDER.path, query=(("symbol", "BTCUSDT"), ("orderId", "42")),
                     endpoint=ep.CANCEL_ORDER)
    assert orjson.loads(Codec().encode(cancel, 8) or "")["params"]["orderId"] == 42


@pytest.mark.parametrize(("endpoint", "method"), [
    (ep.PLACE_ORDER, "order.place"), (ep.CANCEL_ORDER, "order.cancel"), (ep.CANCEL_REPLACE, "order.cancelReplace"),
    (ep.AMEND_KEEP_PRIORITY, "order.amend.keepPriority"), (ep.CANCEL_ALL, "openOrders.cancelAll"),
    (ep.GET_ORDER, "order.status"), (ep.OPEN_ORDERS, "openOrders.status"), (ep.ALL_OPEN_ORDERS, "openOrders.status"),
])
def test_each_order_call_has_its_documented_method(endpoint: ep.Endpoint, method: str) -> None:
    """The order calls map to web-socket-api.md's methods."""
    request = Request(method=endpoint.method, path=endpoint.path, endpoint=endpoint)
    assert orjson.loads(Codec().encode(request, 1) or "")["method"] == method == METHODS[endpoint.name]


def test_other_calls_are_left_to_rest() -> None:
    """Depth, exchange info, account: the codec declines them (None), so they go by REST."""
    for endpoint in (ep.depth(100), ep.EXCHANGE_INFO, ep.ACCOUNT, ep.TIME, ep.MY_TRADES):
        assert Codec().encode(Request(method=endpoint.method, path=endpoint.path, endpoint=endpoint), 1) is None


ORDER_COUNTS = [
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50, "count": 12},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000, "count": 4043},
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 321},
]


def test_an_answer_is_the_result_as_body_with_rate_limits_as_rest_headers() -> None:
    """The docs' success answer: status 200, the result as the body, rateLimits as X-MBX-* usage headers."""
    result = {"symbol": "BTCUSDT", "orderId": 12510053279, "status": "NEW", "price": "0.10000000"}
    frame = orjson.dumps({"id": 3, "status": 200, "result": result, "rateLimits": ORDER_COUNTS})
    request_id, response = Codec().decode(frame) or (None, None)
    assert request_id == 3 and response is not None
    assert (response.status, orjson.loads(response.body)) == (200, result)
    assert dict(response.headers) == {"X-MBX-ORDER-COUNT-10S": "12", "X-MBX-ORDER-COUNT-1D": "4043",
                                      "X-MBX-USED-WEIGHT-1M": "321"}


def test_the_usage_headers_read_as_rest_usage() -> None:
    """Binance's own usage parsers read the translated headers as the pools and windows REST reports."""
    frame = orjson.dumps({"id": 3, "status": 200, "result": {}, "rateLimits": ORDER_COUNTS})
    _, response = Codec().decode(frame) or (None, None)
    assert response is not None
    read = sorted((u.name, u.used, u.per_seconds) for parser in ep.USAGE for u in parser.read(response))
    assert read == [("ORDERS", 12, 10), ("ORDERS", 4043, 86_400), ("REQUEST_WEIGHT", 321, 60)]


def test_a_refusal_classifies_as_the_same_refusal_over_rest() -> None:
    """The docs' failed answer (400, -2010 insufficient balance) is the error REST's body would give."""
    error = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    _, response = Codec().decode(orjson.dumps({"id": 4, "status": 400, "error": error})) or (None, None)
    assert response is not None and orjson.loads(response.body) == error
    assert isinstance(classify(doc_order(), response), e.InsufficientBalance)


def test_a_throttle_says_when_to_come_back_from_the_venues_own_clock() -> None:
    """429 with data.retryAfter 2.5 s after data.serverTime: Retry-After 3 s, RateLimited.retry_after 3."""
    error = {"code": -1003, "msg": "Too many requests.", "data": {"serverTime": 1_000_000, "retryAfter": 1_002_500}}
    _, response = Codec().decode(orjson.dumps({"id": 5, "status": 429, "error": error})) or (None, None)
    assert response is not None and response.header("Retry-After") == "3"
    refused = classify(doc_order(), response)
    assert isinstance(refused, e.RateLimited) and refused.retry_after == 3


def test_frames_that_answer_nothing_of_ours_are_none() -> None:
    """A user data event, an answer with a string or null id, a frame that is no JSON: not a call's answer."""
    codec = Codec()
    assert codec.decode(b'{"subscriptionId": 0, "event": {"e": "executionReport"}}') is None
    assert codec.decode(b'{"id": "abc", "status": 200, "result": {}}') is None
    assert codec.decode(b'{"id": null, "status": 401, "error": {"code": -2015, "msg": "x"}}') is None
    assert codec.decode(b"not json") is None


def test_the_server_shutdown_event_retires_the_connection() -> None:
    """``{"event": {"e": "serverShutdown"}}`` retires it; an account event or a non-JSON frame does not."""
    codec = Codec()
    assert codec.retires(b'{"event": {"e": "serverShutdown", "E": 1770123456789}}') is True
    assert codec.retires(b'{"subscriptionId": 0, "event": {"e": "executionReport"}}') is False
    assert codec.retires(b"not json") is False
    assert codec.retires('{"id": 1, "status": 200, "result": {}}') is False


def test_silence_is_probed_with_a_protocol_ping() -> None:
    """The venue answers protocol pings: no application-level ping message."""
    assert Codec().ping() is None


async def test_a_venue_without_a_websocket_api_refuses_ws_trading() -> None:
    """A venue declaring none: ws_trading=True is a ConfigError on entering, before anything is sent."""
    without = dataclasses.replace(BINANCE, ws_trading=None)
    with pytest.raises(e.ConfigError, match="ws_trading"):
        async with lotusx.connect(without, ws_trading=True):
            pass


def test_a_ws_api_connection_is_charged_its_documented_weight() -> None:
    """Each connection attempt: one of the IP's WS API connections and 2 REQUEST_WEIGHT ("IP limits")."""
    assert dict(ep.WS_API_CONNECT.costs) == {"WS_API_CONNECTIONS": 1, "REQUEST_WEIGHT": 2}

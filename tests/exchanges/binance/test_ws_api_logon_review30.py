"""Binance WS API session.logon for Ed25519 keys: the logon, its verdicts, unsigned calls after it, revocation.

web-socket-api.md "Session Authentication", "Log in with API key (SIGNED)", "Regarding API key revocation".
"""

from __future__ import annotations

import base64

import orjson
import pytest
from nacl.signing import SigningKey

from lotusx.exchanges.binance import VENUE as BINANCE
from lotusx.exchanges.binance import endpoints as ep
from lotusx.exchanges.binance import ws_api_login as login
from lotusx.exchanges.binance import ws_api_signer
from lotusx.exchanges.binance.ws_api import Codec, WsApiSigner
from lotusx.kernel import errors as e
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Request
from lotusx.signers import QueryEd25519, QueryHmac
from lotusx.testing import FakeClock

SEED = bytes(range(32))
KEY = "k" * 64
NOW = 1_700_000_000.0


def ed25519() -> Credentials:
    return Credentials(KEY, SEED)  # type: ignore[arg-type]  # Credentials takes an Ed25519 seed as bytes


def hmac() -> Credentials:
    return Credentials(KEY, "s" * 64)


def place() -> Request:
    query = (("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "2"))
    return Request(method="POST", path=ep.PLACE_ORDER.path, query=query, endpoint=ep.PLACE_ORDER)


def logon_frame() -> dict[str, object]:
    handshake = login(ed25519(), FakeClock(NOW))
    assert handshake is not None
    frame: dict[str, object] = orjson.loads(handshake.message())
    return frame


def verdict(answer: dict[str, object]) -> bool | e.LotusXError | None:
    handshake = login(ed25519(), FakeClock(NOW))
    assert handshake is not None
    return handshake.verdict(orjson.dumps(answer))


def test_the_logon_is_session_logon_with_key_timestamp_and_window_on_the_venue_clock() -> None:
    """session.logon carries apiKey, recvWindow and timestamp (the clock's, in ms), then the signature."""
    frame = logon_frame()
    params = frame["params"]
    assert frame["method"] == "session.logon" and isinstance(params, dict)
    assert list(params) == ["apiKey", "recvWindow", "timestamp", "signature"]
    assert (params["apiKey"], params["recvWindow"], params["timestamp"]) == (KEY, 5000, int(NOW * 1000))


def test_the_logons_signature_verifies_with_the_public_key_over_its_sorted_params() -> None:
    """The signature is Ed25519 over apiKey=..&recvWindow=..&timestamp=.., verifiable with the public key."""
    params = logon_frame()["params"]
    assert isinstance(params, dict)
    payload = f"apiKey={KEY}&recvWindow=5000&timestamp={int(NOW * 1000)}".encode()
    verify = SigningKey(SEED).verify_key
    assert verify.verify(payload, base64.b64decode(params["signature"])) == payload


def test_the_logon_frame_carries_no_secret() -> None:
    """The seed is not on the wire, in hex or base64."""
    handshake = login(ed25519(), FakeClock(NOW))
    assert handshake is not None
    text = handshake.message()
    assert SEED.hex() not in text and base64.b64encode(SEED).decode() not in text


def test_an_hmac_key_does_not_log_on() -> None:
    """Only Ed25519 keys are supported for session.logon: an HMAC key has no login (per-call signatures)."""
    assert login(hmac(), FakeClock(NOW)) is None


def test_a_200_answer_to_the_logon_accepts_it() -> None:
    """status 200 with the logon's id: logged on."""
    frame = logon_frame()
    assert verdict({"id": frame["id"], "status": 200, "result": {"apiKey": KEY}}) is True


def test_frames_that_do_not_answer_the_logon_are_not_its_verdict() -> None:
    """An answer with another id, an event: not the logon's answer."""
    assert verdict({"id": 7, "status": 200, "result": {}}) is None
    assert verdict({"event": {"e": "serverShutdown", "E": 1}}) is None


@pytest.mark.parametrize(("status", "code", "kind"), [
    (400, -1022, e.InvalidSignature), (401, -2015, e.AuthenticationError), (401, -2014, e.AuthenticationError),
    (400, -1021, e.TimestampOutOfWindow)])
def test_a_refused_logon_is_the_typed_refusal(status: int, code: int, kind: type[e.LotusXError]) -> None:
    """The refusal's code maps as over REST: a bad signature, a bad key, a timestamp off the window."""
    frame = logon_frame()
    refusal = verdict({"id": frame["id"], "status": status, "error": {"code": code, "msg": "refused"}})
    assert type(refusal) is kind and isinstance(refusal, e.LotusXError) and refusal.code == code


def test_a_refused_logons_text_shows_no_signature_or_secret() -> None:
    """The error names the logon and the venue's message, not the frame that was sent."""
    frame = logon_frame()
    params = frame["params"]
    assert isinstance(params, dict)
    refusal = verdict({"id": frame["id"], "status": 400, "error": {"code": -1022, "msg": "bad"}})
    assert params["signature"] not in str(refusal) and SEED.hex() not in str(refusal)
    assert "session.logon" in str(refusal)


def test_after_logon_an_order_call_carries_timestamp_and_window_only() -> None:
    """An Ed25519 key's WS API call: no apiKey, no signature, still timestamp and recvWindow."""
    signed = ws_api_signer(ed25519()).sign(place(), 1_700_000_000_000)
    params = dict(signed.query)
    assert "apiKey" not in params and "signature" not in params
    assert (params["timestamp"], params["recvWindow"]) == ("1700000000000", "5000")
    assert signed.headers == ()


def test_an_hmac_keys_order_call_is_signed_per_call_as_before() -> None:
    """HMAC keys cannot log on: apiKey and signature on every call, as today."""
    signed = ws_api_signer(hmac()).sign(place(), 1_700_000_000_000)
    assert [name for name, _ in signed.query][-1] == "signature" and dict(signed.query)["apiKey"] == KEY


def test_a_call_that_stays_on_rest_is_signed_as_rest_with_an_ed25519_key() -> None:
    """Depth, account...: not in METHODS, REST's signature and key header, logon or not."""
    request = Request(method="GET", path=ep.ACCOUNT.path, endpoint=ep.ACCOUNT)
    signer = WsApiSigner(QueryEd25519(KEY, SigningKey(SEED), recv_window=5000), logged_on=True)
    signed = signer.sign(request, 1_700_000_000_000)
    assert "signature" in dict(signed.query) and signed.header("X-MBX-APIKEY") == KEY


def test_the_signer_logs_on_exactly_for_ed25519_keys() -> None:
    """The signer and the login decide alike: Ed25519 logs on, HMAC signs each call."""
    assert ws_api_signer(ed25519()).logged_on and not ws_api_signer(hmac()).logged_on
    assert not WsApiSigner(QueryHmac(KEY, "s" * 64)).logged_on


def test_an_id_null_401_drops_the_connection() -> None:
    """The revoked session's answer: {"id": null, "status": 401, "error": {"code": -2015}} (API key revocation)."""
    revoked = b'{"id":null,"status":401,"error":{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}}'
    assert Codec().drops(revoked) and Codec().drops(revoked.decode())


def test_an_answer_with_its_id_does_not_drop_the_connection() -> None:
    """A call's own 401 refusal, a 200, an event: the connection stays."""
    codec = Codec()
    assert not codec.drops(b'{"id":3,"status":401,"error":{"code":-2015,"msg":"Invalid API-key"}}')
    assert not codec.drops(b'{"id":3,"status":200,"result":{}}')
    assert not codec.drops(b'{"id":null,"status":400,"error":{"code":-1102,"msg":"bad"}}')
    assert not codec.drops(b'{"event":{"e":"serverShutdown","E":1}}')


def test_a_connection_that_logs_on_is_charged_the_logons_weight_too() -> None:
    """Connecting costs 2 weight ("IP limits") and session.logon 2 ("Weight: 2"): 4, with the connection's slot."""
    trading = BINANCE.ws_trading
    assert trading is not None and trading.login_connect is not None
    assert dict(trading.login_connect.costs) == {"WS_API_CONNECTIONS": 1, "REQUEST_WEIGHT": 4}
    assert dict(trading.connect.costs) == {"WS_API_CONNECTIONS": 1, "REQUEST_WEIGHT": 2}


def test_a_frame_that_is_not_json_is_not_the_logons_verdict() -> None:
    """Garbage on the socket before the answer: not a verdict (WsRpc waits on for the real one, within its timeout)."""
    handshake = login(ed25519(), FakeClock(NOW))
    assert handshake is not None
    assert handshake.verdict(b"not json") is None


def test_a_refusal_whose_error_is_unreadable_is_still_a_typed_refusal() -> None:
    """A 401 whose error object fails to decode: a typed error naming the logon, never an acceptance or a wait."""
    refused = verdict({"id": logon_frame()["id"], "status": 401, "error": "garbled"})
    assert isinstance(refused, e.LotusXError) and "session.logon" in str(refused)


def test_a_frame_that_only_looks_like_a_revocation_does_not_drop_the_connection() -> None:
    """Text holding '"status":401' that is not a JSON answer (a push, a cut frame): the connection stays."""
    assert not Codec().drops(b'{"id":null,"status":401')

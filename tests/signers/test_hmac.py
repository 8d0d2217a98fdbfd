"""HMAC-SHA256 signer families checked against published vectors."""

from __future__ import annotations

import json

import pytest

from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Request
from lotusx.signers import BinanceHmac, BybitHmac, HeaderHmac, QueryEd25519, QueryHmac, binance_signer, hmac_sha256_hex
from lotusx.signers.query import query_payload

# Example key pair published in binance/binance-spot-api-docs rest-api.md,
# "SIGNED Endpoint Examples for POST /api/v3/order" / "HMAC Keys".
BINANCE_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BINANCE_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
BINANCE_TS = 1499827319559
ORDER = (("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
         ("quantity", "1"), ("price", "0.1"))


def order_request(*query: tuple[str, str], body: bytes | None = None, method: str = "POST") -> Request:
    return Request(method=method, path="/api/v3/order", query=query, body=body)


class TestBinanceQueryFamily:
    def test_ascii_example_matches_published_signature(self) -> None:
        """rest-api.md HMAC example 1 (ASCII symbol): c8db5682... over the query as sent."""
        signed = BinanceHmac(BINANCE_KEY, BINANCE_SECRET, recv_window=5000).sign(order_request(*ORDER), BINANCE_TS)
        assert signed.query_string == (
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
            "&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")

    def test_non_ascii_symbol_is_signed_percent_encoded(self) -> None:
        """rest-api.md HMAC example 2 (symbol in fullwidth digits 1-6): signed over %EF%BC%91..., e1353ec6..."""
        query = (("symbol", "\uff11\uff12\uff13\uff14\uff15\uff16"), *ORDER[1:])
        signed = BinanceHmac(BINANCE_KEY, BINANCE_SECRET, recv_window=5000).sign(order_request(*query), BINANCE_TS)
        assert signed.query_string.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
        assert signed.query[-1] == ("signature", "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3")

    def test_mixed_query_and_body_payload_has_no_separator(self) -> None:
        """rest-api.md (before 2025-12) example 3, mixed query and body: 0fd168b8..."""
        request = order_request(*ORDER[:4], body=b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
        payload = query_payload(request)
        assert payload == (b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
                           b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
        assert hmac_sha256_hex(BINANCE_SECRET, payload) == (
            "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")

    def test_body_is_part_of_the_signed_payload(self) -> None:
        """A body changes the signature: the venue signs query string + body."""
        signer = BinanceHmac(BINANCE_KEY, BINANCE_SECRET)
        bare = signer.sign(order_request(*ORDER[:4]), BINANCE_TS)
        with_body = signer.sign(order_request(*ORDER[:4], body=b"quantity=1"), BINANCE_TS)
        assert dict(bare.query)["signature"] != dict(with_body.query)["signature"]

    def test_timestamp_only_vector_from_binance_connector_python(self) -> None:
        """binance/binance-connector-python tests/lib/test_authentication.py: timestamp=1578963600000."""
        signed = BinanceHmac(BINANCE_KEY, BINANCE_SECRET).sign(order_request(method="GET"), 1578963600000)
        assert signed.query == (
            ("timestamp", "1578963600000"),
            ("signature", "d84e6641b1e328e7b418fff030caed655c266299c9355e36ce801ed14631eed4"))

    def test_signature_is_the_last_query_parameter(self) -> None:
        """The signature is appended after every other parameter, timestamp included."""
        signed = BinanceHmac(BINANCE_KEY, BINANCE_SECRET, recv_window=5000).sign(order_request(*ORDER), 1)
        assert [k for k, _ in signed.query][-3:] == ["recvWindow", "timestamp", "signature"]

    def test_timestamp_is_the_given_one(self) -> None:
        """The signer never reads a clock: the timestamp is exactly ``timestamp_ms``."""
        signed = BinanceHmac(BINANCE_KEY, BINANCE_SECRET).sign(order_request(*ORDER), 1234567890123)
        assert dict(signed.query)["timestamp"] == "1234567890123"

    def test_no_recv_window_unless_configured(self) -> None:
        """recvWindow is only sent when the signer is configured with one."""
        signed = BinanceHmac(BINANCE_KEY, BINANCE_SECRET).sign(order_request(*ORDER), BINANCE_TS)
        assert "recvWindow" not in dict(signed.query)

    def test_api_key_goes_in_the_configured_header(self) -> None:
        """X-MBX-APIKEY by default; another header name is plain configuration."""
        default = BinanceHmac(BINANCE_KEY, BINANCE_SECRET).sign(order_request(), 1)
        custom = QueryHmac("k" * 8, "s" * 8, key_header="X-API-KEY").sign(order_request(), 1)
        assert default.header("X-MBX-APIKEY") == BINANCE_KEY
        assert custom.header("X-API-KEY") == "k" * 8

    def test_special_characters_are_signed_as_sent(self) -> None:
        """Reserved characters are percent-encoded once, and the signature covers that encoding."""
        signer = BinanceHmac(BINANCE_KEY, BINANCE_SECRET)
        signed = signer.sign(order_request(("newClientOrderId", "a b&c=d+e/f")), BINANCE_TS)
        sent = signed.query_string.rsplit("&signature=", 1)[0]
        assert sent == "newClientOrderId=a%20b%26c%3Dd%2Be%2Ff&timestamp=1499827319559"
        assert dict(signed.query)["signature"] == hmac_sha256_hex(BINANCE_SECRET, sent.encode())

    def test_original_request_is_unchanged(self) -> None:
        """Signing returns a new request; the unsigned original stays as it was."""
        original = order_request(*ORDER, body=b"x=1")
        BinanceHmac(BINANCE_KEY, BINANCE_SECRET, recv_window=5000).sign(original, BINANCE_TS)
        assert original.query == ORDER and original.headers == () and original.body == b"x=1"

    def test_repr_never_shows_key_or_secret(self) -> None:
        """repr shows the configuration only."""
        text = repr(BinanceHmac(BINANCE_KEY, BINANCE_SECRET, recv_window=5000))
        assert BINANCE_SECRET not in text and BINANCE_KEY not in text
        assert "recv_window=5000" in text and "X-MBX-APIKEY" in text


# Bybit v5 publishes the payload recipe but no signature value: the request shapes below are
# the examples of https://bybit-exchange.github.io/docs/v5/guide ("Authentication"), and each
# expected hex was computed independently with `echo -n "<payload>" | openssl dgst -sha256 -hmac YYYYYYYYYY`.
BYBIT_KEY = "XXXXXXXXXX"
BYBIT_SECRET = "YYYYYYYYYY"


class TestBybitHeaderFamily:
    def test_get_signs_timestamp_key_window_and_query(self) -> None:
        """GET: HMAC over "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"."""
        request = Request(method="GET", path="/v5/order/realtime",
                          query=(("category", "option"), ("symbol", "BTC-29JUL22-25000-C")))
        signed = BybitHmac(BYBIT_KEY, BYBIT_SECRET).sign(request, 1658384314791)
        assert signed.header("X-BAPI-SIGN") == "37813c67fafb3017e92354eb88f218e7e52a98f9f5eb74cfcf0b21f17edb143b"

    def test_post_signs_the_raw_json_body(self) -> None:
        """POST: HMAC over timestamp + key + window + the JSON body bytes as sent."""
        body = (b'{"category":"option","symbol":"BTC-29JUL22-25000-C","orderType":"Limit",'
                b'"side":"Buy","qty":"0.1","price":"2000"}')
        request = Request(method="POST", path="/v5/order/create", body=body)
        signed = BybitHmac(BYBIT_KEY, BYBIT_SECRET).sign(request, 1658385579135)
        assert signed.header("X-BAPI-SIGN") == "c08a370acd7c65d2352a86b5fa84fca86ebfa3a1121846a11dba272eeefcf590"
        assert signed.body == body and signed.query == ()

    def test_all_auth_headers_are_set(self) -> None:
        """Key, timestamp, recv window, signature and sign type 2 headers; query untouched."""
        request = Request(method="GET", path="/v5/account/info", query=(("a", "1"),))
        signed = BybitHmac(BYBIT_KEY, BYBIT_SECRET, recv_window=3000).sign(request, 1700000000000)
        assert signed.header("X-BAPI-API-KEY") == BYBIT_KEY
        assert signed.header("X-BAPI-TIMESTAMP") == "1700000000000"
        assert signed.header("X-BAPI-RECV-WINDOW") == "3000"
        assert signed.header("X-BAPI-SIGN-TYPE") == "2"
        assert signed.query == (("a", "1"),)

    def test_delete_signs_the_query(self) -> None:
        """DELETE is signed like GET, over its query string."""
        signer = HeaderHmac(BYBIT_KEY, BYBIT_SECRET)
        request = Request(method="DELETE", path="/x", query=(("id", "1"),), body=b"ignored")
        assert signer.payload(request, 1) == b"1XXXXXXXXXX5000id=1"

    def test_ws_auth_signs_get_realtime_and_expires(self) -> None:
        """WS auth: hex HMAC of "GET/realtime1662350400000" (openssl dgst, as above)."""
        message = BybitHmac(BYBIT_KEY, BYBIT_SECRET).ws_auth(1662350400000)
        assert message == {"op": "auth", "args": [
            BYBIT_KEY, 1662350400000, "9c4c0629fddfee26ca0da50a7fed51968fce6935d34b02e772d3bd0c34327bd1"]}
        assert json.loads(json.dumps(message)) == message

    def test_original_request_is_unchanged(self) -> None:
        """Signing returns a new request; the unsigned original keeps no auth headers."""
        original = Request(method="GET", path="/v5/x", query=(("a", "1"),))
        BybitHmac(BYBIT_KEY, BYBIT_SECRET).sign(original, 1)
        assert original.headers == ()

    def test_repr_never_shows_key_or_secret(self) -> None:
        """repr shows header names and the window, never key or secret."""
        text = repr(BybitHmac("bybit-key-123", "bybit-secret-456"))
        assert "bybit-key-123" not in text and "bybit-secret-456" not in text
        assert "recv_window=5000" in text


class TestBinanceSignerChoice:
    def test_hmac_secret_gives_hmac_signer(self) -> None:
        """A plain secret string selects the HMAC query family."""
        signer = binance_signer(Credentials(BINANCE_KEY, BINANCE_SECRET), recv_window=5000)
        assert isinstance(signer, QueryHmac) and signer.recv_window == 5000

    def test_pem_secret_gives_ed25519_signer(self) -> None:
        """A PKCS#8 PEM secret selects the Ed25519 query family."""
        pem = ("-----BEGIN PRIVATE KEY-----\n"
               "MC4CAQAwBQYDK2VwBCIEIE4rJ0goma1nbu1d8T1dp//0pe40jnf8tghwRhsSY4Bk\n"
               "-----END PRIVATE KEY-----")
        assert isinstance(binance_signer(Credentials("some-api-key", pem)), QueryEd25519)


@pytest.mark.parametrize("signer", [BinanceHmac("k" * 8, "s" * 8), BybitHmac("k" * 8, "s" * 8)])
def test_signing_is_deterministic(signer: QueryHmac | HeaderHmac) -> None:
    """Same request and timestamp give the same signed request (pure function)."""
    request = order_request(*ORDER)
    assert signer.sign(request, 42) == signer.sign(request, 42)


def test_a_keyed_template_signs_like_the_secret_and_stays_unchanged() -> None:
    """hmac_sha256_hex gives the same hex for a secret and its keyed template, however often used."""
    import hashlib
    import hmac

    from lotusx.signers.hmac import hmac_sha256_hex, keyed

    template, payload = keyed("s3cret"), b"symbol=BTCUSDT&timestamp=1"
    expected = hmac.new(b"s3cret", payload, hashlib.sha256).hexdigest()
    assert [hmac_sha256_hex(template, payload) for _ in range(3)] == [expected] * 3
    assert hmac_sha256_hex("s3cret", payload) == expected
    assert "s3cret" not in repr(BinanceHmac("key", "s3cret")) and "HMAC" not in repr(BinanceHmac("key", "s3cret"))

"""Binance request security: signatures (HMAC and Ed25519), API keys and the timing window.

Vectors: binance/binance-spot-api-docs, rest-api.md, "SIGNED Endpoint Examples for POST
/api/v3/order - HMAC Keys" (apiKey vmPUZE6..., secretKey NhqPtmd...): example 1 signs the query
string, example 3 the query string directly followed by the body (no "&" between them).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest
from nacl.signing import SigningKey
from sim_helpers import Binance, body, now_ms

from lotusx.sim import Sim, SimConfig, serve
from lotusx.sim.binance_guard import ed25519_valid, hmac_valid, split_signature
from lotusx.testing import FakeClock

DOCS_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOCS_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOCS_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
              "&timestamp=1499827319559")
DOCS_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOCS_MIXED_QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
DOCS_MIXED_BODY = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOCS_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_docs_hmac_vector_is_accepted() -> None:
    """The documented query-string example verifies."""
    assert hmac_valid(DOCS_SECRET, DOCS_QUERY, DOCS_SIGNATURE)


def test_docs_mixed_vector_is_accepted() -> None:
    """The documented query-plus-body example verifies over the concatenation."""
    assert hmac_valid(DOCS_SECRET, DOCS_MIXED_QUERY + DOCS_MIXED_BODY, DOCS_MIXED_SIGNATURE)


def test_hmac_is_case_insensitive_and_rejects_tampering() -> None:
    """Upper-case hex passes (the docs allow it); one changed parameter fails."""
    assert hmac_valid(DOCS_SECRET, DOCS_QUERY, DOCS_SIGNATURE.upper())
    assert not hmac_valid(DOCS_SECRET, DOCS_QUERY.replace("price=0.1", "price=0.2"), DOCS_SIGNATURE)


def test_ed25519_verification() -> None:
    """A base64 Ed25519 signature verifies against its public key only, and garbage is rejected."""
    key = SigningKey(bytes(range(32)))
    signature = base64.b64encode(key.sign(b"a=1").signature).decode()
    assert ed25519_valid(bytes(key.verify_key), "a=1", signature)
    assert not ed25519_valid(bytes(key.verify_key), "a=2", signature)
    assert not ed25519_valid(bytes(key.verify_key), "a=1", "not base64!")


def test_split_signature_removes_and_decodes_the_parameter() -> None:
    """The signature parameter is cut out of the payload and percent-decoded."""
    assert split_signature("a=1&signature=x%2By&b=2") == ("a=1&b=2", "x+y")
    assert split_signature("") == ("", None)


@pytest.fixture
async def docs_sim() -> AsyncIterator[Sim]:
    """A Binance sim frozen 300 ms after the docs' timestamp that also accepts the docs' key."""
    clock = FakeClock(start=1499827319.859, auto_advance=False)
    async with serve(("binance",), seed=1, config=SimConfig(driver_rate=0), clock=clock) as running:
        running.venue("binance").add_hmac_key(DOCS_KEY, DOCS_SECRET)
        yield running


async def test_docs_request_passes_security_end_to_end(docs_sim: Sim, http: aiohttp.ClientSession) -> None:
    """The exact documented request passes signature and timing (LTCBTC is simply not listed here)."""
    resp = await http.post(f"{docs_sim.rest_url('binance')}/api/v3/order?{DOCS_QUERY}&signature={DOCS_SIGNATURE}",
                           headers={"X-MBX-APIKEY": DOCS_KEY})
    assert (resp.status, await body(resp)) == (400, {"code": -1121, "msg": "Invalid symbol."})


async def test_docs_mixed_request_passes_security_end_to_end(docs_sim: Sim, http: aiohttp.ClientSession) -> None:
    """Query string plus form body, signed over their concatenation, is accepted."""
    resp = await http.post(f"{docs_sim.rest_url('binance')}/api/v3/order?{DOCS_MIXED_QUERY}",
                           data=f"{DOCS_MIXED_BODY}&signature={DOCS_MIXED_SIGNATURE}",
                           headers={"X-MBX-APIKEY": DOCS_KEY, "Content-Type": "application/x-www-form-urlencoded"})
    assert (await body(resp))["code"] == -1121


async def test_tampered_docs_request_is_rejected(docs_sim: Sim, http: aiohttp.ClientSession) -> None:
    """Changing the price after signing gives -1022."""
    tampered = DOCS_QUERY.replace("price=0.1", "price=0.2")
    resp = await http.post(f"{docs_sim.rest_url('binance')}/api/v3/order?{tampered}&signature={DOCS_SIGNATURE}",
                           headers={"X-MBX-APIKEY": DOCS_KEY})
    assert (resp.status, await body(resp)) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})


async def test_wrong_secret_is_invalid_signature(binance: Binance) -> None:
    """A request signed with another secret is -1022."""
    resp = await binance.signed("GET", "/api/v3/account", secret="not-the-secret")
    assert (await body(resp))["code"] == -1022


async def test_missing_api_key_is_bad_key_format(binance: Binance) -> None:
    """No X-MBX-APIKEY header is -2014 (HTTP 401)."""
    resp = await binance.http.get(f"{binance.base}/api/v3/account?timestamp={now_ms()}&signature=00")
    assert (resp.status, (await body(resp))["code"]) == (401, -2014)


async def test_unknown_api_key_is_rejected(binance: Binance) -> None:
    """An unknown key is -2015 (HTTP 401)."""
    resp = await binance.signed("GET", "/api/v3/account", key="unknown")
    assert (resp.status, await body(resp)) == (401, {"code": -2015,
                                                     "msg": "Invalid API-key, IP, or permissions for action."})


async def test_missing_signature_is_mandatory_parameter(binance: Binance) -> None:
    """A signed endpoint without ``signature`` is -1102."""
    resp = await binance.http.get(f"{binance.base}/api/v3/account?timestamp={now_ms()}",
                                  headers={"X-MBX-APIKEY": binance.key})
    assert (await body(resp))["code"] == -1102


async def test_timestamp_older_than_recv_window_is_rejected(binance: Binance) -> None:
    """A timestamp more than recvWindow behind server time is -1021."""
    resp = await binance.signed("GET", "/api/v3/account", timestamp=now_ms() - 6_000)
    assert await body(resp) == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}


async def test_larger_recv_window_admits_older_timestamp(binance: Binance) -> None:
    """The same old timestamp passes with recvWindow=10000."""
    resp = await binance.signed("GET", "/api/v3/account", timestamp=now_ms() - 6_000, recvWindow=10_000)
    assert resp.status == 200


async def test_timestamp_ahead_of_server_is_rejected(binance: Binance) -> None:
    """A timestamp 1000 ms or more ahead of server time is -1021."""
    resp = await binance.signed("GET", "/api/v3/account", timestamp=now_ms() + 3_000)
    ahead = "Timestamp for this request was 1000ms ahead of the server's time."
    assert await body(resp) == {"code": -1021, "msg": ahead}


async def test_recv_window_above_maximum_is_rejected(binance: Binance) -> None:
    """recvWindow above 60000 is -1131."""
    resp = await binance.signed("GET", "/api/v3/account", recvWindow=60_001)
    assert (await body(resp))["code"] == -1131


async def test_missing_timestamp_is_mandatory_parameter(binance: Binance) -> None:
    """A signed call without timestamp is -1102."""
    resp = await binance.signed("GET", "/api/v3/account", timestamp="")
    assert (await body(resp))["code"] == -1102


async def test_ed25519_key_signs_an_order(sim: Sim, http: aiohttp.ClientSession) -> None:
    """The sim's Ed25519 key pair places an order with a base64, URL-encoded signature."""
    keys = sim.api_keys("binance")
    assert keys.ed25519_key and keys.ed25519_private_key
    signing = SigningKey(base64.b64decode(keys.ed25519_private_key))
    payload = f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=40000&timestamp={now_ms()}"
    signature = quote(base64.b64encode(signing.sign(payload.encode()).signature).decode(), safe="")
    resp = await http.post(f"{sim.rest_url('binance')}/api/v3/order", data=f"{payload}&signature={signature}",
                           headers={"X-MBX-APIKEY": keys.ed25519_key,
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert (resp.status, (await body(resp))["status"]) == (200, "NEW")


def test_fake_clock_is_frozen() -> None:
    """The docs fixture relies on a clock that does not move by itself."""
    clock = FakeClock(start=1.0, auto_advance=False)
    time.sleep(0.001)
    assert clock.time() == 1.0

"""The sim's Binance WS API session authentication (web-socket-api.md "Session Authentication",
"Log in with API key (SIGNED)", "Query session status", "Log out of the session", "Regarding API key revocation")."""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey
from sim_helpers import next_json, now_ms

from lotusx.signers.hmac import hmac_sha256_hex
from lotusx.sim import Sim

LIMIT_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
             "price": "40000"}


def payload(params: dict[str, Any]) -> bytes:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items())).encode()


class Conn:
    """One /ws-api/v3 connection, sending raw requests."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, sim: Sim) -> None:
        self.ws, self.keys, self.ids = ws, sim.api_keys("binance"), itertools.count()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        request_id = next(self.ids)
        await self.ws.send_json({"id": request_id, "method": method, "params": params})
        while (reply := await next_json(self.ws)).get("id") != request_id:
            pass
        result: dict[str, Any] = reply
        return result

    def ed25519_signed(self, **params: Any) -> dict[str, Any]:
        params = {"apiKey": self.keys.ed25519_key, "timestamp": now_ms()} | params
        seed = base64.b64decode(self.keys.ed25519_private_key or "")
        signature = SigningKey(seed).sign(payload(params)).signature
        return params | {"signature": base64.b64encode(signature).decode()}

    def hmac_signed(self, **params: Any) -> dict[str, Any]:
        params = {"apiKey": self.keys.hmac_key, "timestamp": now_ms()} | params
        return params | {"signature": hmac_sha256_hex(self.keys.hmac_secret, payload(params))}


@pytest.fixture
async def conn(sim: Sim, http: aiohttp.ClientSession) -> AsyncIterator[Conn]:
    async with http.ws_connect(sim.ws_url("binance") + "/ws-api/v3") as ws:
        yield Conn(ws, sim)


async def test_an_ed25519_logon_is_accepted_and_names_its_key(conn: Conn) -> None:
    """session.logon signed with the Ed25519 key: 200, the result names the key and when it was authorized."""
    reply = await conn.call("session.logon", **conn.ed25519_signed())
    assert reply["status"] == 200, reply
    assert reply["result"]["apiKey"] == conn.keys.ed25519_key and reply["result"]["authorizedSince"] is not None


async def test_a_logon_with_a_forged_signature_is_minus_1022(conn: Conn) -> None:
    """A signature that does not verify with the key's public key: 400 -1022, not logged on."""
    params = conn.ed25519_signed() | {"signature": base64.b64encode(bytes(64)).decode()}
    reply = await conn.call("session.logon", **params)
    assert (reply["status"], reply["error"]["code"]) == (400, -1022)
    assert (await conn.call("session.status"))["result"]["apiKey"] is None


async def test_an_hmac_keys_logon_is_refused(conn: Conn) -> None:
    """"Only Ed25519 keys are supported": an HMAC key's logon is refused (-1002), its session stays anonymous."""
    reply = await conn.call("session.logon", **conn.hmac_signed())
    assert (reply["status"], reply["error"]["code"]) == (401, -1002)
    assert (await conn.call("session.status"))["result"]["apiKey"] is None


async def test_a_stale_logon_is_minus_1021(conn: Conn) -> None:
    """The logon's timestamp is checked as any SIGNED request's."""
    reply = await conn.call("session.logon", **conn.ed25519_signed(timestamp=now_ms() - 60_000))
    assert (reply["status"], reply["error"]["code"]) == (400, -1021)


async def test_after_logon_an_order_without_key_or_signature_is_placed(conn: Conn, sim: Sim) -> None:
    """Logged on: order.place with timestamp and recvWindow only is the key's account's order."""
    await conn.call("session.logon", **conn.ed25519_signed())
    reply = await conn.call("order.place", **LIMIT_BUY, timestamp=now_ms(), recvWindow=5000,
                            newClientOrderId="logged-on")
    assert reply["status"] == 200, reply
    assert [o.client_id for o in sim.engine("binance").orders_of("user")] == ["logged-on"]


async def test_after_logon_a_call_still_needs_its_timestamp(conn: Conn) -> None:
    """"You still have to specify the timestamp": without it, -1102; with a stale one, -1021."""
    await conn.call("session.logon", **conn.ed25519_signed())
    missing = await conn.call("order.place", **LIMIT_BUY)
    stale = await conn.call("order.place", **LIMIT_BUY, timestamp=now_ms() - 60_000)
    assert (missing["error"]["code"], stale["error"]["code"]) == (-1102, -1021)


async def test_without_logon_a_call_without_key_is_refused(conn: Conn, sim: Sim) -> None:
    """Not logged on: apiKey is mandatory (-1102, errors.md), nothing placed."""
    reply = await conn.call("order.place", **LIMIT_BUY, timestamp=now_ms())
    assert (reply["status"], reply["error"]["code"]) == (400, -1102) and "apiKey" in reply["error"]["msg"]
    assert sim.engine("binance").orders_of("user") == []


async def test_logout_forgets_the_key(conn: Conn) -> None:
    """session.logout: the status shows no key, and an unsigned call is refused again."""
    await conn.call("session.logon", **conn.ed25519_signed())
    assert (await conn.call("session.logout"))["result"]["apiKey"] is None
    reply = await conn.call("order.place", **LIMIT_BUY, timestamp=now_ms())
    assert reply["error"]["code"] == -1102


async def test_a_key_removed_during_the_session_revokes_it_with_an_id_null_401(conn: Conn, sim: Sim) -> None:
    """The next request after the key went: {"id": null, "status": 401, "error": {"code": -2015}}; nothing placed."""
    await conn.call("session.logon", **conn.ed25519_signed())
    sim.revoke_key("binance", conn.keys.ed25519_key or "")
    await conn.ws.send_json({"id": 99, "method": "order.place", "params": LIMIT_BUY | {"timestamp": now_ms()}})
    reply = await next_json(conn.ws)
    assert (reply["id"], reply["status"], reply["error"]["code"]) == (None, 401, -2015)
    assert sim.engine("binance").orders_of("user") == []


async def test_the_logon_weighs_2(conn: Conn) -> None:
    """"Weight: 2": the logon's rateLimits count 2 more than the connection's."""
    first = await conn.call("time")
    logon = await conn.call("session.logon", **conn.ed25519_signed())
    before = next(e["count"] for e in first["rateLimits"] if e["rateLimitType"] == "REQUEST_WEIGHT")
    after = next(e["count"] for e in logon["rateLimits"] if e["rateLimitType"] == "REQUEST_WEIGHT")
    assert after - before == 2

"""The Sign layer: signs signed endpoints only, at the injected clock's time, afresh each call."""

from __future__ import annotations

from lotusx.kernel.errors import ServerError
from lotusx.kernel.message import Endpoint, Request, Response
from lotusx.kernel.service import Service, stack
from lotusx.layers.sign import Sign
from lotusx.signers import BinanceHmac
from lotusx.testing import FakeClock, FakeTransport, ScriptedService

SIGNED = Endpoint("new_order", method="POST", path="/api/v3/order", signed=True)
PUBLIC = Endpoint("depth", path="/api/v3/depth")
SIGNER = BinanceHmac("sign-layer-key", "sign-layer-secret", recv_window=5000)


def order() -> Request:
    return Request(method="POST", path="/api/v3/order", query=(("symbol", "BTCUSDT"),), endpoint=SIGNED)


def ok(_: Request) -> Response:
    return Response(status=200, body=b"{}")


async def test_signed_endpoint_is_signed_with_clock_time_in_ms() -> None:
    """The timestamp is int(clock.time() * 1000) of the injected clock."""
    transport = FakeTransport(ok)
    await Sign(SIGNER, clock=FakeClock(start=1_700_000_000.1234))(transport)(order())
    sent = transport.requests[0]
    assert dict(sent.query)["timestamp"] == "1700000000123"
    assert sent == SIGNER.sign(order(), 1700000000123)


async def test_unsigned_endpoint_passes_through_untouched() -> None:
    """A public endpoint reaches the inner service exactly as given."""
    transport = FakeTransport(ok)
    request = Request(method="GET", path="/api/v3/depth", query=(("symbol", "BTCUSDT"),), endpoint=PUBLIC)
    await Sign(SIGNER, clock=FakeClock())(transport)(request)
    assert transport.requests == [request]


async def test_each_call_is_signed_afresh() -> None:
    """Two calls with the same unsigned request at different times get different stamps and signatures."""
    clock = FakeClock()
    transport = FakeTransport(ok)
    service = Sign(SIGNER, clock=clock)(transport)
    await service(order())
    await clock.sleep(0.25)
    await service(order())
    first, second = (dict(r.query) for r in transport.requests)
    assert int(second["timestamp"]) - int(first["timestamp"]) == 250
    assert first["signature"] != second["signature"]


async def test_retry_reentering_gets_a_new_timestamp_and_signature() -> None:
    """An outer retry that re-sends the original request has every attempt re-signed."""
    clock = FakeClock()
    inner = ScriptedService([ServerError("boom"), Response(status=200)])

    def retry_once(service: Service) -> Service:  # a minimal outer layer: one re-send after a pause
        async def call(request: Request) -> Response:
            try:
                return await service(request)
            except ServerError:
                await clock.sleep(1.0)
                return await service(request)
        return call

    response = await stack(retry_once, Sign(SIGNER, clock=clock))(inner)(order())
    assert response.status == 200
    first, second = (dict(r.query) for r in inner.requests)
    assert int(second["timestamp"]) == int(first["timestamp"]) + 1000
    assert first["signature"] != second["signature"]
    assert [k for k, _ in inner.requests[1].query].count("signature") == 1


async def test_caller_request_is_not_modified() -> None:
    """The request the caller holds is still unsigned after the call."""
    request = order()
    await Sign(SIGNER, clock=FakeClock())(FakeTransport(ok))(request)
    assert request.query == (("symbol", "BTCUSDT"),) and request.headers == ()


def test_repr_shows_config_but_no_secret() -> None:
    """repr(Sign(...)) names the signer config and clock, never key or secret."""
    text = repr(Sign(SIGNER, clock=FakeClock()))
    assert text.startswith("Sign(signer=QueryHmac(") and "recv_window=5000" in text
    assert "sign-layer-key" not in text and "sign-layer-secret" not in text




"""Outbound sends as kernel requests through a layer stack."""

from lotusx.kernel.message import Request, Response
from lotusx.kernel.service import Service, around, stack
from lotusx.testing import FakeWs
from lotusx.ws.outbound import WS_SEND, sender, session_service


class TestOutbound:
    async def test_text_payload_is_sent_as_text(self) -> None:
        """A str payload reaches the socket as the same str."""
        ws = FakeWs()
        await ws.connect()
        await sender(ws, stack())('{"op":"subscribe"}')
        assert ws.sent == ['{"op":"subscribe"}']

    async def test_binary_payload_stays_binary(self) -> None:
        """A bytes payload reaches the socket as bytes."""
        ws = FakeWs()
        await ws.connect()
        await sender(ws, stack())(b"\x00\x01")
        assert ws.sent == [b"\x00\x01"]

    async def test_layers_see_a_request_with_the_ws_endpoint(self) -> None:
        """Every send passes the stack as a Request whose endpoint charges WS_MESSAGES."""
        seen: list[Request] = []

        async def record(request: Request, call_next: Service) -> Response:
            seen.append(request)
            return await call_next(request)

        ws = FakeWs()
        await ws.connect()
        await sender(ws, stack(around(record)))("hi")
        assert seen[0].body == b"hi"
        assert seen[0].endpoint is WS_SEND
        assert dict(WS_SEND.costs) == {"WS_MESSAGES": 1}

    async def test_a_layer_can_hold_back_a_send(self) -> None:
        """A layer that short-circuits (a throttle refusing) means nothing is sent."""
        async def refuse(request: Request, call_next: Service) -> Response:
            return Response(status=429)

        ws = FakeWs()
        await ws.connect()
        await sender(ws, stack(around(refuse)))("hi")
        assert ws.sent == []

    async def test_service_answers_200(self) -> None:
        """The innermost service returns a synthetic 200 once the message is on the socket."""
        ws = FakeWs()
        await ws.connect()
        response = await session_service(ws)(Request(method="SEND", path="ws", body=b"x"))
        assert response.status == 200

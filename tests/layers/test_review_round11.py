"""Review round 11: the REST kernel's safety (params on the wire, retry, clock)."""

from __future__ import annotations

import enum

from lotusx.kernel.client import RestClient
from lotusx.kernel.message import Response
from lotusx.testing import FakeTransport


class Side(str, enum.Enum):  # noqa: UP042 (the str mixin users write, not StrEnum)
    BUY = "BUY"


async def test_a_str_enum_parameter_is_sent_as_its_value_in_the_query_as_in_a_json_body() -> None:
    """A str-mixin Enum parameter goes on the wire as its value ('BUY'), never as 'Side.BUY'."""
    transport = FakeTransport(lambda request: Response(status=200, body=b"{}"))
    client = RestClient(transport)
    await client.get("/api/v3/order", {"symbol": "BTCUSDT", "side": Side.BUY})
    await client.post("/api/v3/order", {"side": Side.BUY}, params={"side": Side.BUY})
    assert [r.query_string for r in transport.requests] == ["symbol=BTCUSDT&side=BUY", "side=BUY"]
    assert transport.requests[1].body == b'{"side":"BUY"}'

"""A Bybit refusal saying a topic is "already subscribed" means it is subscribed, not rejected."""

from __future__ import annotations

import orjson
import pytest
from aiohttp import web

from lotusx.exchanges.bybit.endpoints import SPOT
from lotusx.exchanges.bybit.streams import Control, bybit_frames, public_dialect
from lotusx.kernel.errors import SubscriptionRejected
from lotusx.metrics import Metrics
from lotusx.transport import AiohttpWs
from lotusx.ws import ReconnectWs
from tests.conftest import ServeApp

pytestmark = pytest.mark.timeout(30)


class PerTopicVenue:
    """A public stream that, like Bybit, takes a request's good topics and names its first bad or repeated one."""

    def __init__(self, bad: set[str]) -> None:
        self.bad = bad
        self.requests: list[list[str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.get(SPOT.public_path, self.stream)])
        return app

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        topics: set[str] = set()
        async for msg in ws:
            op = orjson.loads(msg.data)
            if op.get("op") != "subscribe":
                continue
            self.requests.append(op["args"])
            errors = []
            for topic in op["args"]:
                if topic in self.bad:
                    errors.append(f"error:handler not found,topic:{topic}")
                elif topic in topics:
                    errors.append(f"error:already subscribed,topic:{topic}")
                else:
                    topics.add(topic)
            await ws.send_str(orjson.dumps({"success": not errors, "ret_msg": errors[0] if errors else "",
                                            "op": "subscribe", "req_id": op["req_id"], "conn_id": "c"}).decode())
        return ws


def test_an_already_subscribed_refusal_is_an_acceptance() -> None:
    """The dialect reads "already subscribed" as the topic being subscribed."""
    ack = public_dialect(SPOT).ack
    assert ack is not None
    taken = Control("subscribe", False, "error:already subscribed,topic:publicTrade.BTCUSDT", "7")
    refused = Control("subscribe", False, "error:handler not found,topic:x", "8")
    assert ack(taken) == (7, True, None)
    assert ack(refused) == (8, False, "error:handler not found,topic:x")


async def test_good_topics_a_venue_took_from_a_refused_request_stay_subscribed(serve_app: ServeApp) -> None:
    """Halving a refused request re-sends topics the venue already took: they are kept, only the bad one is named."""
    venue = PerTopicVenue(bad={"publicTrade.NOPEUSDT"})
    server = await serve_app(venue.app())
    url = f"ws://127.0.0.1:{server.port}{SPOT.public_path}"
    topics = ["publicTrade.BTCUSDT", "publicTrade.NOPEUSDT", "publicTrade.ETHUSDT"]
    async with ReconnectWs(lambda: AiohttpWs(url), frames=bybit_frames(Metrics()), dialect=public_dialect(SPOT)) as ws:
        with pytest.raises(SubscriptionRejected, match="NOPEUSDT"):
            await ws.subscribe(topics)
        assert ws.stats.streams == 2
    assert venue.requests[0] == topics and len(venue.requests) > 1

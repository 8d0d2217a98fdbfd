"""Review round 21: a transport, or a connector, used from an event loop other than the one it pooled in.

pytest-asyncio runs each test in a new loop: a connector kept at module level and reused by a
later test is used from a second loop, its pool's sockets still bound to the first.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lotusx import ConfigError, Request
from lotusx.transport import AiohttpRest


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the first loop leaves a pooled socket behind

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    """A loopback HTTP server on a thread of its own: both event loops reach it alive."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("first_loop_closed", [True, False])
def test_a_call_from_another_event_loop_is_a_config_error(url: str, first_loop_closed: bool) -> None:
    """Not aiohttp's RuntimeError ("Event loop is closed", "Timeout context manager ..."): a ConfigError saying why."""
    transport = AiohttpRest(url, timeout=5)

    async def call() -> int:
        return (await transport(Request(method="GET", path="/x"))).status

    first = asyncio.new_event_loop()
    try:
        assert first.run_until_complete(call()) == 200
        if first_loop_closed:
            first.close()
        with pytest.raises(ConfigError, match="another event loop"):
            asyncio.run(asyncio.wait_for(call(), 5))
    finally:
        if not first.is_closed():
            first.run_until_complete(transport.aclose())
            first.close()

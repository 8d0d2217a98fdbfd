"""AiohttpWs review 23, over loopback: an upgrade answered 403 is a block to wait out, not a failed connect.

Binance's 403 is its WAF ("a rate limit violation or a security block", rest-api.md); Bybit's is
"IP rate limit breached" or a U.S. IP (docs/v5/error, HTTP Code).
"""

from __future__ import annotations

import pytest

from lotusx import IpBanned
from lotusx.transport import AiohttpWs
from tests.conftest import ServeApp
from tests.transport.test_aiohttp_ws_review12 import refuse_upgrade


@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "120"}, 120.0), ({}, None)])
async def test_an_upgrade_refused_with_403_is_an_ip_ban(serve_app: ServeApp, headers: dict[str, str],
                                                        retry_after: float | None) -> None:
    """A 403 on the upgrade is IpBanned carrying its Retry-After seconds (None without one), status 403."""
    server = await serve_app(refuse_upgrade(403, headers))
    ws = AiohttpWs(str(server.make_url("/ws")).replace("http://", "ws://"))
    with pytest.raises(IpBanned) as raised:
        await ws.connect()
    assert (type(raised.value), raised.value.retry_after, raised.value.status) == (IpBanned, retry_after, 403)


async def test_a_403_upgrade_error_names_no_query_string(serve_app: ServeApp) -> None:
    """The ban's text names host and path, never the URL's query (a listenKey, a token)."""
    server = await serve_app(refuse_upgrade(403, {}))
    url = str(server.make_url("/ws")).replace("http://", "ws://") + "?listenKey=s3cr3tk3y"
    with pytest.raises(IpBanned) as raised:
        await AiohttpWs(url).connect()
    assert "s3cr3tk3y" not in f"{raised.value} {raised.value!r}" and raised.value.__context__ is None

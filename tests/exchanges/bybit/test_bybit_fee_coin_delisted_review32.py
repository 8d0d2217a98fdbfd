"""The settle coin of a contract no longer Trading: instruments-info lists only Trading symbols unless asked.

docs/v5/market/instrument.mdx, request parameter ``status``: "`linear` & `inverse` & `spot` By default
returns only `Trading` symbols"; docs/v5/enum.mdx "status": PreLaunch, Trading, Delivering, Closed, and
"execType" ``Delivery``: "USDT futures delivery; Position closed due to delisting". A delisted or
delivered contract's last fills (its Delivery among them) name no fee coin on the execution list
(docs/v5/order/execution.mdx's linear example: ``"feeCurrency": ""``), so the connector must find its
settle coin among the symbols not Trading too.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

from bybit_helpers import ETHPERP, KEY, NOW_MS, SECRET, Venue, answer, ethperp_execution

import lotusx
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport

DELIVERY = {**ethperp_execution(NOW_MS - 1000), "execType": "Delivery", "orderType": "UNKNOWN"}
"""ETHPERP's position closed by its delisting: an execution of type Delivery, no fee coin named."""


def _venue(status: str, asked: list[Request]) -> FakeTransport:
    """A venue where ETHPERP has ``status``: instruments-info lists it only when asked for that status."""
    def instruments(request: Request) -> Response:
        asked.append(request)
        wanted = parse_qs(request.query_string).get("status", ["Trading"])[0]
        rows = [{**ETHPERP, "status": status}] if wanted == status else []
        return answer({"category": "linear", "list": rows, "nextPageCursor": ""})

    executions = lambda request: answer({"category": "linear", "list": [DELIVERY], "nextPageCursor": ""})  # noqa: E731
    return FakeTransport(Venue(FakeClock(NOW_MS / 1000), market_instruments_info=instruments,
                               execution_list=executions))


async def fills_of(status: str, asked: list[Request]) -> list[lotusx.Fill]:
    async with lotusx.connect("bybit-linear", credentials=lotusx.Credentials(api_key=KEY, secret=SECRET),
                              clock=FakeClock(NOW_MS / 1000), transport=_venue(status, asked)) as ex:
        return await ex.get_fills("ETHPERP", since=NOW_MS - 60_000)


async def test_a_delisted_contracts_delivery_fill_pays_in_its_settle_coin() -> None:
    """ETHPERP Closed: its Delivery fill is listed with fee_asset USDC, not a ProtocolError."""
    [fill] = await fills_of("Closed", [])
    assert (fill.symbol, fill.fee, fill.fee_asset) == ("ETHPERP", Decimal("0.071409"), "USDC")


async def test_a_delivering_contracts_fill_pays_in_its_settle_coin() -> None:
    """ETHPERP Delivering (settling now): its fill is listed with fee_asset USDC."""
    [fill] = await fills_of("Delivering", [])
    assert fill.fee_asset == "USDC"


async def test_a_trading_contract_is_asked_once_without_status() -> None:
    """A Trading symbol is found by the default listing: one request, no status asked."""
    asked: list[Request] = []
    await fills_of("Trading", asked)
    assert [r.query_string for r in asked] == ["category=linear&symbol=ETHPERP&limit=1000"]

"""Sim fidelity: what the venues refuse, the sim refuses, with the venues' own codes and shapes.

Facts from binance/binance-spot-api-docs (rest-api.md "New order": mandatory parameters per type;
errors.md -1102, -1106 and "Filter failures"; filters.md NOTIONAL; user-data-stream.md
executionReport "C") and bybit-exchange/docs (v5/order/create-order orderLinkId; v5/error Spot
Trade 170134, 170137, 170140 and UTA 110094; v5/market/instrument minOrderAmt, minNotionalValue).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from sim_helpers import Binance, Bybit, body

from lotusx.sim import Sim

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
         "price": "40000"}


async def place(binance: Binance, **params: Any) -> dict[str, Any]:
    """POST /api/v3/order: a resting LIMIT buy unless ``params`` say otherwise (None drops a parameter)."""
    order = {k: v for k, v in (LIMIT | params).items() if v is not None}
    result: dict[str, Any] = await body(await binance.signed("POST", "/api/v3/order", **order))
    return result


async def create(bybit: Bybit, **params: Any) -> dict[str, Any]:
    """POST /v5/order/create: a resting spot limit buy unless ``params`` say otherwise."""
    order = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
             "price": "40000"} | params
    result: dict[str, Any] = await body(await bybit.signed("POST", "/v5/order/create", **order))
    return result


# ===== Binance: parameters per order type =====

@pytest.mark.parametrize("missing", ["price", "quantity"])
async def test_binance_limit_without_price_or_quantity_is_a_missing_parameter(binance: Binance, missing: str) -> None:
    """A LIMIT order lacking price or quantity is -1102 naming it, not a -1013 filter failure."""
    assert await place(binance, **{missing: None}) == {
        "code": -1102, "msg": f"Mandatory parameter '{missing}' was not sent, was empty/null, or malformed."}


async def test_binance_market_without_any_size_is_a_missing_parameter(binance: Binance) -> None:
    """A MARKET order with neither quantity nor quoteOrderQty is -1102 naming both."""
    assert await place(binance, type="MARKET", timeInForce=None, price=None, quantity=None) == {
        "code": -1102, "msg": "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"}


@pytest.mark.parametrize(("params", "name"), [
    ({"type": "MARKET", "price": None}, "timeInForce"),
    ({"type": "MARKET", "timeInForce": None}, "price"),
    ({"type": "MARKET", "timeInForce": None, "price": None, "quoteOrderQty": "100"}, "quantity"),
    ({"type": "LIMIT_MAKER"}, "timeInForce"),
    ({"quoteOrderQty": "100"}, "quoteOrderQty"),
])
async def test_binance_a_parameter_the_type_does_not_take_is_refused(binance: Binance, params: dict[str, Any],
                                                                     name: str) -> None:
    """timeInForce or price on a MARKET order, timeInForce on a LIMIT_MAKER and the like are -1106."""
    assert await place(binance, **params) == {"code": -1106, "msg": f"Parameter '{name}' sent when not required."}


# ===== Binance: filters =====

async def test_binance_exchange_info_lists_the_notional_filter(binance: Binance) -> None:
    """exchangeInfo lists a NOTIONAL filter of 5 USDT next to PRICE_FILTER and LOT_SIZE."""
    info = await body(await binance.public("/api/v3/exchangeInfo"))
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    notional = next(f for f in btc["filters"] if f["filterType"] == "NOTIONAL")
    assert (notional["minNotional"], notional["applyMinToMarket"]) == ("5.00000000", True)


@pytest.mark.parametrize("params", [
    {"quantity": "0.0001", "price": "40000"},
    {"type": "MARKET", "timeInForce": None, "price": None, "quantity": "0.00001"},
    {"type": "MARKET", "timeInForce": None, "price": None, "quantity": None, "quoteOrderQty": "4.99"},
])
async def test_binance_an_order_worth_less_than_min_notional_is_a_filter_failure(binance: Binance,
                                                                                 params: dict[str, Any]) -> None:
    """An order worth under 5 USDT (limit at its price, market at the last price or its quote) is -1013 NOTIONAL."""
    assert await place(binance, **params) == {"code": -1013, "msg": "Filter failure: NOTIONAL"}


async def test_binance_an_order_worth_min_notional_is_accepted(binance: Binance) -> None:
    """An order worth exactly 5 USDT passes the NOTIONAL filter."""
    assert (await place(binance, quantity="0.0001", price="50000"))["status"] == "NEW"


@pytest.mark.parametrize(("params", "failure"), [
    ({"price": "1000000.01", "quantity": "0.001"}, "PRICE_FILTER"),
    ({"quantity": "9000.00001", "price": "0.01"}, "LOT_SIZE"),
])
async def test_binance_past_max_price_or_max_qty_is_a_filter_failure(binance: Binance, params: dict[str, Any],
                                                                      failure: str) -> None:
    """A price above maxPrice or a quantity above maxQty (as exchangeInfo lists them) is -1013."""
    assert await place(binance, **params) == {"code": -1013, "msg": f"Filter failure: {failure}"}


# ===== Binance: cancel ids =====

async def test_binance_cancel_answers_with_the_cancels_own_client_id(binance: Binance) -> None:
    """DELETE /api/v3/order names the cancel by its newClientOrderId, the order by origClientOrderId."""
    await place(binance, newClientOrderId="order-1")
    cancelled = await body(await binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT",
                                                origClientOrderId="order-1", newClientOrderId="cancel-1"))
    assert (cancelled["clientOrderId"], cancelled["origClientOrderId"]) == ("cancel-1", "order-1")


async def test_binance_cancel_report_names_the_cancel_in_c_and_the_order_in_big_c(
        sim: Sim, binance: Binance, http: aiohttp.ClientSession) -> None:
    """A CANCELED executionReport carries the cancel's client id in "c" and the cancelled order's in "C"."""
    listen_key = (await body(await http.post(binance.base + "/api/v3/userDataStream",
                                             headers={"X-MBX-APIKEY": binance.key})))["listenKey"]
    async with http.ws_connect(f"{sim.ws_url('binance')}/ws/{listen_key}") as ws:
        await place(binance, newClientOrderId="order-2")
        await binance.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="order-2",
                             newClientOrderId="cancel-2")
        while (event := orjson.loads((await ws.receive(timeout=5)).data)).get("x") != "CANCELED":
            pass
    assert (event["c"], event["C"]) == ("cancel-2", "order-2")


# ===== Bybit =====

@pytest.mark.parametrize(("params", "code", "msg"), [
    ({"price": "40000.001"}, 170134, "Order price decimal too long."),
    ({"qty": "0.000001"}, 170137, "Order volume decimal too long"),
])
async def test_bybit_spot_precision_has_its_spot_codes(bybit: Bybit, params: dict[str, Any], code: int,
                                                        msg: str) -> None:
    """A spot price off tickSize is 170134 and a qty off basePrecision 170137, not a generic 10001."""
    answer = await create(bybit, **params)
    assert (answer["retCode"], answer["retMsg"]) == (code, msg)


@pytest.mark.parametrize(("params", "code", "msg"), [
    ({"qty": "0.0001"}, 170140, "Order value exceeded lower limit"),
    ({"orderType": "Market", "qty": "4"}, 170140, "Order value exceeded lower limit"),
    ({"category": "linear", "qty": "0.0001"}, 110094, "Order notional value below the lower limit"),
])
async def test_bybit_an_order_worth_less_than_the_minimum_is_refused(bybit: Bybit, params: dict[str, Any], code: int,
                                                                     msg: str) -> None:
    """Under 5 USDT is 170140 on spot (a Market buy's qty is quote) and 110094 on linear."""
    answer = await create(bybit, **params)
    assert (answer["retCode"], answer["retMsg"]) == (code, msg)


@pytest.mark.parametrize(("category", "field"), [("spot", "minOrderAmt"), ("linear", "minNotionalValue")])
async def test_bybit_instruments_list_the_minimum_order_value(bybit: Bybit, category: str, field: str) -> None:
    """instruments-info lists the enforced 5 USDT floor under each category's own name."""
    answer = await bybit.public("/v5/market/instruments-info", category=category, symbol="BTCUSDT")
    assert answer["result"]["list"][0]["lotSizeFilter"][field] == "5"


@pytest.mark.parametrize("link_id", ["x" * 37, "has.dot", "has:colon", "has space"])
async def test_bybit_an_order_link_id_off_the_documented_rule_is_refused(bybit: Bybit, link_id: str) -> None:
    """orderLinkId is at most 36 letters, digits, dashes and underscores; anything else is 10001."""
    assert (await create(bybit, orderLinkId=link_id))["retCode"] == 10001


async def test_bybit_a_36_character_order_link_id_is_accepted(bybit: Bybit) -> None:
    """A 36-character orderLinkId of the allowed characters places the order."""
    link_id = "A-z_09" * 6
    assert (await create(bybit, orderLinkId=link_id))["result"]["orderLinkId"] == link_id

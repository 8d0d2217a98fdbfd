"""A seeded mutation test: recorded REST answers, mutated, through every public call of both connectors.

Each mutant is one recorded answer (tests/exchanges/*/payloads) with one fault: a field removed,
null or of another JSON type, a number that is no amount ("abc", "NaN", "1e999999", 400 digits,
"0x10", " 1 ", a lone surrogate escape), an unknown field, a huge list, a duplicated key, the
body cut short, an HTML error page, an empty body, a venue error code with an odd message; served
with status 200 or one of the statuses venues answer with. Every call ends in a typed model
(every amount a finite, non-negative Decimal, no float, no empty id; a book's levels, checked as
they are read, are all read) or a ``LotusXError`` that
shows neither the key nor the secret, within a second; and a placement whose answer is neither a
clear acceptance nor a clear refusal is never reported as either: it is reconciled, or
``AmbiguousOrderState``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import orjson

import lotusx
from lotusx.kernel import errors as e
from lotusx.kernel.message import Request, Response
from lotusx.testing import FakeClock, FakeTransport
from tests.conftest import json_paths

SEED = 20261207
COUNT = 300  # mutants per venue
KEY, SECRET = "fuzzkey7f3a9c0b1d2e", "fuzzsecret4d1e08aa9b7c"
PAYLOADS = Path(__file__).parent
NOW_MS = 1_700_000_000_000
DIGITS = "9" * 400
# Written into the JSON text as they are (numbers, escapes): json.dumps cannot write them.
RAW = {"#huge": DIGITS, "#overflow": "1e999999", "#surrogate": '"\\ud800"', "#nan": "NaN"}
SPECIAL: tuple[Any, ...] = ("abc", "", "NaN", "Infinity", "-1", "1e999999", DIGITS, "0x10", " 1 ", "-0", "1_0",
                            "#surrogate", "#huge", "#overflow", "#nan", None, True, 0, -1, 1.5, [], {}, ["1", "2"])
STATUSES = (400, 403, 404, 409, 429, 500, 502, 503, 504)
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
ODD_MESSAGES = ("", "\u00e9\u4e2d\U0001f600", "x" * 5000, "null", "{}", "Unknown order sent.", "insufficient balance")
# Bybit's 10004 echoes the string it signed, the key within (docs/v5/error); Binance echoes nothing.
ECHO = f"error sign! origin_string[{NOW_MS}{KEY}5000category=spot]"


def recorded(venue: str, name: str) -> Any:
    return orjson.loads((PAYLOADS / venue / "payloads" / name).read_bytes())


def dumps(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for mark, raw in RAW.items():
        text = text.replace(f'"{mark}"', raw)
    return text.encode()


def other_type(value: Any) -> Any:
    """``value`` as another JSON type: a number as a string and back, a list as an object and back."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return 7
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return "x"


def mutate_value(rng: random.Random, answer: Any) -> bytes:
    """One field of a copy of ``answer`` changed, removed, duplicated, or one added."""
    copy = orjson.loads(orjson.dumps(answer))
    path = rng.choice(list(json_paths(copy, per_list=3)))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    old = parent[path[-1]]
    operation = rng.randrange(7)
    if operation == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    elif operation == 1:
        parent[path[-1]] = None
    elif operation == 2:
        parent[path[-1]] = other_type(old)
    elif operation == 3 and isinstance(parent, dict):
        parent[f"x{rng.randrange(99)}"] = rng.choice(SPECIAL)
    elif operation == 4 and isinstance(old, list) and old:
        parent[path[-1]] = old[:1] * 2_000  # a list far longer than asked
    elif operation == 5 and isinstance(parent, dict) and isinstance(path[-1], str):
        # A duplicated key: the second value is the one a JSON decoder keeps.
        text = dumps(copy).decode()
        name = json.dumps(path[-1])
        at = text.find(name + ":")
        if at >= 0:
            return (text[:at] + f"{name}:{json.dumps(rng.choice(SPECIAL))}," + text[at:]).encode()
    else:
        parent[path[-1]] = rng.choice(SPECIAL)
    return dumps(copy)


def mutant(rng: random.Random, venue: str, answer: Any) -> Response:
    """One mutant answer: its body, its status."""
    kind = rng.randrange(12)
    good = dumps(answer)
    if kind < 7:
        body = mutate_value(rng, answer)
    elif kind == 7:
        body = good[:rng.randrange(len(good))]
    elif kind == 8:
        body = HTML
    elif kind == 9:
        body = b""
    elif venue == "bybit":  # an error envelope, as Bybit sends them with HTTP 200
        code = rng.choice((10001, 10004, 10006, 10016, 110001, 110072, 170131, 99999, -1, 429, 0))
        body = dumps({"retCode": code, "retMsg": rng.choice((*ODD_MESSAGES, ECHO)), "result": {}, "retExtInfo": {},
                      "time": NOW_MS})
    else:
        code = rng.choice((-1000, -1003, -1013, -1021, -1022, -2010, -2011, -2013, -2015, -9999))
        body = dumps({"code": code, "msg": rng.choice(ODD_MESSAGES)})
    status = 200 if rng.random() < 0.6 else rng.choice(STATUSES)
    if venue == "binance" and kind >= 10:
        status = rng.choice((400, 403, 404, 409, 429))  # Binance sends its error codes with a 4xx
    return Response(status=status, body=body)


@dataclass(frozen=True)
class Case:
    """One public call and the (method, path) whose answer it reads."""

    name: str
    route: tuple[str, str]
    answer: Any
    call: Callable[[Any], Awaitable[Any]]
    others: dict[tuple[str, str], Response] = field(default_factory=dict)


def ok(body: Any) -> Response:
    return Response(status=200, body=dumps(body))


BUY = lotusx.NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal(10), client_order_id="cid-fuzz")
BYBIT_BUY = lotusx.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.01"),
                            price=Decimal(50000), client_order_id="cid-fuzz")
WITHDRAWAL = lotusx.Withdrawal(asset="USDT", address="addr", amount=Decimal(10), network="TRX")


def binance_cases() -> list[Case]:
    absent = {("GET", "/api/v3/order"): Response(status=400, body=b'{"code":-2013,"msg":"Order does not exist."}')}
    return [
        Case("get_server_time", ("GET", "/api/v3/time"), {"serverTime": NOW_MS}, lambda ex: ex.get_server_time()),
        Case("get_order_book", ("GET", "/api/v3/depth"), recorded("binance", "depth.json"),
             lambda ex: ex.get_order_book("LTCBTC", depth=5)),
        Case("get_ticker", ("GET", "/api/v3/ticker/bookTicker"), recorded("binance", "book_ticker.json"),
             lambda ex: ex.get_ticker("LTCBTC")),
        Case("get_trades", ("GET", "/api/v3/trades"), recorded("binance", "trades.json"),
             lambda ex: ex.get_trades("LTCBTC", limit=1)),
        Case("place_order", ("POST", "/api/v3/order"), recorded("binance", "order_result.json"),
             lambda ex: ex.place_order(BUY), absent),
        Case("place_order_full", ("POST", "/api/v3/order"), recorded("binance", "order_full.json"),
             lambda ex: ex.place_order(BUY), absent),
        Case("get_order", ("GET", "/api/v3/order"), recorded("binance", "query_order.json"),
             lambda ex: ex.get_order("LTCBTC", order_id=1)),
        Case("cancel_order", ("DELETE", "/api/v3/order"), recorded("binance", "cancel_order.json"),
             lambda ex: ex.cancel_order("LTCBTC", order_id=4),
             {("GET", "/api/v3/order"): ok(recorded("binance", "query_order.json"))}),
        Case("get_open_orders", ("GET", "/api/v3/openOrders"), recorded("binance", "open_orders.json"),
             lambda ex: ex.get_open_orders("LTCBTC")),
        Case("get_order_history", ("GET", "/api/v3/allOrders"), recorded("binance", "all_orders.json"),
             lambda ex: ex.get_order_history("LTCBTC", since=NOW_MS - 3_600_000, until=NOW_MS)),
        Case("get_balances", ("GET", "/api/v3/account"), recorded("binance", "account.json"),
             lambda ex: ex.get_balances()),
        Case("withdraw", ("POST", "/sapi/v1/capital/withdraw/apply"), recorded("binance", "withdraw_apply.json"),
             lambda ex: ex.withdraw(WITHDRAWAL)),
        Case("get_withdrawals", ("GET", "/sapi/v1/capital/withdraw/history"),
             recorded("binance", "withdraw_history.json"), lambda ex: ex.get_withdrawals("USDT")),
    ]


def bybit_result(name: str, **changes: Any) -> Any:
    answer = recorded("bybit", name)
    answer["result"].update(changes)
    return answer


def bybit_cases() -> list[Case]:
    order = bybit_result("order_realtime.json", nextPageCursor="")
    order_id = order["result"]["list"][0]["orderId"]
    empty = ok({"retCode": 0, "retMsg": "OK", "result": {"list": [], "nextPageCursor": ""}, "time": NOW_MS})
    absent = {("GET", "/v5/order/realtime"): empty, ("GET", "/v5/order/history"): empty}
    return [
        Case("get_server_time", ("GET", "/v5/market/time"), recorded("bybit", "server_time.json"),
             lambda ex: ex.get_server_time()),
        Case("get_order_book", ("GET", "/v5/market/orderbook"), recorded("bybit", "orderbook.json"),
             lambda ex: ex.get_order_book("BTCUSDT", depth=1)),
        Case("get_ticker", ("GET", "/v5/market/tickers"), recorded("bybit", "tickers.json"),
             lambda ex: ex.get_ticker("BTCUSDT")),
        Case("get_trades", ("GET", "/v5/market/recent-trade"), recorded("bybit", "recent_trade.json"),
             lambda ex: ex.get_trades("BTCUSDT", limit=1)),
        Case("place_order", ("POST", "/v5/order/create"), recorded("bybit", "order_create.json"),
             lambda ex: ex.place_order(BYBIT_BUY), absent),
        Case("get_order", ("GET", "/v5/order/realtime"), order,
             lambda ex: ex.get_order("ETHUSDT", order_id=order_id), {("GET", "/v5/order/history"): empty}),
        Case("cancel_order", ("POST", "/v5/order/cancel"), bybit_result("order_cancel.json", orderId=order_id),
             lambda ex: ex.cancel_order("ETHUSDT", order_id=order_id),
             {("GET", "/v5/order/realtime"): ok(order), ("GET", "/v5/order/history"): empty}),
        Case("get_open_orders", ("GET", "/v5/order/realtime"), order, lambda ex: ex.get_open_orders("ETHUSDT")),
        Case("get_order_history", ("GET", "/v5/order/history"), order,
             lambda ex: ex.get_order_history("ETHUSDT", since=NOW_MS - 3_600_000, until=NOW_MS)),
        Case("get_balances", ("GET", "/v5/account/wallet-balance"), recorded("bybit", "wallet_balance.json"),
             lambda ex: ex.get_balances()),
        Case("withdraw", ("POST", "/v5/asset/withdraw/create"), recorded("bybit", "withdraw_create.json"),
             lambda ex: ex.withdraw(WITHDRAWAL)),
    ]


TIMES = {"/api/v3/time": ok({"serverTime": NOW_MS}), "/v5/market/time": ok(recorded("bybit", "server_time.json"))}


class Server:
    """Answers the case's route with the mutant, every other route with its recorded answer."""

    def __init__(self, case: Case, answer: Response) -> None:
        self.case, self.answer = case, answer

    def __call__(self, request: Request) -> Response:
        route = (request.method, request.path)
        if route == self.case.route:
            return self.answer
        if route in self.case.others:
            return self.case.others[route]
        return TIMES[request.path]


def values(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (field, value) inside a returned model, its book levels read."""
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            item = getattr(value, name)
            yield f"{type(value).__name__}.{name}", item
            yield from values(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from values(item)
    elif isinstance(value, list | tuple) or type(value).__name__ == "Levels":
        for item in value:
            yield "item", item
            yield from values(item)


SIGNED = {"Balance.free"}  # Bybit: walletBalance - locked, below zero for a borrowed coin
# Not Order.client_order_id: a Bybit order placed on the website has an empty orderLinkId.
IDS = {"Order.order_id", "Trade.trade_id", "Balance.asset", "WithdrawalStatus.withdrawal_id"}


def check_model(name: str, result: Any) -> None:
    assert not isinstance(result, float), (name, result)
    if isinstance(result, str):
        assert result, f"{name}: an empty id"
    for where, value in values(result):
        assert not isinstance(value, float), f"{name}: {where} is a float"
        if isinstance(value, Decimal):
            assert value.is_finite() and (where in SIGNED or value >= 0), f"{name}: {where} = {value}"
        if where in IDS:
            assert isinstance(value, str) and value, f"{name}: {where} = {value!r}"


def placement_settled(answer: Response, venue: str) -> bool:
    """Whether ``answer`` to a placement is a clear acceptance or refusal by itself (else: doubt)."""
    if answer.status >= 500:
        return False
    if answer.status != 200:
        return True  # a 4xx: refused
    if venue == "bybit":
        try:
            code = msgspec.json.decode(answer.body, type=dict[str, Any]).get("retCode")
        except msgspec.DecodeError:
            return False
        return code not in (0, 10016, 429)
    return False  # a 200 that failed its schema: was it placed?


async def outcome(venue: str, case: Case, answer: Response) -> Any:
    """What ``case``'s call gives when its answer is ``answer``: a result, or the exception raised."""
    credentials = lotusx.Credentials(api_key=KEY, secret=SECRET)
    async with lotusx.connect(venue, credentials=credentials, transport=FakeTransport(Server(case, answer)),
                              clock=FakeClock(NOW_MS / 1000)) as ex:
        try:
            result = await asyncio.wait_for(case.call(ex), timeout=1.0)
            if isinstance(result, lotusx.OrderBook):  # its levels are checked as they are read
                [*result.bids, *result.asks]  # noqa: B018
        except Exception as error:
            return error
        return result


def run(venue: str, cases: list[Case]) -> Counter[str]:
    rng, seen = random.Random(f"{SEED}-{venue}"), Counter[str]()
    for number in range(COUNT):
        case = rng.choice(cases)
        answer = mutant(rng, venue, case.answer)
        label = f"{venue} mutant {number} {case.name}: {answer.status} {answer.body[:300]!r}"
        # A loop of its own: connectors of a venue on one loop share its rate budget and bans (a
        # mutant's 418 would refuse the next mutants' calls before they reach their answer).
        result = asyncio.run(outcome(venue, case, answer))
        if isinstance(result, e.LotusXError):
            shown = f"{result!s} {result!r} {result.venue_message}"
            assert KEY not in shown and SECRET not in shown, f"{label}: the key in {shown[:300]}"
            if case.name.startswith("place_order") and not placement_settled(answer, venue):
                # Retry's contract: a lookup that found nothing after the last 5xx proves the order absent.
                assert isinstance(result, e.AmbiguousOrderState | e.ServerError), (
                    f"{label}: a placement in doubt raised {result!r}")
            seen[type(result).__name__] += 1
        elif isinstance(result, Exception):
            raise AssertionError(f"{label}: raised {result!r}") from result
        else:
            check_model(label, result)
            seen["model"] += 1
    return seen


def test_every_mutated_binance_answer_is_a_model_or_a_typed_error() -> None:
    """300 seeded mutants of Binance's recorded answers through its public calls: a real model or a LotusXError."""
    seen = run("binance", binance_cases())
    assert seen["model"] > COUNT // 10 and seen["DecodeError"] > COUNT // 10, seen


def test_every_mutated_bybit_answer_is_a_model_or_a_typed_error() -> None:
    """300 seeded mutants of Bybit's recorded answers through its public calls: a real model or a LotusXError."""
    seen = run("bybit", bybit_cases())
    assert seen["model"] > COUNT // 10 and seen["DecodeError"] > COUNT // 10, seen

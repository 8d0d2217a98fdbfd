"""The connector decodes Binance's own documented payloads (payloads/README.md) into exact models.

REST payloads are served through ``lotusx.connect(..., transport=FakeTransport(...))`` so the
public methods' decoding and field mapping run as in production; stream payloads go through
the connector's frame pipelines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import lotusx
from lotusx.exchanges.binance import Binance
from lotusx.exchanges.binance import schemas as s
from lotusx.exchanges.binance.streams import USER_DIALECT, Answer, market_frames, subscribed, user_frames
from lotusx.kernel.credentials import Credentials
from lotusx.kernel.message import Request, Response
from lotusx.metrics import Metrics
from lotusx.models import NewOrder, Withdrawal
from lotusx.testing import FakeClock, FakeTransport
from lotusx.ws import Malformed

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


class Recorded:
    """Answers each request with the recorded payload ``route`` names (server time for /time)."""

    def __init__(self) -> None:
        self.body = b"{}"

    def __call__(self, request: Request) -> Response:
        if request.path == "/api/v3/time":
            return Response(status=200, body=b'{"serverTime": 1700000000000}')
        return Response(status=200, body=self.body)


@pytest.fixture
def recorded() -> Recorded:
    """The recorded-payload server; set ``.body`` before each call."""
    return Recorded()


@pytest.fixture
async def ex(recorded: Recorded) -> AsyncIterator[Binance]:
    """A connector whose transport answers with ``recorded``."""
    async with lotusx.connect("binance", credentials=Credentials("k" * 64, "s" * 64),
                              transport=FakeTransport(recorded), clock=FakeClock(1_700_000_000.0)) as connector:
        yield connector


def exact(value: Decimal, text: str) -> bool:
    """Same number *and* same digits as the venue sent (no float round trip, no normalisation)."""
    return isinstance(value, Decimal) and value.as_tuple() == Decimal(text).as_tuple()


async def test_depth(ex: Binance, recorded: Recorded) -> None:
    """depth.json -> OrderBook with the snapshot's update id and exact levels."""
    recorded.body = payload("depth.json")
    book = await ex.get_order_book("LTCBTC", depth=5)
    assert book.sequence == 1027024
    assert book.bids == [(Decimal("4.00000000"), Decimal("431.00000000"))]
    assert exact(book.asks[0][0], "4.00000200") and exact(book.asks[0][1], "12.00000000")


async def test_book_ticker(ex: Binance, recorded: Recorded) -> None:
    """book_ticker.json -> Ticker with exact best bid and ask."""
    recorded.body = payload("book_ticker.json")
    ticker = await ex.get_ticker("LTCBTC")
    assert ticker.symbol == "LTCBTC"
    assert exact(ticker.bid, "4.00000000") and exact(ticker.bid_quantity, "431.00000000")
    assert exact(ticker.ask, "4.00000200") and exact(ticker.ask_quantity, "9.00000000")


async def test_trades(ex: Binance, recorded: Recorded) -> None:
    """trades.json -> Trade; isBuyerMaker means the taker sold."""
    recorded.body = payload("trades.json")
    (trade,) = await ex.get_trades("LTCBTC", limit=1)
    assert (trade.trade_id, trade.timestamp, trade.side) == ("28457", 1499865549590, "SELL")
    assert exact(trade.price, "4.00000100") and exact(trade.quantity, "12.00000000")


@pytest.mark.parametrize("name", ["order_result.json", "order_full.json"])
async def test_new_order_result_and_full(ex: Binance, recorded: Recorded, name: str) -> None:
    """order_result.json and order_full.json -> the same Order (FULL's fills are ignored)."""
    recorded.body = payload(name)
    order = await ex.place_order(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal(10)))
    assert (order.order_id, order.client_order_id, order.status, order.type, order.side) == (
        "28", "6gCrw2kRUAF9CvJDGP16IP", "FILLED", "MARKET", "SELL")
    assert exact(order.quantity, "10.00000000") and exact(order.filled_quantity, "10.00000000")
    assert exact(order.price, "0.00000000")
    assert (order.time_in_force, order.timestamp) == ("GTC", 1507725176595)


async def test_cancel_maps_original_client_id(ex: Binance, recorded: Recorded) -> None:
    """cancel_order.json -> the cancelled order under its *original* client id, not the cancel's."""
    recorded.body = payload("cancel_order.json")
    order = await ex.cancel_order("LTCBTC", order_id=4)
    assert (order.order_id, order.client_order_id, order.status) == ("4", "myOrder1", "CANCELED")
    assert exact(order.price, "2.00000000") and exact(order.quantity, "1.00000000")
    assert order.timestamp == 1684804350068


async def test_query_order(ex: Binance, recorded: Recorded) -> None:
    """query_order.json -> Order with the venue's short decimals kept as sent."""
    recorded.body = payload("query_order.json")
    order = await ex.get_order("LTCBTC", order_id=1)
    assert (order.order_id, order.client_order_id, order.status, order.timestamp) == (
        "1", "myOrder1", "NEW", 1499827319559)
    assert exact(order.price, "0.1") and exact(order.quantity, "1.0") and exact(order.filled_quantity, "0.0")


async def test_open_orders(ex: Binance, recorded: Recorded) -> None:
    """open_orders.json -> a list of Orders."""
    recorded.body = payload("open_orders.json")
    (order,) = await ex.get_open_orders("LTCBTC")
    assert (order.symbol, order.side, order.type, order.time_in_force) == ("LTCBTC", "BUY", "LIMIT", "GTC")
    assert exact(order.price, "0.1")


async def test_all_orders(ex: Binance, recorded: Recorded) -> None:
    """all_orders.json -> a list of Orders, asked for one window with the page size the venue allows."""
    recorded.body = payload("all_orders.json")
    (order,) = await ex.get_order_history("LTCBTC", since=1_499_827_000_000, until=1_499_828_000_000)
    assert (order.order_id, order.status, order.timestamp) == ("1", "NEW", 1499827319559)
    assert exact(order.quantity, "1.0") and exact(order.filled_quantity, "0.0")


async def test_account(ex: Binance, recorded: Recorded) -> None:
    """account.json -> balances by asset, exact."""
    recorded.body = payload("account.json")
    balances = await ex.get_balances()
    assert list(balances) == ["BTC", "LTC"]
    assert exact(balances["BTC"].free, "4723846.89208129") and exact(balances["BTC"].locked, "0.00000000")
    assert balances["LTC"].total == Decimal("4763368.68006011")


async def test_withdraw_apply(ex: Binance, recorded: Recorded) -> None:
    """withdraw_apply.json -> the withdrawal id."""
    recorded.body = payload("withdraw_apply.json")
    assert await ex.withdraw(Withdrawal(asset="USDT", address="a", amount=Decimal(1))) == (
        "7213fea8e94b4a5593d507237e5a555b")


async def test_withdraw_history(ex: Binance, recorded: Recorded) -> None:
    """withdraw_history.json -> WithdrawalStatus; status 6 is COMPLETED."""
    recorded.body = payload("withdraw_history.json")
    (row,) = await ex.get_withdrawals("USDT")
    assert (row.withdrawal_id, row.asset, row.status, row.network) == (
        "b6ae22b3aa844210a7041aee7589627c", "USDT", "COMPLETED", "ETH")
    assert exact(row.amount, "8.91000000")
    assert row.tx_id == "0xb5ef8c13b968a406cc62a93a8bd80f9e9a906ef1b3fcf20a2e48573c17659268"


def combined(stream: str, name: str) -> bytes:
    """A recorded stream payload inside the ``/stream`` envelope."""
    return b'{"stream":"' + stream.encode() + b'","data":' + payload(name) + b"}"


def test_depth_update_stream() -> None:
    """ws_depth_update.json -> DepthUpdate with its update id range and string levels."""
    (event,) = market_frames(Metrics())(combined("bnbbtc@depth@100ms", "ws_depth_update.json"))
    assert isinstance(event, s.DepthUpdate)
    assert (event.s, event.U, event.u, event.E) == ("BNBBTC", 157, 160, 1672515782136)
    assert (event.b, event.a) == ([("0.0024", "10")], [("0.0026", "100")])


def test_depth_update_levels_are_exact_decimals_on_access() -> None:
    """DepthUpdate.bids/asks read the string levels as (Decimal, Decimal), digits kept."""
    (event,) = market_frames(Metrics())(combined("bnbbtc@depth@100ms", "ws_depth_update.json"))
    assert list(event.bids) == [(Decimal("0.0024"), Decimal("10"))]
    assert event.asks[0] == (Decimal("0.0026"), Decimal("100"))
    assert str(event.asks[0][0]) == "0.0026"


def test_trade_stream() -> None:
    """ws_trade.json -> TradeEvent with exact price and quantity."""
    (event,) = market_frames(Metrics())(combined("bnbbtc@trade", "ws_trade.json"))
    assert isinstance(event, s.TradeEvent)
    assert (event.t, event.T, event.m) == (12345, 1672515782136, True)
    assert exact(event.p, "0.001") and exact(event.q, "100")


def test_book_ticker_stream() -> None:
    """ws_book_ticker.json -> BookTickerEvent, exact."""
    (event,) = market_frames(Metrics())(combined("bnbusdt@bookTicker", "ws_book_ticker.json"))
    assert isinstance(event, s.BookTickerEvent)
    assert (event.u, event.s) == (400900217, "BNBUSDT")
    assert exact(event.b, "25.35190000") and exact(event.A, "40.66000000")


@pytest.mark.parametrize("form", ["text", "bytes", "data first"])
def test_every_form_of_a_stream_frame_decodes_alike(form: str) -> None:
    """Text, bytes (inflated gzip) and an envelope with its keys in another order give the same event."""
    frame = combined("bnbbtc@depth@100ms", "ws_depth_update.json")
    expected = market_frames(Metrics())(frame)
    if form == "text":
        frame = frame.decode()  # type: ignore[assignment]
    elif form == "data first":
        frame = orjson.dumps({"data": orjson.loads(payload("ws_depth_update.json")), "stream": "bnbbtc@depth@100ms"})
    assert market_frames(Metrics())(frame) == expected


@pytest.mark.parametrize("as_text", [False, True])
def test_one_pipeline_tells_streams_apart_frame_after_frame(as_text: bool) -> None:
    """Depth, trade, depth again, another symbol: each frame decodes as its own stream's event."""
    run = market_frames(Metrics())
    frames = [combined("bnbbtc@depth@100ms", "ws_depth_update.json"), combined("bnbbtc@trade", "ws_trade.json"),
              combined("bnbbtc@depth@100ms", "ws_depth_update.json"),
              combined("bnbusdt@bookTicker", "ws_book_ticker.json")]
    got = [type(event) for frame in frames for event in run(frame.decode() if as_text else frame)]
    assert got == [s.DepthUpdate, s.TradeEvent, s.DepthUpdate, s.BookTickerEvent]


def test_a_stream_kind_is_read_whole() -> None:
    """After a @depth frame, a @depth20 frame is not decoded as a depth diff, whatever its payload.

    (A kind we do not decode is dropped: the payload here would even fit a diff.)
    """
    run = market_frames(Metrics())
    assert isinstance(run(combined("bnbbtc@depth@100ms", "ws_depth_update.json"))[0], s.DepthUpdate)
    assert run(combined("bnbbtc@depth20@100ms", "ws_depth_update.json")) == []


def test_a_stream_frame_that_fails_its_schema_is_counted_once_and_names_its_stream() -> None:
    """A depth frame missing fields comes out as one Malformed naming its stream (a book must know
    it lost a diff), counted as one schema failure."""
    metrics = Metrics()
    bad = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1}}'
    (out,) = market_frames(metrics)(bad)
    assert isinstance(out, Malformed)
    assert (out.reason, out.stream) == ("schema", "btcusdt@depth@100ms")
    labels = {"exchange": "binance", "reason": "schema"}
    assert metrics.registry.get_sample_value("lotusx_ws_malformed_frames_total", labels) == 1


@pytest.mark.parametrize("frame", [b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTC',
                                   '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTC'])
def test_a_stream_frame_cut_short_comes_out_naming_its_stream(frame: bytes | str) -> None:
    """A frame that is not JSON, its head intact (bytes or text): one Malformed ("json") naming the
    stream its head names, counted once."""
    metrics = Metrics()
    (out,) = market_frames(metrics)(frame)
    assert isinstance(out, Malformed)
    assert (out.reason, out.stream) == ("json", "btcusdt@depth@100ms")
    labels = {"exchange": "binance", "reason": "json"}
    assert metrics.registry.get_sample_value("lotusx_ws_malformed_frames_total", labels) == 1


def test_a_frame_garbled_from_its_first_byte_names_no_stream() -> None:
    """No head to read: a Malformed without a stream, passed on all the same."""
    (out,) = market_frames(Metrics())(b'\x00{"stream":"btcusdt@depth@100ms"')
    assert isinstance(out, Malformed) and (out.reason, out.stream) == ("json", None)


def wrapped(name: str) -> bytes:
    """A recorded account event as the WebSocket API sends it: ``{"subscriptionId", "event"}``."""
    return b'{"subscriptionId":0,"event":' + payload(name) + b"}"


def test_execution_report() -> None:
    """ws_execution_report.json, as the WebSocket API wraps it -> ExecutionReport with ids, status, exact amounts."""
    (event,) = user_frames(Metrics())(wrapped("ws_execution_report.json"))
    assert isinstance(event, s.ExecutionReport)
    assert (event.s, event.c, event.S, event.o, event.f, event.X, event.i, event.C) == (
        "ETHBTC", "mUvoqJxFIILMdfAW5iGSOW", "BUY", "LIMIT", "GTC", "NEW", 4293153, "")
    assert exact(event.q, "1.00000000") and exact(event.p, "0.10264410") and exact(event.z, "0.00000000")


def test_account_position() -> None:
    """ws_account_position.json, as the WebSocket API wraps it -> AccountPosition with exact free and locked."""
    (event,) = user_frames(Metrics())(wrapped("ws_account_position.json"))
    assert isinstance(event, s.AccountPosition)
    (delta,) = event.B
    assert delta.a == "ETH" and exact(delta.f, "10000.000000") and exact(delta.l, "0.000000")


def test_a_wrapped_account_event_is_unwrapped() -> None:
    """ws_api_account_position.json ({"subscriptionId", "event"}) -> the AccountPosition inside, exact."""
    (event,) = user_frames(Metrics())(payload("ws_api_account_position.json"))
    assert isinstance(event, s.AccountPosition)
    assert [(b.a, b.f, b.l) for b in event.B] == [("BTC", Decimal("11818.00000000"), Decimal("182.00000000")),
                                                  ("USDT", Decimal("10580.00000000"), Decimal("70.00000000"))]


def test_the_subscription_answer_is_a_control_message_not_an_event() -> None:
    """ws_api_subscribed.json -> an Answer, which the dialect takes as the subscription's acceptance."""
    (answer,) = user_frames(Metrics())(payload("ws_api_subscribed.json"))
    assert answer == Answer("d3df8a21-98ea-4fe0-8f4e-0fcea5d418b7", 200) and subscribed(answer) == (True, None)
    assert Answer in USER_DIALECT.control_types  # type: ignore[operator]


def test_event_stream_terminated_is_decoded() -> None:
    """eventStreamTerminated (user-data-stream.md) decodes to its own type, which the connector acts on."""
    (event,) = user_frames(Metrics())(b'{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}')
    assert event == s.EventStreamTerminated(E=1728973001334)


@pytest.mark.parametrize("name", sorted(p.name for p in PAYLOADS.glob("*.json")))
def test_every_payload_is_json(name: str) -> None:
    """Every recorded file is plain JSON (comments stripped), so the tests above read the docs' data."""
    data: Any = orjson.loads(payload(name))
    assert data


@pytest.mark.parametrize(("event", "kind"), [
    ({"e": "balanceUpdate", "E": 1573200697110, "a": "BTC", "d": "100.00000000", "T": 1573200697068},
     s.BalanceUpdate),
    ({"e": "externalLockUpdate", "E": 1581557507324, "a": "NEO", "d": "10.00000000", "T": 1581557507268},
     s.ExternalLockUpdate),
    ({"e": "listStatus", "E": 1564035303637, "s": "ETHBTC", "g": 2, "c": "OCO", "l": "EXEC_STARTED",
      "L": "EXECUTING", "r": "NONE", "C": "F4QN4G8DlFATFlIUQ0cjdD", "T": 1564035303625,
      "O": [{"s": "ETHBTC", "i": 17, "c": "AJYsMjErWJesZvqlJCTUgL"}]}, s.ListStatus),
])
def test_documented_account_events_we_do_not_follow_are_typed_not_malformed(event: dict[str, Any],
                                                                             kind: type) -> None:
    """user-data-stream.md's balanceUpdate, externalLockUpdate and listStatus decode: none counted as malformed."""
    metrics = Metrics()
    (message,) = user_frames(metrics).run(orjson.dumps({"subscriptionId": 0, "event": event}).decode())
    assert type(message) is kind
    assert metrics.registry.get_sample_value("lotusx_ws_malformed_frames_total",
                                             {"exchange": "binance", "reason": "unknown"}) is None


def _user_event(event: dict[str, Any]) -> Any:
    (message,) = user_frames(Metrics()).run(orjson.dumps({"subscriptionId": 0, "event": event}).decode())
    return message


def test_a_user_event_both_connections_of_a_rotation_carry_has_one_identity() -> None:
    """The user dialect names each account event, so a rotation's overlap delivers it once (ws Dedup)."""
    identity = USER_DIALECT.identity
    assert identity is not None
    report = orjson.loads((PAYLOADS / "ws_execution_report.json").read_bytes())
    position = orjson.loads((PAYLOADS / "ws_api_account_position.json").read_bytes())["event"]
    for event in (report, position):
        assert identity(_user_event(event)) == identity(_user_event(dict(event))) is not None


def test_two_reports_of_one_order_are_two_events() -> None:
    """NEW then a fill of the same order (same event time even): different identities, neither dropped."""
    identity = USER_DIALECT.identity
    assert identity is not None
    new = orjson.loads((PAYLOADS / "ws_execution_report.json").read_bytes())
    fill = new | {"x": "TRADE", "X": "PARTIALLY_FILLED", "z": "0.50000000", "t": 7}
    assert identity(_user_event(new)) != identity(_user_event(fill))

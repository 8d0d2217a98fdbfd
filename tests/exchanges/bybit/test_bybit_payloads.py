"""Every schema decodes Bybit's own documented examples (payloads/README.md has the sources)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from bybit_helpers import payload

from lotusx.exchanges.bybit import schemas as s
from lotusx.exchanges.bybit.streams import BookMessage, Control, OrderMessage, TradeMessage, WalletMessage, bybit_frames
from lotusx.metrics import Metrics


def _result(name: str, kind: type) -> object:
    return msgspec.json.decode(payload(name), type=s.Envelope[kind]).result  # type: ignore[valid-type]


def test_server_time() -> None:
    """GET /v5/market/time."""
    assert _result("server_time.json", s.ServerTime) == s.ServerTime("1688639403", "1688639403423213947")


def test_orderbook() -> None:
    """GET /v5/market/orderbook keeps levels as exact strings and ``u`` as the update id."""
    book = _result("orderbook.json", s.Book)
    assert isinstance(book, s.Book)
    assert (book.s, book.u) == ("BTCUSDT", 230704)
    assert (book.b, book.a) == ([("65485.47", "47.081829")], [("65557.7", "16.606555")])


def test_orderbook_levels_are_exact_decimals_on_access() -> None:
    """Book.bids/asks give (Decimal, Decimal) levels with the venue's digits."""
    book = _result("orderbook.json", s.Book)
    assert list(book.bids) == [(Decimal("65485.47"), Decimal("47.081829"))]
    assert str(book.asks[0][0]) == "65557.7"


def test_tickers() -> None:
    """GET /v5/market/tickers: best levels as Decimals."""
    rows = _result("tickers.json", s.Rows[s.TickerRow])
    assert isinstance(rows, s.Rows)
    assert (rows.rows[0].bid1Price, rows.rows[0].ask1Size) == (Decimal("20517.96"), Decimal("1.862172"))


def test_recent_trade() -> None:
    """GET /v5/market/recent-trade."""
    rows = _result("recent_trade.json", s.Rows[s.TradeRow])
    assert isinstance(rows, s.Rows)
    trade = rows.rows[0]
    assert (trade.execId, trade.size, trade.side) == ("2100000000007764263", Decimal("0.00012"), "Buy")


def test_order_create_as_placed() -> None:
    """POST /v5/order/create decodes as a placement result."""
    placed = _result("order_create.json", s.Placed)
    assert placed == s.Placed(orderId="1321003749386327552", orderLinkId="spot-test-postonly")


def test_order_realtime_as_placed() -> None:
    """A reconcile's GET /v5/order/realtime answer decodes as a placement result too."""
    placed = _result("order_realtime.json", s.Placed)
    assert isinstance(placed, s.Placed) and placed.rows is not None
    assert placed.rows[0].orderLinkId == "test-000005"


def test_order_cancel() -> None:
    """POST /v5/order/cancel."""
    assert _result("order_cancel.json", s.OrderIds) == s.OrderIds("c6f055d9-7f21-4079-913d-e6523a9cfffa", "linear-004")


def test_order_realtime() -> None:
    """GET /v5/order/realtime rows."""
    rows = _result("order_realtime.json", s.Rows[s.OrderRow])
    assert isinstance(rows, s.Rows)
    row = rows.rows[0]
    assert (row.price, row.qty, row.cumExecQty, row.orderStatus) == (Decimal("1600.00"), Decimal("0.10"), 0, "New")


def test_wallet_balance() -> None:
    """GET /v5/account/wallet-balance (UNIFIED)."""
    wallet = _result("wallet_balance.json", s.Wallet)
    assert isinstance(wallet, s.Wallet)
    assert wallet.accounts[0].coin[0] == s.CoinBalance("BTC", Decimal(0), Decimal(0))


def test_withdraw_create() -> None:
    """POST /v5/asset/withdraw/create."""
    assert _result("withdraw_create.json", s.WithdrawId) == s.WithdrawId("10195")


def _frames(name: str) -> list[object]:
    return bybit_frames(Metrics())(payload(name))


def test_ws_orderbook_snapshot_and_delta() -> None:
    """Orderbook stream messages become typed snapshot/delta messages."""
    [snapshot], [delta] = _frames("ws_orderbook_snapshot.json"), _frames("ws_orderbook_delta.json")
    assert isinstance(snapshot, BookMessage) and isinstance(delta, BookMessage)
    assert (snapshot.kind, snapshot.data.u, snapshot.ts) == ("snapshot", 18521288, 1672304484978)
    assert (delta.kind, delta.data.u, delta.data.a[0]) == ("delta", 177400507, ("30248.70", "0"))


def test_ws_public_trade() -> None:
    """publicTrade stream."""
    [message] = _frames("ws_public_trade.json")
    assert isinstance(message, TradeMessage)
    assert (message.trades[0].i, str(message.trades[0].p), message.trades[0].S) == (
        "20f43950-d8dd-5b31-9112-a178eb6023af", "16578.50", "Buy")  # exact: the venue's digits kept


def test_ws_order() -> None:
    """Private order stream."""
    [message] = _frames("ws_order.json")
    assert isinstance(message, OrderMessage)
    assert (message.orders[0].orderStatus, message.orders[0].cumExecQty) == ("Filled", Decimal(1))


def test_ws_wallet() -> None:
    """Private wallet stream."""
    [message] = _frames("ws_wallet.json")
    assert isinstance(message, WalletMessage)
    assert message.accounts[0].coin[0].walletBalance == Decimal("0.00102964")


def test_ws_op_answers() -> None:
    """Auth, pong (public and private) and subscribe answers become Control messages."""
    answers = [m for name in ("ws_auth.json", "ws_pong_public.json", "ws_pong_private.json", "ws_subscribe.json")
               for m in _frames(name)]
    assert answers == [Control("auth", True, "", None), Control("ping", True, "pong", None),
                       Control("pong", False, "", "test"), Control("subscribe", True, "subscribe", "10001")]

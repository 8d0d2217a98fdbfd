"""The sim's fees: taken from what each side of a fill receives, paid into the ``fees`` account, nothing lost."""

from __future__ import annotations

from decimal import Decimal

from lotusx.sim.engine import FEES, Engine, Fees, Market

D = Decimal
BTC = Market("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.001"), D(50_000))


def _engine(fees: Fees) -> Engine:
    engine = Engine([BTC], lambda: 1_000, fees=fees)
    for account in ("a", "b"):
        engine.deposit(account, "BTC", D(1))
        engine.deposit(account, "USDT", D(100_000))
    return engine


def test_spot_fees_come_out_of_what_each_side_receives_and_every_asset_is_conserved() -> None:
    """The resting seller pays the maker rate in USDT, the buyer the taker rate in BTC; totals unchanged."""
    engine = _engine(Fees(maker=D("0.001"), taker=D("0.002")))
    before = engine.totals()
    engine.place("a", "BTCUSDT", "SELL", "LIMIT", quantity=D("0.5"), price=D(50_000))
    engine.place("b", "BTCUSDT", "BUY", "LIMIT", quantity=D("0.5"), price=D(50_000), tif="IOC")
    assert engine.balance("a", "USDT").free == D(100_000) + D(25_000) - D(25)
    assert engine.balance("b", "BTC").free == D(1) + D("0.5") - D("0.001")
    assert (engine.balance(FEES, "USDT").free, engine.balance(FEES, "BTC").free) == (D(25), D("0.001"))
    assert engine.totals() == before
    assert [(e.maker, e.fee, e.fee_asset) for e in engine.executions("a") + engine.executions("b")] == [
        (True, D(25), "USDT"), (False, D("0.001"), "BTC")]


def test_fees_in_quote_charge_both_sides_in_usdt() -> None:
    """A derivatives engine (``in_quote``) charges the buyer in USDT too."""
    engine = _engine(Fees(maker=D("0.001"), taker=D("0.002"), in_quote=True))
    engine.place("a", "BTCUSDT", "SELL", "LIMIT", quantity=D("0.5"), price=D(50_000))
    engine.place("b", "BTCUSDT", "BUY", "LIMIT", quantity=D("0.5"), price=D(50_000), tif="IOC")
    assert [(e.fee, e.fee_asset) for e in engine.executions("b")] == [(D(50), "USDT")]
    assert engine.balance("b", "BTC").free == D("1.5")


def test_without_fees_balances_move_by_the_trade_alone() -> None:
    """The default: no fee, no fees account, each side's execution still recorded."""
    engine = _engine(Fees())
    engine.place("a", "BTCUSDT", "SELL", "LIMIT", quantity=D("0.5"), price=D(50_000))
    engine.place("b", "BTCUSDT", "BUY", "LIMIT", quantity=D("0.5"), price=D(50_000), tif="IOC")
    assert engine.balance("b", "BTC").free == D("1.5")
    assert FEES not in engine.accounts
    assert [len(engine.executions(account)) for account in ("a", "b")] == [1, 1]

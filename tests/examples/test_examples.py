"""The example scripts run by themselves (offline, against the simulator) and print what they promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ctrl_c

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_stack.py"


def test_custom_stack_example_runs_and_exits() -> None:
    """The example prints the flat stack, the timing line and the typed response, then exits 0."""
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "stack: stack(around(add_client_tag), Timed(label='timing'), MapErrors(http_errors))" in out
    assert "[timing] GET /ticker -> 200" in out
    assert "decoded: Ticker(symbol='BTCUSDT', bid=Decimal('64999.99'), ask=Decimal('65000.01')" in out
    assert "'X-Client'" in out
    assert "spread: 0.02" in out


def run_example(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLE.parent / name), *args], capture_output=True, text=True,
                          timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize(("script", "lines"), [
    ("quickstart.py", ["requests  place_order 2xx", "retries 0"]),  # make demo's job, with its metrics summary
    ("quickstart_bybit.py", ["streamed book: best bid (Decimal("]),
])
def test_a_quickstart_runs_against_the_simulator(script: str, lines: list[str]) -> None:
    """A quickstart: book, order placed and cancelled, streamed book, and what it reports; exits 0."""
    out = run_example(script, "--seconds", "2")
    assert "simulator: REST http://127.0.0.1:" in out
    assert "placed  BUY 0.01" in out and "status=NEW" in out
    assert "status=CANCELED" in out
    assert "book updates applied" in out
    for line in lines:
        assert line in out


def test_order_book_example_resyncs_after_an_injected_gap() -> None:
    """The order book example sees the injected gap, resyncs and keeps every symbol streaming."""
    out = run_example("order_book.py")
    resynced = out.split("resynced:")[1]
    assert "ETHUSDT (sequence gap)" in resynced and "BTCUSDT" not in resynced
    assert "every symbol kept streaming: True" in out


def test_order_stream_example_reports_the_fill_the_stream_missed() -> None:
    """examples/order_stream.py: the second fill is never streamed, yet the order ends FILLED."""
    out = run_example("order_stream.py")
    assert "update NEW" in out and "update PARTIALLY_FILLED  filled 0.00200000" in out
    assert "update FILLED            filled 0.00500000" in out
    assert "user stream reconnects: 1;" in out


def test_push_stream_example_hands_depth_and_trades_to_its_handler() -> None:
    """examples/push_stream.py: the handler gets typed depth updates and trades with exact prices."""
    out = run_example("push_stream.py", "--seconds", "2")
    assert "'DepthUpdate':" in out and "'TradeEvent':" in out
    assert "last trade price: Decimal('" in out
    assert "first bid level of the last depth update: (Decimal('" in out


@pytest.mark.parametrize(("script", "running"), [
    ("quickstart.py", "streaming the maintained"),
    ("quickstart_bybit.py", "placed  BUY"),
    ("order_book.py", "after 2 s"),
    # Not "placed": from there the example ends by itself within ~0.15 s, so a Ctrl-C sent late
    # under load found it finished (status 0, or -2 killed in interpreter shutdown).
    ("order_stream.py", "following the user stream"),
    ("push_stream.py", "pushing BTCUSDT"),
    ("market_maker.py", "rules BTCUSDT"),
    ("ladder.py", "only the kill switch pulls the ladder"),
])
def test_ctrl_c_ends_an_example_at_once_without_a_traceback(script: str, running: str) -> None:
    """Ctrl-C mid-run: exit status 130 within seconds, everything closed, no traceback or unclosed-session warning."""
    status, errors, seconds = ctrl_c([sys.executable, str(EXAMPLE.parent / script)], running)
    assert status == 130, errors[-2000:]
    assert seconds < 5
    assert "Traceback" not in errors and "Unclosed" not in errors, errors[-2000:]


@pytest.mark.parametrize("script", ["quickstart.py", "quickstart_bybit.py", "push_stream.py", "market_maker.py",
                                    "ladder.py"])
@pytest.mark.parametrize("seconds", ["nan", "inf", "-1"])
def test_a_stream_time_an_example_cannot_end_by_is_a_usage_error(script: str, seconds: str) -> None:
    """--seconds nan/inf/-1: status 2 and why, at once; not a TimeoutError traceback, nor a run that never ends."""
    done = subprocess.run([sys.executable, str(EXAMPLE.parent / script), "--seconds", seconds], capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{seconds!r} is not a finite number of seconds >= 0" in done.stderr
    assert "Traceback" not in done.stderr


def quoted(out: str) -> dict[str, int]:
    """The market maker's summary line, ``... 6 requotes by amend, 7 fresh placements, 0 refused ...``, by name."""
    line = next(line for line in out.splitlines() if line.startswith("quoted "))
    names = "requotes by amend|fresh placements|refused|quotes filled away"
    return {name: int(count) for count, name in re.findall(rf"(\d+) ({names})", line)}


def requests(out: str, endpoint: str) -> int:
    """The connector's own count of ``endpoint`` requests the venue answered 2xx, from the metrics summary."""
    found = re.search(rf"requests  {endpoint} 2xx +(\d+)", out)
    return int(found.group(1)) if found else 0


def test_market_maker_example_quotes_pulls_everything_and_reports_its_fees() -> None:
    """examples/market_maker.py: rules read, quotes filled as maker, nothing left open, fees reported."""
    out = run_example("market_maker.py", "--seconds", "3")
    assert "rules BTCUSDT: tick 0.01" in out
    assert "0 open orders left" in out
    fills = out.split("fills: ")[1]
    assert int(fills.split()[0]) > 0 and "as maker" in fills
    assert "USDT" in out.split("fees: ")[1]


def test_market_maker_example_requotes_by_amending_its_quotes_not_by_placing_new_ones() -> None:
    """Binance: a move of the book is an amend (cancelReplace); a placement starts a side or replaces a quote gone."""
    out = run_example("market_maker.py", "--seconds", "3")
    counts = quoted(out)
    assert counts["requotes by amend"] > 0
    assert 2 <= counts["fresh placements"] <= 2 + counts["quotes filled away"] + counts["refused"]
    # What went on the wire, counted by the connector: a cancelReplace per amend, a place_order per fresh
    # placement, and the kill switch's cancel-all alone (the old example sent one per requote).
    assert requests(out, "cancel_replace") == counts["requotes by amend"]
    assert requests(out, "place_order") == counts["fresh placements"]
    assert re.findall(r"requests  cancel_all \dxx +(\d+)", out) == ["1"]
    assert "0 open orders left" in out


def test_market_maker_example_amends_in_place_on_bybit() -> None:
    """--venue bybit: the same quoter over Bybit spot amends its quotes (/v5/order/amend) and leaves nothing open."""
    out = run_example("market_maker.py", "--venue", "bybit", "--seconds", "3")
    assert "rules BTCUSDT: tick" in out
    counts = quoted(out)
    assert counts["requotes by amend"] > 0
    assert 2 <= counts["fresh placements"] <= 2 + counts["quotes filled away"] + counts["refused"]
    assert requests(out, "order_amend") >= counts["requotes by amend"]  # Bybit answers a gone order 200 (110001)
    assert requests(out, "order_create") == counts["fresh placements"]
    assert "0 open orders left" in out

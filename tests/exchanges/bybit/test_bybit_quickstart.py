"""examples/quickstart_bybit.py runs by itself against the embedded sim and exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "quickstart_bybit.py"


def test_quickstart_bybit_runs_and_exits() -> None:
    """Book fetched, order placed and cancelled, book streamed; exit 0 well under 30 s."""
    done = subprocess.run([sys.executable, str(EXAMPLE), "--seconds", "1"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "simulator: REST http://127.0.0.1:" in out
    assert "book: 5 bids, 5 asks" in out
    assert "placed  BUY 0.01" in out and "status=NEW" in out
    assert "status=CANCELED" in out
    updates = int(out.rsplit("book updates applied: ", 1)[1].split()[0])
    assert updates >= 1

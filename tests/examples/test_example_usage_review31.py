"""An example's option that cannot apply to the chosen venue is a usage error, said at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_ladder_ed25519_on_bybit_is_a_usage_error_without_a_traceback() -> None:
    """ladder.py --venue bybit --ed25519: status 2 and why, not a task's SystemExit traceback."""
    done = subprocess.run([sys.executable, str(EXAMPLES / "ladder.py"), "--venue", "bybit", "--ed25519"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--ed25519" in done.stderr and "binance" in done.stderr
    assert "Traceback" not in done.stderr

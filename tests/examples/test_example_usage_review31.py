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


def test_an_example_says_the_fraction_of_a_second_it_was_given() -> None:
    """push_stream.py --seconds 0.5 says 'for 0.5 s', not 'for 0 s' (nor 1.5 as 'for 2 s')."""
    done = subprocess.run([sys.executable, str(EXAMPLES / "push_stream.py"), "--seconds", "0.5"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "for 0.5 s" in done.stdout

"""examples/custom_stack.py runs by itself and shows the stack and the decoded response."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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

"""`lotusx demo` and `lotusx new-exchange`: what a new user runs first, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from lotusx.cli import main
from tests.conftest import ctrl_c

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """main() configures structlog for the command (stderr, warnings): put the tests' own back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version names the package version."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("lotusx 0.")


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_demo_runs_a_venue_against_the_simulator(venue: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Book, an order placed and cancelled, the maintained book streamed, the metrics it left; exit 0."""
    assert main(["demo", "--venue", venue, "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    assert "simulator: REST http://127.0.0.1:" in out
    assert "placed  BUY 0.01 @ " in out and "status=NEW" in out and "status=CANCELED" in out
    assert "book updates applied" in out
    assert "requests  place_order 2xx" in out or "requests  order_create 2xx" in out
    assert "retries 0" in out


def test_ctrl_c_ends_the_demo_with_status_130() -> None:
    """Ctrl-C mid-stream: status 130 at once, no traceback."""
    status, errors, seconds = ctrl_c([sys.executable, "-m", "lotusx", "demo", "--seconds", "60"], "streaming",
                                     cwd=ROOT)
    assert status == 130 and seconds < 5
    assert "Traceback" not in errors, errors[-2000:]


def test_new_exchange_writes_a_package_whose_own_tests_pass(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The package is registered through the entry points and its offline test passes as written."""
    assert main(["new-exchange", "acme-fx", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "lotusx-acme-fx"
    assert f"wrote {root}/" in capsys.readouterr().out
    assert 'acme-fx = "lotusx_acme_fx:VENUE"' in (root / "pyproject.toml").read_text()
    assert "class AcmeFx:" in (root / "lotusx_acme_fx" / "connector.py").read_text()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(root)])}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout


@pytest.mark.parametrize(("name", "says"), [
    ("Acme Fx", "use lower-case letters, digits and single dashes"),
    ("binance", "a venue named 'binance' is already installed"),
    ("acme", "already exists: remove it or pick another directory"),
])
def test_new_exchange_refuses_with_status_2(name: str, says: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A bad or taken name, or a directory already there (never overwritten): status 2 and why, on stderr."""
    (tmp_path / "lotusx-acme").mkdir()
    assert main(["new-exchange", name, "--dir", str(tmp_path)]) == 2
    assert says in capsys.readouterr().err
